import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTestSupport
import PHIGuardTesting
import SQLiteNIO
import Testing

/// One "process" of the emergency path on files in `directory`: a grant store, a record store and
/// an audit log, each an SQLite file, with a fresh engine. Open it again on the same directory for
/// a restart (new store, engine and log objects; the keys are the app's, kept across).
struct BreakGlassFileWorld {
    /// The app's keys, kept across a restart.
    struct Keys {
        let field: FieldKey
        let chain: AuditChainKey
        let signing: AuditSigningKey
        init() throws {
            field = try FieldKey.generate(id: "k1")
            chain = try AuditChainKey.generate()
            signing = try AuditSigningKey.generate()
        }
    }

    static let justification = "found down at home, naloxone given, GCS 7"
    let directory: URL
    let clock: ManualClock
    let engine: AccessEngine
    let encryptor: FieldEncryptor
    let auditSink: SQLiteAuditSink
    let log: AuditLog
    let records: GuardedRecords
    let recordStore: SQLiteRecordStore
    let grants: SQLiteBreakGlassStore
    let emergency: EmergencyAccess
    let keys: Keys

    var grantsPath: String { directory.appendingPathComponent("break-glass.sqlite").path }

    init(directory: URL, clock: ManualClock, keys: Keys, seed: Bool) async throws {
        self.directory = directory
        self.clock = clock
        self.keys = keys
        let yaml = try String(
            contentsOf: Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital.yaml"),
            encoding: .utf8)
        engine = AccessEngine(policy: try CompiledPolicy(yaml: yaml), clock: clock)
        encryptor = FieldEncryptor(keyring: try Keyring(active: keys.field))
        auditSink = try await SQLiteAuditSink.open(path: directory.appendingPathComponent("audit.sqlite").path)
        log = try await AuditLog(sink: auditSink, chainKey: keys.chain, signingKey: keys.signing)
        let schema = try RecordSchema(
            resourceType: "chart", table: "charts", fields: SQLiteRecordsWorld.fields.map { RecordField.encrypted($0) })
        recordStore = try await SQLiteRecordStore.open(
            path: directory.appendingPathComponent("records.sqlite").path, schemas: [schema])
        records = try GuardedRecords(
            schema: schema, store: recordStore, engine: engine, encryptor: encryptor, audit: log)
        grants = try await SQLiteBreakGlassStore.open(path: directory.appendingPathComponent("break-glass.sqlite").path)
        emergency = EmergencyAccess(
            engine: engine, store: grants, encryptor: encryptor, audit: log, reviewerRoles: ["auditor"])
        guard seed else { return }
        for (id, patient) in [("c-1", "p-1"), ("c-2", "p-2")] {
            var columns: [String: StoredValue] = [:]
            for field in SQLiteRecordsWorld.fields {
                let context = FieldContext(table: "charts", recordID: id, field: field)
                columns[field] = .bytes(try encryptor.encrypt("value of \(field)", context: context).bytes)
            }
            _ = try await recordStore.insert(StoredRecord(id: id, patientID: patient, columns: columns), schema: schema)
        }
    }

    /// A principal of session `handle` signed in at `signedIn`, valid for 12 hours.
    func principal(_ id: String, _ roles: [String], handle: String, signedIn: Date) -> AuthenticatedPrincipal {
        AuthenticatedPrincipal(
            subject: Subject(id: id, roles: roles), sessionHandle: handle, authenticatedAt: signedIn,
            recentlyAuthenticatedAt: signedIn, strength: .multiFactor, validUntil: signedIn.addingTimeInterval(43_200))
    }

    func opens(_ id: String, _ principal: AuthenticatedPrincipal, _ grant: EmergencyGrant?) async -> Bool {
        (try? await records.read(id, as: principal, breakGlass: grant)) != nil
    }

    func close() async throws {
        try await log.close()
        try await auditSink.close()
        try await recordStore.close()
        try await grants.close()
    }
}

@Suite("SQLite break-glass store")
struct SQLiteBreakGlassStoreTests {
    func withDirectory(_ body: (URL) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "phiguard-bg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(directory)
    }

