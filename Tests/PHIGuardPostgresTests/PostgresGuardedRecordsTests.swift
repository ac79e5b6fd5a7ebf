import Foundation
import Logging
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardPostgres
import PHIGuardRecords
import PHIGuardTestSupport
import PostgresNIO
import Testing

/// The guarded read path end to end on PostgreSQL: records in a `PostgresRecordStore`, the audit log
/// in a `PostgresAuditSink`, grants in a `PostgresBreakGlassStore`; over verified TLS against the
/// throwaway server `scripts/with-test-postgres.sh` starts.
@Suite("PostgreSQL guarded records", .enabled(if: TestDatabase.enabled))
struct PostgresGuardedRecordsTests {
    static let fields = [
        "demographics", "contact", "insurance", "problems", "medications", "allergies", "vitals", "labs",
        "immunizations", "billing",
    ]

    struct Teams: CareTeamDirectory {
        func isOnCareTeam(subjectID: String, patientID: String) -> Bool {
            patientID == "p-1" && subjectID == "u-physician"
        }
    }

    /// One instance: its own client, engine, audit log (on shared audit tables), record store and
    /// emergency access (on a shared grant table), all on the test server.
    struct Instance {
        let engine: AccessEngine
        let sink: PostgresAuditSink
        let log: AuditLog
        let records: GuardedRecords
        let grants: PostgresBreakGlassStore
        let emergency: EmergencyAccess

        init(
            client: PostgresClient, prefix: String, clock: ManualClock, encryptor: FieldEncryptor,
            chainKey: AuditChainKey, signingKey: AuditSigningKey, seed: Bool
        ) async throws {
            let yaml = try String(
                contentsOf: Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital.yaml"),
                encoding: .utf8)
            engine = AccessEngine(policy: try CompiledPolicy(yaml: yaml), clock: clock, careTeams: Teams())
            sink = try PostgresAuditSink(client: client, tablePrefix: "\(prefix)_audit")
            try await sink.migrate()
            log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
            let schema = try RecordSchema(
                resourceType: "chart", table: "\(prefix)_charts",
                fields: PostgresGuardedRecordsTests.fields.map {
                    RecordField.encrypted($0)
                })
            let store = PostgresRecordStore(client: client, schemas: [schema], timeout: .seconds(60))
            try await store.migrate()
            records = try GuardedRecords(schema: schema, store: store, engine: engine, encryptor: encryptor, audit: log)
            grants = PostgresBreakGlassStore(client: client, table: "\(prefix)_grants", timeout: .seconds(60))
            try await grants.migrate()
            emergency = EmergencyAccess(
                engine: engine, store: grants, encryptor: encryptor, audit: log, reviewerRoles: ["auditor"])
            guard seed else { return }
            for (id, patient) in [("c-1", "p-1"), ("c-2", "p-2")] {
                var columns: [String: StoredValue] = [:]
                for field in PostgresGuardedRecordsTests.fields {
                    let context = FieldContext(table: schema.table, recordID: id, field: field)
                    columns[field] = .bytes(try encryptor.encrypt("value of \(field)", context: context).bytes)
                }
                #expect(
                    try await store.insert(StoredRecord(id: id, patientID: patient, columns: columns), schema: schema))
            }
        }

        func opens(_ id: String, _ principal: AuthenticatedPrincipal, _ grant: EmergencyGrant?) async -> Bool {
            (try? await records.read(id, as: principal, breakGlass: grant)) != nil
        }

