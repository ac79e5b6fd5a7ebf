// Issue 14 targets, on SQLite (file, WAL) and PostgreSQL (loopback, TLS):
// - list the permitted charts of a physician (care team of 200 patients) out of 10k / 100k / 1M
//   charts, first page of 50, through `GuardedRecords.list` (the access plan compiled to SQL), against
//   what an app would otherwise write in the same run: fetch every row, `decide` each, keep the first
//   50 allowed, decrypt their visible fields, append one audit record. Goal: ≥ 100x at 100k, and the
//   filtered time within 2x from 10k to 1M.
// - care-team membership as a subquery over the care-team table (principal without a care-team
//   list) against a bound id list (principal carrying its 200 patients from a `CareTeamStore`).
// - `AccessEngine.plan` per call for the sample hospital policy (cached per role set and action): ≤ 5 µs.
// The sizes come from PHIGUARD_LIST_SIZES (default "10000,100000,1000000"); PostgreSQL needs
// PHIGUARD_POSTGRES_URL (`make bench` runs under scripts/with-test-postgres.sh).
import Benchmark
import Foundation
import Logging
import NIOCore
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardFieldEncryption
import PHIGuardPasswords
import PHIGuardPostgres
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTOTP
import PostgresNIO
import SQLiteNIO

/// The sample hospital policy (Examples/Policies/hospital.yaml): clinicians read the charts of
/// their care team's patients, never the billing field.
let policyURL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Examples/Policies/hospital.yaml")

let sizes: [Int] = (ProcessInfo.processInfo.environment["PHIGUARD_LIST_SIZES"] ?? "10000,100000,1000000")
    .split(separator: ",").compactMap { Int($0) }
let teamSize = 200
let pageSize = 50
let physicianID = "u-doc"

func label(_ size: Int) -> String { size >= 1_000_000 ? "\(size / 1_000_000)m" : "\(size / 1_000)k" }
func recordID(_ index: Int) -> String { "r-" + String(format: "%07d", index) }
func patientID(_ index: Int) -> String { "p-" + String(format: "%07d", index) }

/// The physician's care team: 200 patients spread evenly over the table.
func teamIndexes(_ size: Int) -> [Int] { (0..<teamSize).map { $0 * (size / teamSize) + 7 } }

struct Directory: CareTeamDirectory {
    let team: Set<String>
    func isOnCareTeam(subjectID: String, patientID: String) -> Bool {
        subjectID == physicianID && team.contains(patientID)
    }
}

final class OneAccount: AccountDirectory {
    let account: Account
    init(_ account: Account) { self.account = account }
    func account(loginName: LoginName) async -> Account? { loginName.value == "doc" ? account : nil }
    func account(id accountID: String) async -> Account? { accountID == account.id ? account : nil }
    func createAccount(loginName: LoginName, passwordHash: String, totp: TOTP?) async -> String? { nil }
    func setPasswordHash(_ passwordHash: String, accountID: String) async {}
}

/// A physician signed in through a real `LoginFlow`; with `teamList`, the flow's care-team store
/// puts the 200 patients in the principal (so the plan binds an id list instead of a subquery).
func signIn(team: Set<String>, teamList: Bool) async throws -> AuthenticatedPrincipal {
    let hasher = try PasswordHasher(
        configuration: .init(parameters: try Argon2Parameters(memoryKiB: 4_096, iterations: 1, parallelism: 1)))
    let account = Account(
        id: physicianID, passwordHash: try await hasher.hash("a long enough passphrase"), roles: ["physician"])
    var careTeams: (any CareTeamStore)?
    if teamList {
        let store = InMemoryCareTeamStore()
        for patient in team { try await store.add(memberID: physicianID, patientID: patient) }
        careTeams = store
    }
    let flow = try LoginFlow(
        accounts: OneAccount(account), sessions: InMemorySessionStore(), passwords: hasher,
        totp: try TOTPVerifier(replayStore: InMemoryTOTPReplayStore()),
        configuration: LoginConfiguration(requireSecondFactor: false), careTeams: careTeams)
    guard
        case .authenticated(let session) = try await flow.signIn(
            loginName: "doc", password: "a long enough passphrase", clientAddress: "192.0.2.1")
    else { fatalError("single-factor sign-in did not authenticate") }
    return session.principal
}

/// How the baseline reads every row: the app's own `SELECT` of all columns, in id order.
protocol RawRows: Sendable {
    /// (record id, patient id, demographics envelope, problems envelope) of every row.
    func all(table: String) async throws -> [(String, String, [UInt8], [UInt8])]
}

