import Foundation
import NIOCore
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTestSupport
import SQLiteNIO
import Testing

/// The hospital policy's chart on a real SQLite file (WAL), audited into an SQLite audit file.
struct SQLiteRecordsWorld {
    static let fields = [
        "demographics", "contact", "insurance", "problems", "medications", "allergies", "vitals", "labs",
        "immunizations", "billing",
    ]

    struct Teams: CareTeamDirectory {
        func isOnCareTeam(subjectID: String, patientID: String) -> Bool {
            patientID == "p-1" && ["u-physician", "u-nurse-team"].contains(subjectID)
        }
    }

    let path: String
    let engine: AccessEngine
    let encryptor: FieldEncryptor
    let chainKey: AuditChainKey
    let auditSink: SQLiteAuditSink
    let log: AuditLog
    let schema: RecordSchema
    let store: SQLiteRecordStore
    let records: GuardedRecords
    let emergency: EmergencyAccess

    init(directory: URL) async throws {
        path = directory.appendingPathComponent("records.sqlite").path
        let yaml = try String(
            contentsOf: Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital.yaml"),
            encoding: .utf8)
        engine = AccessEngine(
            policy: try CompiledPolicy(yaml: yaml), clock: ManualClock(Date(timeIntervalSince1970: 1_800_000_000)),
            careTeams: Teams())
        encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
        chainKey = try AuditChainKey.generate()
        auditSink = try await SQLiteAuditSink.open(path: directory.appendingPathComponent("audit.sqlite").path)
        log = try await AuditLog(sink: auditSink, chainKey: chainKey, signingKey: try AuditSigningKey.generate())
        schema = try RecordSchema(
            resourceType: "chart", table: "charts", fields: Self.fields.map { RecordField.encrypted($0) })
        store = try await SQLiteRecordStore.open(path: path, schemas: [schema])
        records = try GuardedRecords(schema: schema, store: store, engine: engine, encryptor: encryptor, audit: log)
        emergency = EmergencyAccess(
            engine: engine, store: InMemoryBreakGlassStore(), encryptor: encryptor, audit: log, reviewerRoles: [])
        var columns: [String: StoredValue] = [:]
        for field in Self.fields {
            let context = FieldContext(table: "charts", recordID: "c-1", field: field)
            columns[field] = .bytes(try encryptor.encrypt("value of \(field)", context: context).bytes)
        }
        #expect(try await store.insert(StoredRecord(id: "c-1", patientID: "p-1", columns: columns), schema: schema))
    }

    func principal(_ id: String, _ roles: [String]) -> AuthenticatedPrincipal {
        let now = engine.clock.now
        return AuthenticatedPrincipal(
            subject: Subject(id: id, roles: roles), sessionHandle: "s-\(id)", authenticatedAt: now,
            recentlyAuthenticatedAt: now, strength: .multiFactor, validUntil: now.addingTimeInterval(3600))
    }

    func events() async throws -> [AuditEvent] {
        try await auditSink.entries(from: 0, limit: 10_000).compactMap {
            if case .record(let record) = $0 { record.event } else { nil }
        }
    }

    func verify() async throws -> Bool {
        try await log.flush()
        return AuditVerifier(chainKey: chainKey, checkpointKey: log.checkpointPublicKey).verify(
            entries: try await auditSink.entries(from: 0, limit: 10_000), checkpoints: try await auditSink.checkpoints()
        ).isIntact
    }

    /// The raw cells of chart `id`, read from the file by a separate connection.
    func rawRow(_ id: String) async throws -> [String] {
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        defer { _ = connection.close() }
        let rows = try await connection.query("SELECT * FROM charts WHERE id = ?", [.text(id)])
        return rows.flatMap { row in
            row.columns.map { column in
                switch column.data {
                case .blob(let buffer): "\(column.name)=\(Array(buffer.readableBytesView))"
                default: "\(column.name)=\(column.data)"
                }
            }
        }
    }

    func close() async throws {
        try await log.close()
        try await auditSink.close()
        try await store.close()
    }
}

