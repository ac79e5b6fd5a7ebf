import Foundation
import Logging
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardPostgres
import PHIGuardRecords
import PHIGuardTestSupport
import PHIGuardTesting
import PostgresNIO
import Testing

/// Runs over verified TLS against the throwaway server `scripts/with-test-postgres.sh` starts.
@Suite("PostgreSQL break-glass store", .enabled(if: TestDatabase.enabled))
struct PostgresBreakGlassStoreTests {
    /// A migrated, empty store in `table`.
    func makeStore(_ client: PostgresClient, table: String, truncate: Bool = true) async throws
        -> PostgresBreakGlassStore
    {
        let store = PostgresBreakGlassStore(client: client, table: table, timeout: .seconds(60))
        try await store.migrate()
        try await store.migrate()  // idempotent
        if truncate { try await client.query(PostgresQuery(unsafeSQL: "TRUNCATE \(table)")) }
        return store
    }

    @Test("Passes the conformance suite; two clients race inserts, revocations and reviews correctly")
    func conformance() async throws {
        try await TestDatabase.withClient { client in
            try await BreakGlassStoreConformance.check(try await makeStore(client, table: "bg_conformance"))
        }
        try await TestDatabase.withClient { first in
            try await TestDatabase.withClient { second in
                let storeA = try await makeStore(first, table: "bg_race")
                let storeB = try await makeStore(second, table: "bg_race", truncate: false)
                try await BreakGlassStoreConformance.checkConcurrency(storeA, storeB)
            }
        }
    }