struct SQLiteRaw: RawRows {
    let connection: SQLiteConnection
    func all(table: String) async throws -> [(String, String, [UInt8], [UInt8])] {
        let rows = try await connection.query(
            "SELECT id, patient_id, demographics, problems FROM \(table) ORDER BY id")
        return rows.map { row in
            func bytes(_ name: String) -> [UInt8] {
                if case .blob(let buffer) = row.column(name) ?? .null { return Array(buffer.readableBytesView) }
                return []
            }
            return (
                row.column("id")?.string ?? "", row.column("patient_id")?.string ?? "", bytes("demographics"),
                bytes("problems")
            )
        }
    }
}

struct PostgresRaw: RawRows {
    let client: PostgresClient
    func all(table: String) async throws -> [(String, String, [UInt8], [UInt8])] {
        let rows = try await client.query(
            PostgresQuery(unsafeSQL: "SELECT id, patient_id, demographics, problems FROM \(table) ORDER BY id"))
        var result: [(String, String, [UInt8], [UInt8])] = []
        for try await (id, patient, demographics, problems) in rows.decode(
            (String, String, ByteBuffer, ByteBuffer).self)
        {
            result.append(
                (id, patient, Array(demographics.readableBytesView), Array(problems.readableBytesView)))
        }
        return result
    }
}

/// One seeded table and everything both sides share.
struct World: Sendable {
    let table: String
    let engine: AccessEngine
    let encryptor: FieldEncryptor
    let log: AuditLog
    let records: GuardedRecords
    let subqueryPrincipal: AuthenticatedPrincipal
    let listPrincipal: AuthenticatedPrincipal
    let raw: any RawRows
}

let fieldNames = ["demographics", "problems"]

func makeSchema(_ table: String) throws -> RecordSchema {
    try RecordSchema(resourceType: "chart", table: table, fields: fieldNames.map { RecordField.encrypted($0) })
}

/// Shared parts, made once per process.
struct Shared: Sendable {
    let policy: CompiledPolicy
    let encryptor: FieldEncryptor

