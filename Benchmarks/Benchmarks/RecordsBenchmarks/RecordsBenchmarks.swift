// Issue 13 target: a guarded read of a 10-field record where the role sees 4 fields, in memory,
// within 1.10x of the bare sequence an app would otherwise write in the same run: decide, one
// committed in-memory audit append, 4 decrypts. Both sides use the same engine, encryptor, audit
// log configuration and a principal from a real (single-factor) sign-in.
import Benchmark
import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardFieldEncryption
import PHIGuardPasswords
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTOTP

let policyYAML = """
    version: 1
    resourceTypes:
      - name: chart
        fields: [f0, f1, f2, f3, f4, f5, f6, f7, f8, f9]
    roles:
      - name: reader
    rules:
      - id: reader-sees-four
        effect: allow
        roles: reader
        actions: read
        resourceTypes: chart
        fields: [f0, f1, f2, f3]
    """
let fieldNames = (0..<10).map { "f\($0)" }

/// One account, found by login name.
final class OneAccount: AccountDirectory {
    let account: Account
    init(_ account: Account) { self.account = account }
    func account(loginName: LoginName) async -> Account? { loginName.value == "reader" ? account : nil }
    func account(id accountID: String) async -> Account? { accountID == account.id ? account : nil }
    func createAccount(loginName: LoginName, passwordHash: String, totp: TOTP?) async -> String? { nil }
    func setPasswordHash(_ passwordHash: String, accountID: String) async {}
}

/// Everything both sides share.
struct World {
    let engine: AccessEngine
    let encryptor: FieldEncryptor
    let log: AuditLog
    let records: GuardedRecords
    let principal: AuthenticatedPrincipal
    let envelopes: [FieldEnvelope]

    /// In memory, or with `sqlitePath` on one SQLite file (WAL, `synchronous=FULL`) holding the
    /// records and the audit log (each read commits its audit record durably).
    static func make(sqlitePath: String? = nil) async throws -> World {
        let engine = AccessEngine(policy: try CompiledPolicy(yaml: policyYAML))
        let encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
        let schema = try RecordSchema(
            resourceType: "chart", table: "charts", fields: fieldNames.map { RecordField.encrypted($0) })
        let sink: any AuditSink
        let store: any RecordStore
        if let sqlitePath {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: sqlitePath + suffix) }
            let database = try await SQLiteDatabase.open(path: sqlitePath)
            sink = try await SQLiteAuditSink.open(in: database)
            store = try await SQLiteRecordStore.open(in: database, schemas: [schema])
        } else {
            sink = InMemoryAuditSink()
            store = InMemoryRecordStore()
        }
        let log = try await AuditLog(
            sink: sink, chainKey: try .generate(), signingKey: try .generate(),
            configuration: .init(checkpointInterval: 1_000_000))
        var columns: [String: StoredValue] = [:]
        var envelopes: [FieldEnvelope] = []
        for field in fieldNames {
            let envelope = try encryptor.encrypt(
                "a 64-byte value of field \(field) ............................",
                context: FieldContext(table: "charts", recordID: "c-1", field: field))
            envelopes.append(envelope)
            columns[field] = .bytes(envelope.bytes)
        }
        _ = try await store.insert(StoredRecord(id: "c-1", patientID: "p-1", columns: columns), schema: schema)
        let records = try GuardedRecords(schema: schema, store: store, engine: engine, encryptor: encryptor, audit: log)

        let hasher = try PasswordHasher(
            configuration: .init(parameters: try Argon2Parameters(memoryKiB: 4_096, iterations: 1, parallelism: 1)))
        let account = Account(
            id: "u-1", passwordHash: try await hasher.hash("a long enough passphrase"), totp: nil, roles: ["reader"])
        let flow = try LoginFlow(
            accounts: OneAccount(account), sessions: InMemorySessionStore(), passwords: hasher,
            totp: try TOTPVerifier(replayStore: InMemoryTOTPReplayStore()),
            configuration: LoginConfiguration(requireSecondFactor: false))
        guard
            case .authenticated(let session) = try await flow.signIn(
                loginName: "reader", password: "a long enough passphrase", clientAddress: "192.0.2.1")
        else { fatalError("single-factor sign-in did not authenticate") }
        return World(
            engine: engine, encryptor: encryptor, log: log, records: records, principal: session.principal,
            envelopes: envelopes)
    }
}

/// The bare sequence an app would otherwise write, `count` times. Both loops are nonisolated async
/// functions, as a server's request handler is, so neither pays main-actor hops the other does not.
func bareReads(_ world: World, count: Int) async throws {
    let resource = Resource(type: "chart", id: "c-1", patientID: "p-1")
    for _ in 0..<count {
        let decision = world.engine.decide(world.principal, .read, resource)
        guard decision.isAllowed else { fatalError("denied") }
        try await world.log.append(
            try .accessDecision(
                actorID: world.principal.subject.id, role: "reader", action: "read", resourceType: "chart",
                resourceID: "c-1", patientID: "p-1", fieldsReturned: decision.visibleFields, allowed: true,
                ruleIDs: decision.decidingRuleIDs, sessionID: world.principal.sessionHandle,
                at: world.engine.clock.now))
        var values: [String: String] = [:]
        for index in 0..<10 where decision.isFieldVisible(fieldNames[index]) {
            values[fieldNames[index]] = try world.encryptor.decryptString(
                world.envelopes[index],
                context: FieldContext(table: "charts", recordID: "c-1", field: fieldNames[index]))
        }
        blackHole(values)
    }
}

/// `GuardedRecords.read`, `count` times.
func guardedReads(_ world: World, count: Int) async throws {
    for _ in 0..<count {
        blackHole(try await world.records.read("c-1", as: world.principal))
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput], scalingFactor: .kilo, maxDuration: .seconds(10), maxIterations: 10_000)

    Benchmark("Records: bare sequence (decide + committed in-memory audit append + 4 decrypts)") { benchmark in
        let world = try await World.make()
        benchmark.startMeasurement()
        try await bareReads(world, count: benchmark.scaledIterations.count)
        benchmark.stopMeasurement()
        try await world.log.close()
    }

    Benchmark(
        "Records: GuardedRecords.read on SQLite (file, WAL, synchronous=FULL; durable audit in the same file)",
        configuration: .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(10), maxIterations: 5_000)
    ) { benchmark in
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("records-bench.sqlite").path
        let world = try await World.make(sqlitePath: path)
        benchmark.startMeasurement()
        try await guardedReads(world, count: benchmark.scaledIterations.count)
        benchmark.stopMeasurement()
        try await world.log.close()
    }

    Benchmark("Records: GuardedRecords.read (10 fields, role sees 4)") { benchmark in
        let world = try await World.make()
        benchmark.startMeasurement()
        try await guardedReads(world, count: benchmark.scaledIterations.count)
        benchmark.stopMeasurement()
        try await world.log.close()
    }
}