    @Test("Stored values no writer could have made are typed corrupt-row errors")
    func corruptRows() async throws {
        try await TestDatabase.withClient { client in
            let store = try await makeStore(client, table: "bg_corrupt")
            let record = BreakGlassStoreConformance.record()
            for (sql, column) in [
                ("UPDATE bg_corrupt SET issued_at = -1", "issued_at"),
                ("UPDATE bg_corrupt SET expires_at = 9223372036854775807", "expires_at"),
                ("UPDATE bg_corrupt SET audit_sequence = -1", "audit_sequence"),
                ("UPDATE bg_corrupt SET purpose = 'VACATION'", "purpose"),
                ("UPDATE bg_corrupt SET patient_ids = '{}'", "patient_ids"),
            ] {
                try await store.insert(record)
                try await client.query(PostgresQuery(unsafeSQL: sql))
                await #expect(throws: BreakGlassStoreError.corruptRecord(column), "\(sql)") {
                    _ = try await store.grant(id: record.id)
                }
                try await client.query(PostgresQuery(unsafeSQL: "TRUNCATE bg_corrupt"))
            }
        }
    }

    /// One instance: its own client, engine, audit log (on the shared audit tables), record store
    /// and emergency access on the shared grant table.
    struct Instance {
        let engine: AccessEngine
        let log: AuditLog
        let records: GuardedRecords
        let emergency: EmergencyAccess

        init(
            client: PostgresClient, clock: ManualClock, encryptor: FieldEncryptor, chainKey: AuditChainKey,
            signingKey: AuditSigningKey
        ) async throws {
            let yaml = try String(
                contentsOf: Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital.yaml"),
                encoding: .utf8)
            engine = AccessEngine(policy: try CompiledPolicy(yaml: yaml), clock: clock)
            let sink = try PostgresAuditSink(client: client, tablePrefix: "pgbg_audit")
            try await sink.migrate()
            log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
            let fields = ["demographics", "vitals", "billing"]
            let schema = try RecordSchema(
                resourceType: "chart", table: "charts", fields: fields.map { RecordField.encrypted($0) })
            let store = InMemoryRecordStore()
            for (id, patient) in [("c-1", "p-1"), ("c-2", "p-2")] {
                var columns: [String: StoredValue] = [:]
                for field in fields {
                    let context = FieldContext(table: "charts", recordID: id, field: field)
                    columns[field] = .bytes(try encryptor.encrypt("value of \(field)", context: context).bytes)
                }
                _ = try await store.insert(StoredRecord(id: id, patientID: patient, columns: columns), schema: schema)
            }
            records = try GuardedRecords(schema: schema, store: store, engine: engine, encryptor: encryptor, audit: log)
            let grants = PostgresBreakGlassStore(client: client, table: "pgbg_grants", timeout: .seconds(30))
            try await grants.migrate()
            emergency = EmergencyAccess(
                engine: engine, store: grants, encryptor: encryptor, audit: log, reviewerRoles: ["auditor"])
        }

        func opens(_ id: String, _ principal: AuthenticatedPrincipal, _ grant: EmergencyGrant?) async -> Bool {
            (try? await records.read(id, as: principal, breakGlass: grant)) != nil
        }
    }

    @Test("A grant invoked on one instance is honoured on another while valid; a revocation there ends it here")
    func twoInstances() async throws {
        let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
        let encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
        let chainKey = try AuditChainKey.generate()
        let signingKey = try AuditSigningKey.generate()
        _ = try await TestDatabase.withClient { client in
            try await client.query(
                PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS pgbg_audit_records, pgbg_audit_checkpoints, pgbg_grants")
            )
        }
        try await TestDatabase.withClient { first in
            try await TestDatabase.withClient { second in
                let a = try await Instance(
                    client: first, clock: clock, encryptor: encryptor, chainKey: chainKey, signingKey: signingKey)
                let b = try await Instance(
                    client: second, clock: clock, encryptor: encryptor, chainKey: chainKey, signingKey: signingKey)
                let signedIn = clock.now
                let nurse = AuthenticatedPrincipal(
                    subject: Subject(id: "u-nurse", roles: ["nurse"]), sessionHandle: "s-nurse",
                    authenticatedAt: signedIn, recentlyAuthenticatedAt: signedIn, strength: .multiFactor,
                    validUntil: signedIn.addingTimeInterval(43_200))
                let grant = try await a.emergency.invoke(
                    nurse, scope: BreakGlassScope(patient: "p-1"),
                    reason: BreakGlassReason(category: .emergencyTreatment, justification: "seizing in the lobby"))
                #expect(await a.opens("c-1", nurse, grant))

                // Instance B finds and honours it; P's grant does not open Q.
                let found = try #require(try await b.emergency.activeGrant(for: nurse, patientID: "p-1"))
                #expect(found.grant == grant.grant)
                #expect(await b.opens("c-1", nurse, found))
                #expect(!(await b.opens("c-2", nurse, found)))

                // Revoked on B: the grant A holds opens nothing on A.
                try await b.emergency.revoke(grant.grant.id, as: nurse)
                #expect(!(await a.opens("c-1", nurse, grant)))
                #expect(try await a.emergency.activeGrant(for: nurse, patientID: "p-1") == nil)

                try await a.log.flush()
                try await b.log.flush()
                let sink = try PostgresAuditSink(client: first, tablePrefix: "pgbg_audit")
                let queue = try await a.emergency.reviewQueue(auditRecords: sink)
                let item = try #require(queue.first { $0.grant.id == grant.grant.id })
                #expect(item.uses.map(\.event.resourceID) == ["c-1", "c-1", "c-2", "c-1"])
                #expect(
                    item.uses.map { $0.event.attributes["break-glass-status"] }
                        == ["active", "active", "outOfScope", "revoked"])
                #expect(item.revocation?.revokedBy == "u-nurse")
                let report = AuditVerifier(chainKey: chainKey, checkpointKey: signingKey.publicKey).verify(
                    entries: try await sink.entries(from: 0, limit: 10_000), checkpoints: try await sink.checkpoints())
                #expect(report.isIntact)

                // The stored justification is the sealed envelope, never the text.
                let rows = try await first.query("SELECT justification FROM pgbg_grants").collect()
                let sealed = try #require(rows.first).decode(ByteBuffer.self)
                #expect(!String(decoding: Array(buffer: sealed), as: UTF8.self).contains("lobby"))
                try await a.log.close()
                try await b.log.close()
            }
        }
    }
}