    static func make() throws -> Shared {
        Shared(
            policy: try CompiledPolicy(yaml: try String(contentsOf: policyURL, encoding: .utf8)),
            encryptor: FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1"))))
    }
}

/// The 200 care-team rows go in through the record store with real envelopes; the other rows in one
/// bulk `INSERT … SELECT` (random bytes of the same length stand in for envelopes never opened).
func teamRecords(_ size: Int, _ table: String, _ encryptor: FieldEncryptor) throws -> [StoredRecord] {
    try teamIndexes(size).map { index in
        var columns: [String: StoredValue] = [:]
        for field in fieldNames {
            columns[field] = .bytes(
                try encryptor.encrypt(
                    "\(field) of patient \(index): a value of about sixty bytes ......",
                    context: FieldContext(table: table, recordID: recordID(index), field: field)
                ).bytes)
        }
        return StoredRecord(id: recordID(index), patientID: patientID(index), columns: columns)
    }
}

func makeWorld(
    size: Int, table: String, store: any RecordStore, raw: any RawRows, shared: Shared
) async throws -> World {
    let team = Set(teamIndexes(size).map(patientID))
    let engine = AccessEngine(policy: shared.policy, careTeams: Directory(team: team))
    let log = try await AuditLog(
        sink: InMemoryAuditSink(), chainKey: try .generate(), signingKey: try .generate(),
        configuration: .init(checkpointInterval: 1_000_000))
    let records = try GuardedRecords(
        schema: try makeSchema(table), store: store, engine: engine, encryptor: shared.encryptor, audit: log)
    return World(
        table: table, engine: engine, encryptor: shared.encryptor, log: log, records: records,
        subqueryPrincipal: try await signIn(team: team, teamList: false),
        listPrincipal: try await signIn(team: team, teamList: true), raw: raw)
}

func makeSQLiteWorld(size: Int, shared: Shared, directory: String) async throws -> World {
    let table = "charts_\(label(size))"
    let path = "\(directory)/list-\(label(size)).sqlite"
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    let careTeams = try CareTeamTable(table: "care_team_\(label(size))")
    let store = try await SQLiteRecordStore.open(path: path, schemas: [try makeSchema(table)], careTeams: careTeams)
    let connection = try await SQLiteConnection.open(storage: .file(path: path))
    let start = ContinuousClock.now
    let step = size / teamSize
    _ = try await connection.query("BEGIN")
    _ = try await connection.query(
        """
        INSERT INTO \(table) (id, patient_id, demographics, problems)
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < \(size - 1))
        SELECT printf('r-%07d', i), printf('p-%07d', i), randomblob(104), randomblob(104) FROM n
        WHERE i % \(step) <> 7
        """)
    // Other clinicians' care teams: every patient is on one of 500 other teams.
    _ = try await connection.query(
        """
        INSERT INTO \(careTeams.table) (subject_id, patient_id)
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < \(size - 1))
        SELECT printf('u-%03d', i % 500), printf('p-%07d', i) FROM n
        """)
    _ = try await connection.query("COMMIT")
    let schema = try makeSchema(table)
    for record in try teamRecords(size, table, shared.encryptor) {
        guard try await store.insert(record, schema: schema) else { fatalError("duplicate seed row") }
        try await store.addCareTeamMember(subjectID: physicianID, patientID: record.patientID)
    }
    _ = try await connection.query("ANALYZE")
    print("seeded SQLite \(table): \(size) rows in \(ContinuousClock.now - start)")
    return try await makeWorld(
        size: size, table: table, store: store, raw: SQLiteRaw(connection: connection), shared: shared)
}

func makePostgresWorld(size: Int, shared: Shared, client: PostgresClient) async throws -> World {
    let table = "bench_charts_\(label(size))"
    let careTeams = try CareTeamTable(table: "bench_care_team_\(label(size))")
    for name in [table, careTeams.table] {
        _ = try await client.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(name)"))
    }
    let store = PostgresRecordStore(
        client: client, schemas: [try makeSchema(table)], careTeams: careTeams, timeout: .seconds(600))
    try await store.migrate()
    let start = ContinuousClock.now
    let step = size / teamSize
    try await client.withTransaction(logger: Logger(label: "bench")) { connection in
        _ = try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO \(table) (id, patient_id, demographics, problems)
                    SELECT 'r-' || lpad(i::text, 7, '0'), 'p-' || lpad(i::text, 7, '0'),
                           decode(repeat(md5(i::text), 6) || md5('d'), 'hex'), decode(repeat(md5(i::text), 6) || md5('p'), 'hex')
                    FROM generate_series(0, \(size - 1)) AS i WHERE i % \(step) <> 7
                    """), logger: Logger(label: "bench"))
        _ = try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO \(careTeams.table) (subject_id, patient_id)
                    SELECT 'u-' || lpad((i % 500)::text, 3, '0'), 'p-' || lpad(i::text, 7, '0')
                    FROM generate_series(0, \(size - 1)) AS i
                    """), logger: Logger(label: "bench"))
    }
    let schema = try makeSchema(table)
    for record in try teamRecords(size, table, shared.encryptor) {
        guard try await store.insert(record, schema: schema) else { fatalError("duplicate seed row") }
        try await store.addCareTeamMember(subjectID: physicianID, patientID: record.patientID)
    }
    _ = try await client.query(PostgresQuery(unsafeSQL: "ANALYZE \(table)"))
    _ = try await client.query(PostgresQuery(unsafeSQL: "ANALYZE \(careTeams.table)"))
    print("seeded PostgreSQL \(table): \(size) rows in \(ContinuousClock.now - start)")
    return try await makeWorld(size: size, table: table, store: store, raw: PostgresRaw(client: client), shared: shared)
}

/// What `list` replaces: every row fetched, `decide` per row, the first 50 allowed kept, their
/// visible fields decrypted, one committed audit record naming their patients.
func fetchAllAndDecide(_ world: World, _ principal: AuthenticatedPrincipal) async throws -> Int {
    let rows = try await world.raw.all(table: world.table)
    var kept: [(String, String, [String: String])] = []
    for (id, patient, demographics, problems) in rows {
        let decision = world.engine.decide(principal, .read, Resource(type: "chart", id: id, patientID: patient))
        guard decision.isAllowed else { continue }
        var values: [String: String] = [:]
        for (field, envelope) in zip(fieldNames, [demographics, problems]) where decision.isFieldVisible(field) {
            values[field] = try world.encryptor.decryptString(
                try FieldEnvelope(bytes: envelope),
                context: FieldContext(table: world.table, recordID: id, field: field))
        }
        kept.append((id, patient, values))
        if kept.count == pageSize { break }
    }
    try await world.log.append(
        try .accessDecision(
            actorID: principal.subject.id, role: "physician", action: "read", resourceType: "chart",
            resourceID: "query", patientID: kept.first?.1 ?? "none", fieldsReturned: fieldNames, allowed: true,
            ruleIDs: ["clinician-reads-chart"], sessionID: principal.sessionHandle, at: world.engine.clock.now))
    return kept.count
}