        func events() async throws -> [AuditEvent] {
            try await sink.entries(from: 0, limit: 10_000).compactMap {
                if case .record(let record) = $0 { record.event } else { nil }
            }
        }
    }

    /// Drops the tables of `prefix`, so each run starts empty.
    static func dropTables(_ prefix: String) async throws {
        _ = try await TestDatabase.withClient { client in
            try await client.query(
                PostgresQuery(
                    unsafeSQL:
                        "DROP TABLE IF EXISTS \(prefix)_audit_records, \(prefix)_audit_checkpoints, \(prefix)_charts, "
                        + "\(prefix)_grants"))
        }
    }

    static func principal(_ id: String, _ roles: [String], at now: Date) -> AuthenticatedPrincipal {
        AuthenticatedPrincipal(
            subject: Subject(id: id, roles: roles), sessionHandle: "s-\(id)", authenticatedAt: now,
            recentlyAuthenticatedAt: now, strength: .multiFactor, validUntil: now.addingTimeInterval(43_200))
    }

    static func verify(_ sink: PostgresAuditSink, _ log: AuditLog, _ chainKey: AuditChainKey) async throws -> Bool {
        try await log.flush()
        return AuditVerifier(chainKey: chainKey, checkpointKey: log.checkpointPublicKey).verify(
            entries: try await sink.entries(from: 0, limit: 10_000), checkpoints: try await sink.checkpoints()
        ).isIntact
    }

    @Test(
        "every decision kind (allow, deny, field deny, default deny, break-glass) through the guarded read; the log verifies"
    )
    func everyDecisionKind() async throws {
        try await Self.dropTables("pggr_kinds")
        let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
        let chainKey = try AuditChainKey.generate()
        try await TestDatabase.withClient { client in
            let world = try await Instance(
                client: client, prefix: "pggr_kinds", clock: clock,
                encryptor: FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1"))),
                chainKey: chainKey, signingKey: try AuditSigningKey.generate(), seed: true)
            let kinds:
                [(name: String, user: String, role: String, breakGlass: Bool, fields: Int?, rules: Set<String>)] = [
                    ("allow", "u-desk", "front-desk", false, 3, ["front-desk-reads-contact"]),
                    ("deny", "u-admin", "admin", false, nil, ["admin-never-reads-charts"]),
                    (
                        "field deny", "u-physician", "physician", false, 9,
                        ["clinician-reads-chart", "clinician-never-sees-billing-field"]
                    ),
                    ("default deny", "u-auditor", "auditor", false, nil, []),
                    (
                        "break-glass", "u-nurse", "nurse", true, 9,
                        ["break-glass.1", "clinician-never-sees-billing-field"]
                    ),
                ]
            for kind in kinds {
                let principal = Self.principal(kind.user, [kind.role], at: clock.now)
                let grant =
                    kind.breakGlass
                    ? try await world.emergency.invoke(
                        principal, scope: BreakGlassScope(patient: "p-1"),
                        reason: .init(category: .emergencyTreatment, justification: "arrived unconscious"))
                    : nil
                do {
                    let chart = try await world.records.read("c-1", as: principal, breakGlass: grant)
                    #expect(chart.fieldNames.count == kind.fields, "\(kind.name)")
                    #expect(chart["demographics"] == "value of demographics", "\(kind.name)")
                    #expect(chart["billing"] == nil, "\(kind.name)")
                } catch {
                    #expect(kind.fields == nil, "\(kind.name): \(error)")
                    #expect((error as? RecordError) == .notFoundOrDenied, "\(kind.name)")
                }
                let event = try #require(try await world.events().last)
                #expect(event.kind == .accessDecision, "\(kind.name)")
                #expect(Set(event.ruleIDs) == kind.rules, "\(kind.name)")
                #expect(event.ruleIDs.allSatisfy(AuditIdentifier.isValid), "\(kind.name)")
                #expect(event.outcome == (kind.fields == nil ? .deny : .allow), "\(kind.name)")
                #expect(event.fields.count == kind.fields ?? 0, "\(kind.name)")
                #expect(event.breakGlass == kind.breakGlass, "\(kind.name)")
                #expect(event.actorID == kind.user && event.patientID == "p-1" && event.resourceID == "c-1")
                if let grant { #expect(event.attributes["break-glass-grant"] == grant.grant.id) }
            }
            // A missing record: the same answer as a denied one.
            await #expect(throws: RecordError.notFoundOrDenied) {
                try await world.records.read("c-404", as: Self.principal("u-admin", ["admin"], at: clock.now))
            }
            // One access record per kind, the missing read, and the break-glass invocation.
            #expect(try await world.events().count == kinds.count + 2)
            #expect(try await Self.verify(world.sink, world.log, chainKey))
            try await world.log.close()
        }
    }

    @Test("across two instances a grant is honoured while valid, refused after expiry, and its expiry recorded once")
    func expiryAcrossInstances() async throws {
        try await Self.dropTables("pggr_expiry")
        let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
        let encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
        let chainKey = try AuditChainKey.generate()
        let signingKey = try AuditSigningKey.generate()
        try await TestDatabase.withClient { first in
            try await TestDatabase.withClient { second in
                let a = try await Instance(
                    client: first, prefix: "pggr_expiry", clock: clock, encryptor: encryptor, chainKey: chainKey,
                    signingKey: signingKey, seed: true)
                let b = try await Instance(
                    client: second, prefix: "pggr_expiry", clock: clock, encryptor: encryptor, chainKey: chainKey,
                    signingKey: signingKey, seed: false)
                let nurse = Self.principal("u-nurse", ["nurse"], at: clock.now)
                let grant = try await a.emergency.invoke(
                    nurse, scope: BreakGlassScope(patient: "p-1"),
                    reason: BreakGlassReason(category: .emergencyTreatment, justification: "seizing in the lobby"),
                    duration: .seconds(900))
                clock.advance(by: .seconds(899))
                let found = try #require(try await b.emergency.activeGrant(for: nurse, patientID: "p-1"))
                #expect(await b.opens("c-1", nurse, found))
                #expect(await a.opens("c-1", nurse, grant))
                #expect(try await a.emergency.recordExpiries() == 0)
                #expect(try await b.emergency.recordExpiries() == 0)

                clock.advance(by: .seconds(1))
                #expect(!(await a.opens("c-1", nurse, grant)))
                #expect(!(await b.opens("c-1", nurse, found)))
                #expect(try await b.emergency.activeGrant(for: nurse, patientID: "p-1") == nil)
                // Both instances sweep at once: exactly one `break-glass.expired` record.
                async let sweptA = a.emergency.recordExpiries()
                async let sweptB = b.emergency.recordExpiries()
                #expect(try await sweptA + sweptB == 1)
                #expect(try await a.emergency.recordExpiries() + b.emergency.recordExpiries() == 0)
                try await a.log.flush()
                try await b.log.flush()
                let events = try await a.events()
                let expired = events.filter { $0.kind == .breakGlassExpired }
                #expect(expired.map(\.resourceID) == [grant.grant.id])
                #expect(expired.first?.attributes["break-glass-grant"] == grant.grant.id)
                // Still expired (not revoked) to a use after the sweep.
                #expect(!(await b.opens("c-1", nurse, found)))
                let last = try await b.events().last { $0.kind == .accessDecision }
                #expect(last?.attributes["break-glass-status"] == "expired")

                let queue = try await a.emergency.reviewQueue(auditRecords: a.sink)
                let item = try #require(queue.first { $0.grant.id == grant.grant.id })
                #expect(
                    item.uses.map { $0.event.attributes["break-glass-status"] }
                        == ["active", "active", "expired", "expired", "expired"])
                #expect(item.revocation?.revokedBy == EmergencyAccess.expiryRecorder)
                #expect(try await Self.verify(a.sink, a.log, chainKey))
                try await a.log.close()
                try await b.log.close()
            }
        }
    }
}