    @Test("in memory and on a file, the store passes the conformance suite; two connections race correctly")
    func conformance() async throws {
        let memory = try await SQLiteBreakGlassStore.inMemory()
        try await BreakGlassStoreConformance.check(memory)
        try await memory.close()
        try await withDirectory { directory in
            let path = directory.appendingPathComponent("bg.sqlite").path
            let store = try await SQLiteBreakGlassStore.open(path: path)
            try await BreakGlassStoreConformance.check(store)
            try await store.close()
            let first = try await SQLiteBreakGlassStore.open(path: directory.appendingPathComponent("race.sqlite").path)
            let second = try await SQLiteBreakGlassStore.open(
                path: directory.appendingPathComponent("race.sqlite").path)
            try await BreakGlassStoreConformance.checkConcurrency(first, second)
            try await first.close()
            try await second.close()
        }
    }

    @Test("stored values no writer could have made are typed corrupt-row errors, never a crash")
    func corruptRows() async throws {
        try await withDirectory { directory in
            let path = directory.appendingPathComponent("bg.sqlite").path
            let store = try await SQLiteBreakGlassStore.open(path: path)
            let record = BreakGlassStoreConformance.record()
            try await store.insert(record)
            let corruptions: [(sql: String, column: String)] = [
                ("UPDATE phiguard_break_glass SET issued_at = -1", "issued_at"),
                ("UPDATE phiguard_break_glass SET expires_at = 9223372036854775807", "expires_at"),
                ("UPDATE phiguard_break_glass SET audit_sequence = -1", "audit_sequence"),
                ("UPDATE phiguard_break_glass SET purpose = 'VACATION'", "purpose"),
                ("UPDATE phiguard_break_glass SET patient_ids = '[]'", "patient_ids"),
                ("UPDATE phiguard_break_glass SET patient_ids = 'not json'", "patient_ids"),
                ("UPDATE phiguard_break_glass SET revoked_at = 5", "revoked_at"),
                ("UPDATE phiguard_break_glass SET session_authenticated_at = 'x'", "session_authenticated_at"),
                ("UPDATE phiguard_break_glass SET expires_at = issued_at", "expires_at"),
            ]
            for corruption in corruptions {
                let connection = try await SQLiteConnection.open(storage: .file(path: path))
                _ = try await connection.query("BEGIN", [])
                _ = try await connection.query(corruption.sql, [])
                _ = try await connection.query("COMMIT", [])
                await #expect(throws: BreakGlassStoreError.corruptRecord(corruption.column), "\(corruption.sql)") {
                    _ = try await store.grant(id: record.id)
                }
                _ = try await connection.query("DELETE FROM phiguard_break_glass", [])
                try await connection.close()
                try await store.insert(record)
            }
            try await store.close()
        }
    }

    @Test("a grant survives a restart and is honoured while valid; uses are in the review queue; the log verifies")
    func restart() async throws {
        try await withDirectory { directory in
            let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
            let keys = try BreakGlassFileWorld.Keys()
            let signedIn = clock.now
            var world = try await BreakGlassFileWorld(directory: directory, clock: clock, keys: keys, seed: true)
            var nurse = world.principal("u-nurse", ["nurse"], handle: "s-nurse", signedIn: signedIn)
            #expect(!(await world.opens("c-1", nurse, nil)))
            let grant = try await world.emergency.invoke(
                nurse, scope: BreakGlassScope(patient: "p-1"),
                reason: BreakGlassReason(
                    category: .emergencyTreatment, justification: BreakGlassFileWorld.justification),
                duration: .seconds(3600))
            #expect(await world.opens("c-1", nurse, grant))
            try await world.close()

            // The process restarts: new store, engine, log and principal objects on the same files.
            clock.advance(by: .seconds(600))
            world = try await BreakGlassFileWorld(directory: directory, clock: clock, keys: keys, seed: false)
            nurse = world.principal("u-nurse", ["nurse"], handle: "s-nurse", signedIn: signedIn)
            let found = try #require(try await world.emergency.activeGrant(for: nurse, patientID: "p-1"))
            #expect(found.grant == grant.grant)
            #expect(found.grant.reason.justification == BreakGlassFileWorld.justification)
            #expect(await world.opens("c-1", nurse, found))
            #expect(!(await world.opens("c-2", nurse, found)))  // P's grant used on Q
            #expect(try await world.emergency.activeGrant(for: nurse, patientID: "p-2") == nil)
            // Another session of the same user gets nothing.
            let elsewhere = world.principal("u-nurse", ["nurse"], handle: "s-other", signedIn: signedIn)
            #expect(try await world.emergency.activeGrant(for: elsewhere, patientID: "p-1") == nil)
            #expect(!(await world.opens("c-1", elsewhere, found)))

            // Expiry, by the clock.
            clock.advance(by: .seconds(3000))
            #expect(!(await world.opens("c-1", nurse, found)))
            #expect(try await world.emergency.activeGrant(for: nurse, patientID: "p-1") == nil)

            let queue = try await world.emergency.reviewQueue(auditRecords: world.auditSink)
            #expect(queue.map(\.grant.id) == [grant.grant.id])
            let uses = try #require(queue.first).uses
            #expect(uses.map(\.event.resourceID) == ["c-1", "c-1", "c-2", "c-1", "c-1"])
            #expect(uses.map(\.event.outcome) == [.allow, .allow, .deny, .deny, .deny])
            #expect(
                uses.map { $0.event.attributes["break-glass-status"] }
                    == ["active", "active", "outOfScope", "otherSession", "expired"])
            #expect(uses.allSatisfy { $0.event.attributes["break-glass-grant"] == grant.grant.id })
            try await world.log.flush()
            let report = AuditVerifier(chainKey: keys.chain, checkpointKey: world.log.checkpointPublicKey).verify(
                entries: try await world.auditSink.entries(from: 0, limit: 10_000),
                checkpoints: try await world.auditSink.checkpoints())
            #expect(report.isIntact)
            try await world.close()

            // The justification is nowhere in clear in the files (database and write-ahead log).
            let needle = Array("naloxone".utf8)
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            #expect(files.contains("break-glass.sqlite"))
            for file in files {
                let bytes = Array(try Data(contentsOf: directory.appendingPathComponent(file)))
                #expect(!SQLiteSessionStoreTests.contains(bytes, needle), "\(file)")
            }
        }
    }

    @Test("an expiry is recorded once on a file, by one of two sweeps on two connections; the log verifies")
    func expiryRecordedOnce() async throws {
        try await withDirectory { directory in
            let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
            let world = try await BreakGlassFileWorld(
                directory: directory, clock: clock, keys: try BreakGlassFileWorld.Keys(), seed: true)
            let nurse = world.principal("u-nurse", ["nurse"], handle: "s-nurse", signedIn: clock.now)
            let grant = try await world.emergency.invoke(
                nurse, scope: BreakGlassScope(patient: "p-1"),
                reason: BreakGlassReason(category: .emergencyTreatment, justification: "arrived unconscious"),
                duration: .seconds(600))
            // A second instance's grant store: its own connection to the same file.
            let otherStore = try await SQLiteBreakGlassStore.open(path: world.grantsPath)
            let other = EmergencyAccess(
                engine: world.engine, store: otherStore, encryptor: world.encryptor, audit: world.log,
                reviewerRoles: [])
            #expect(try await other.recordExpiries() == 0)
            clock.advance(by: .seconds(600))
            #expect(!(await world.opens("c-1", nurse, grant)))
            async let first = world.emergency.recordExpiries()
            async let second = other.recordExpiries()
            #expect(try await first + second == 1)
            let stored = try #require(try await otherStore.grant(id: grant.grant.id))
            #expect(stored.revocation?.revokedBy == EmergencyAccess.expiryRecorder)
            #expect(stored.revocation?.revokedAt == grant.grant.expiresAt)
            try await world.log.flush()
            let events = try await world.auditSink.entries(from: 0, limit: 1_000).compactMap {
                if case .record(let record) = $0 { record.event } else { nil }
            }
            #expect(events.filter { $0.kind == .breakGlassExpired }.map(\.resourceID) == [grant.grant.id])
            #expect(events.last { $0.kind == .accessDecision }?.attributes["break-glass-status"] == "expired")
            let report = AuditVerifier(chainKey: world.keys.chain, checkpointKey: world.keys.signing.publicKey).verify(
                entries: try await world.auditSink.entries(from: 0, limit: 1_000),
                checkpoints: try await world.auditSink.checkpoints())
            #expect(report.isIntact)
            try await otherStore.close()
            try await world.close()
        }
    }
}