func listFirstPage(_ world: World, _ principal: AuthenticatedPrincipal) async throws -> Int {
    let page = try await world.records.list(as: principal, limit: pageSize)
    guard page.records.count == pageSize, page.nextCursor != nil else { fatalError("wrong first page") }
    return page.records.count
}

/// Worlds are seeded once per process and kept for every benchmark that uses them.
actor Worlds {
    static let shared = Worlds()
    private var cache: [String: World] = [:]
    private var sharedParts: Shared?
    private var client: PostgresClient?
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("phiguard-list-bench").path

    func parts() throws -> Shared {
        if let sharedParts { return sharedParts }
        let made = try Shared.make()
        sharedParts = made
        return made
    }

    func sqlite(_ size: Int) async throws -> World {
        if let world = cache["sqlite-\(size)"] { return world }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let world = try await makeSQLiteWorld(size: size, shared: try parts(), directory: directory)
        cache["sqlite-\(size)"] = world
        return world
    }

    func postgres(_ size: Int) async throws -> World? {
        if let world = cache["postgres-\(size)"] { return world }
        guard let client = try postgresClient() else { return nil }
        let world = try await makePostgresWorld(size: size, shared: try parts(), client: client)
        cache["postgres-\(size)"] = world
        return world
    }

    private func postgresClient() throws -> PostgresClient? {
        if let client { return client }
        guard let text = ProcessInfo.processInfo.environment["PHIGUARD_POSTGRES_URL"] else { return nil }
        var configuration = try PostgresConnectionURL(text).clientConfiguration()
        configuration.options.maximumConnections = 4
        let made = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "bench"))
        Task { await made.run() }
        client = made
        return made
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput], maxDuration: .seconds(5), maxIterations: 200)

    Benchmark(
        "plan: hospital policy, physician reads chart (per call, cached per role set and action)",
        configuration: .init(metrics: [.wallClock, .throughput], scalingFactor: .kilo, maxDuration: .seconds(5))
    ) { benchmark in
        let shared = try await Worlds.shared.parts()
        let engine = AccessEngine(policy: shared.policy, careTeams: Directory(team: []))
        let principal = try await signIn(team: [], teamList: false)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(engine.plan(principal, .read, resourceType: "chart"))
        }
        benchmark.stopMeasurement()
    }

    for size in sizes {
        let name = label(size)
        Benchmark("SQLite \(name): list first page of 50 (care-team subquery)") { benchmark in
            let world = try await Worlds.shared.sqlite(size)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { blackHole(try await listFirstPage(world, world.subqueryPrincipal)) }
            benchmark.stopMeasurement()
        }
        Benchmark("SQLite \(name): list first page of 50 (bound care-team id list)") { benchmark in
            let world = try await Worlds.shared.sqlite(size)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { blackHole(try await listFirstPage(world, world.listPrincipal)) }
            benchmark.stopMeasurement()
        }
        if size <= 100_000 {
            Benchmark(
                "SQLite \(name): fetch all rows + decide per row (baseline)",
                configuration: .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(10), maxIterations: 20)
            ) { benchmark in
                let world = try await Worlds.shared.sqlite(size)
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    blackHole(try await fetchAllAndDecide(world, world.subqueryPrincipal))
                }
                benchmark.stopMeasurement()
            }
        }
        Benchmark("PostgreSQL \(name): list first page of 50 (care-team subquery)") { benchmark in
            guard let world = try await Worlds.shared.postgres(size) else { return }
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { blackHole(try await listFirstPage(world, world.subqueryPrincipal)) }
            benchmark.stopMeasurement()
        }
        Benchmark("PostgreSQL \(name): list first page of 50 (bound care-team id list)") { benchmark in
            guard let world = try await Worlds.shared.postgres(size) else { return }
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { blackHole(try await listFirstPage(world, world.listPrincipal)) }
            benchmark.stopMeasurement()
        }
        if size <= 100_000 {
            Benchmark(
                "PostgreSQL \(name): fetch all rows + decide per row (baseline)",
                configuration: .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(10), maxIterations: 20)
            ) { benchmark in
                guard let world = try await Worlds.shared.postgres(size) else { return }
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    blackHole(try await fetchAllAndDecide(world, world.subqueryPrincipal))
                }
                benchmark.stopMeasurement()
            }
        }
    }
}
