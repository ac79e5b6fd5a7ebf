import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardRecords
import PHIGuardSQLite
import Testing

/// Issue #13's SQLite figure: guarded reads per second on a real SQLite file (WAL, synchronous=FULL)
/// with the audit log in the same file, each read's event committed before the fields are decrypted.
/// Opt-in (`PHIGUARD_FIGURES=1`): it prints figures and asserts nothing about speed (speed belongs
/// to benchmarks; this is the one configuration the Benchmarks package does not build).
/// `PHIGUARD_FIGURES=1 swift test --skip-build --filter GuardedReadFiguresTests`
@Suite(
    "Figures: guarded reads per second on SQLite with a durable audit log",
    .enabled(if: ProcessInfo.processInfo.environment["PHIGUARD_FIGURES"] == "1"))
struct GuardedReadFiguresTests {
    static let fields = (0..<10).map { "f\($0)" }
    static let policy = """
        version: 1
        resourceTypes:
          - name: chart
            fields: [\(fields.joined(separator: ", "))]
        roles:
          - name: clerk
        rules:
          - id: clerk-reads-four
            effect: allow
            roles: clerk
            actions: read
            resourceTypes: chart
            fields: [f0, f1, f2, f3]
          - id: clerk-creates
            effect: allow
            roles: clerk
            actions: create
            resourceTypes: chart
        """

    @Test("10-field records, 4 visible: sequential and 8-way concurrent reads")
    func readsPerSecond() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("figures-\(UUID()).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let database = try await SQLiteDatabase.open(path: path)
        let schema = try RecordSchema(
            resourceType: "chart", table: "charts", fields: Self.fields.map { RecordField.encrypted($0) })
        let store = try await SQLiteRecordStore.open(in: database, schemas: [schema])
        let sink = try await SQLiteAuditSink.open(in: database)
        let log = try await AuditLog(sink: sink, chainKey: try .generate(), signingKey: try .generate())
        let engine = AccessEngine(policy: try CompiledPolicy(yaml: Self.policy))
        let encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
        let records = try GuardedRecords(schema: schema, store: store, engine: engine, encryptor: encryptor, audit: log)
        let now = engine.clock.now
        let clerk = AuthenticatedPrincipal(
            subject: Subject(id: "u-clerk", roles: ["clerk"]), sessionHandle: "s-1", authenticatedAt: now,
            recentlyAuthenticatedAt: now, strength: .multiFactor, validUntil: now.addingTimeInterval(3600))
        let count = 500
        var values: [String: String] = [:]
        for field in Self.fields { values[field] = String(repeating: "x", count: 40) }
        for index in 0..<count {
            _ = try await records.create("c-\(index)", patientID: "p-\(index)", values: values, as: clerk)
        }
        let clock = ContinuousClock()
        let reads = 2_000
        let sequential = try await clock.measure {
            for index in 0..<reads {
                let record = try await records.read("c-\(index % count)", as: clerk)
                precondition(record.values.count == 4)
            }
        }
        let concurrent = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        for index in stride(from: worker, to: reads, by: 8) {
                            _ = try await records.read("c-\(index % count)", as: clerk)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        func perSecond(_ duration: Duration) -> Int {
            Int(Double(reads) / (Double(duration.components.attoseconds) / 1e18 + Double(duration.components.seconds)))
        }
        print(
            "guarded reads on SQLite (durable audit): sequential \(perSecond(sequential))/s, 8 tasks \(perSecond(concurrent))/s"
        )
        try await log.close()
        // Every read was audited: the creates, then one committed event per read.
        #expect(try await sink.entries(from: count + 2 * reads - 1, limit: 10).count == 1)
        try await database.close()
    }
}