@Suite("SQLite record store")
struct SQLiteRecordStoreTests {
    func withWorld(_ body: (SQLiteRecordsWorld) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("records-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let world = try await SQLiteRecordsWorld(directory: directory)
        try await body(world)
        try await world.close()
    }

    @Test("every decision kind through the guarded read on a SQLite file; the SQLite audit log verifies")
    func everyDecisionKind() async throws {
        try await withWorld { world in
            let kinds: [(user: String, role: String, breakGlass: Bool, fields: Int?, rules: Set<String>)] = [
                ("u-desk", "front-desk", false, 3, ["front-desk-reads-contact"]),
                ("u-admin", "admin", false, nil, ["admin-never-reads-charts"]),
                (
                    "u-physician", "physician", false, 9,
                    ["clinician-reads-chart", "clinician-never-sees-billing-field"]
                ),
                ("u-auditor", "auditor", false, nil, []),
                ("u-nurse", "nurse", true, 9, ["break-glass.1", "clinician-never-sees-billing-field"]),
            ]
            for kind in kinds {
                let principal = world.principal(kind.user, [kind.role])
                let grant =
                    kind.breakGlass
                    ? try await world.emergency.invoke(
                        principal, scope: BreakGlassScope(patient: "p-1"),
                        reason: .init(category: .emergencyTreatment, justification: "arrived unconscious"))
                    : nil
                do {
                    let chart = try await world.records.read("c-1", as: principal, breakGlass: grant)
                    #expect(chart.fieldNames.count == kind.fields)
                    #expect(chart["demographics"] == "value of demographics")
                } catch {
                    #expect(kind.fields == nil && (error as? RecordError) == .notFoundOrDenied)
                }
                let event = try #require(try await world.events().last)
                #expect(Set(event.ruleIDs) == kind.rules && event.outcome == (kind.fields == nil ? .deny : .allow))
                #expect(event.breakGlass == kind.breakGlass)
            }
            let missing = await #expect(throws: RecordError.self) {
                try await world.records.read("c-404", as: world.principal("u-admin", ["admin"]))
            }
            #expect(missing == .notFoundOrDenied)
            #expect(try await world.events().count == kinds.count + 2)  // + the missing read, + the invocation
            #expect(try await world.verify())
        }
    }

    @Test("an update outside the grant leaves the row's bytes in the file unchanged and is audited as denied")
    func updateOutsideGrantLeavesRowBytes() async throws {
        try await withWorld { world in
            let before = try await world.rawRow("c-1")
            #expect(before.count == 12)
            let nurse = world.principal("u-nurse-team", ["nurse"])
            let error = await #expect(throws: RecordError.self) {
                try await world.records.update("c-1", changes: ["allergies": "none", "medications": "x"], as: nurse)
            }
            #expect(error == .fieldsNotPermitted(["medications"]))
            #expect(try await world.rawRow("c-1") == before)
            let event = try #require(try await world.events().last)
            #expect(event.action == "update" && event.outcome == .deny && event.reason == "field-not-granted")
            // The permitted change alone goes through, re-encrypted for this row.
            try await world.records.update("c-1", changes: ["allergies": "penicillin"], as: nurse)
            let after = try await world.rawRow("c-1")
            #expect(zip(before, after).filter { $0 != $1 }.map { $0.0.prefix(while: { $0 != "=" }) } == ["allergies"])
            #expect(try await world.events().last?.fields == ["allergies"])
            let physician = world.principal("u-physician", ["physician"])
            #expect(try await world.records.read("c-1", as: physician)["allergies"] == "penicillin")
            #expect(try await world.verify())
        }
    }

    @Test("the schema's validated names make the table; values are bound")
    func createStatements() throws {
        let schema = try RecordSchema(
            resourceType: "chart", table: "charts", fields: [.encrypted("labs"), .plain("ward"), .labels()])
        #expect(
            SQLiteRecordStore.createStatements(schema).first
                == "CREATE TABLE IF NOT EXISTS charts (id TEXT PRIMARY KEY NOT NULL, patient_id TEXT NOT NULL, "
                + "labs BLOB, ward TEXT, labels TEXT)")
    }
}
