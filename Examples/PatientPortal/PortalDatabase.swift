import Foundation
import Logging
import PHIGuardAccess
import PHIGuardAuthentication
import PHIGuardFieldEncryption
import PHIGuardRecords
import PHIGuardTOTP
import SQLiteNIO

/// The portal's own tables in the SQLite file: accounts, patients, chart fields and care teams.
/// PHIGuard's stores (sessions, lockout, rate limits, TOTP replay steps, audit log) keep their tables
/// in the same file, on one shared connection (`SQLiteDatabase`).
///
/// Every PHI value (a patient's name, date of birth, each chart field) and every secret (a login
/// name, a TOTP secret) is a `FieldEnvelope` bound to its table, record and field, so a value copied
/// into another row does not decrypt. Login names are found through a blind index; passwords are
/// stored only as Argon2id PHC strings.
///
/// It is the portal's `AccountDirectory` (for `LoginFlow`) and the `RecordStore` of its charts.
final class PortalDatabase: AccountDirectory, RecordStore {
    /// The chart fields the access policy declares for `chart` (Examples/Policies/hospital.yaml).
    static let chartFields = [
        "demographics", "contact", "insurance", "problems", "medications", "allergies", "vitals", "labs",
        "immunizations", "billing",
    ]

    private let connection: SQLiteConnection
    private let threadPool: NIOThreadPool
    private let encryptor: FieldEncryptor
    private let loginIndex: BlindIndex
    private let skeletonIndex: BlindIndex

    private init(
        connection: SQLiteConnection, threadPool: NIOThreadPool, encryptor: FieldEncryptor, loginIndex: BlindIndex,
        skeletonIndex: BlindIndex
    ) {
        self.connection = connection
        self.threadPool = threadPool
        self.encryptor = encryptor
        self.loginIndex = loginIndex
        self.skeletonIndex = skeletonIndex
    }

    /// Opens (creating if needed) the portal tables in `path`.
    ///
    /// The connection gets a thread of its own and a busy timeout (like PHIGuardSQLite's stores), so
    /// it waits for the other connections to the same file instead of failing or spinning.
    static func open(
        path: String, encryptor: FieldEncryptor, loginIndex: BlindIndex, skeletonIndex: BlindIndex, logger: Logger
    ) async throws -> PortalDatabase {
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(
                storage: .file(path: path), threadPool: threadPool, logger: logger,
                on: MultiThreadedEventLoopGroup.singleton.any())
        } catch {
            try? await threadPool.shutdownGracefully()
            throw error
        }
        let database = PortalDatabase(
            connection: connection, threadPool: threadPool, encryptor: encryptor, loginIndex: loginIndex,
            skeletonIndex: skeletonIndex)
        do {
            try await database.createSchema()
        } catch {
            try? await database.close()
            throw error
        }
        return database
    }

    /// Closes the connection and stops its thread.
    func close() async throws {
        defer { threadPool.shutdownGracefully { _ in } }
        try await connection.close()
    }

    private func createSchema() async throws {
        for statement in [
            "PRAGMA busy_timeout = 5000",
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            """
            CREATE TABLE IF NOT EXISTS portal_accounts (
                id TEXT PRIMARY KEY, login_index TEXT NOT NULL UNIQUE, login_skeleton_index TEXT NOT NULL UNIQUE,
                login_name TEXT NOT NULL,
                password_hash TEXT NOT NULL, totp_secret TEXT, roles TEXT NOT NULL, patient_id TEXT,
                disabled INTEGER NOT NULL DEFAULT 0, demo INTEGER NOT NULL DEFAULT 0)
            """,
            """
            CREATE TABLE IF NOT EXISTS portal_patients (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, date_of_birth TEXT NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS portal_chart_fields (
                patient_id TEXT NOT NULL REFERENCES portal_patients(id), field TEXT NOT NULL, value TEXT NOT NULL,
                PRIMARY KEY (patient_id, field))
            """,
            """
            CREATE TABLE IF NOT EXISTS portal_care_team (
                account_id TEXT NOT NULL, patient_id TEXT NOT NULL, PRIMARY KEY (account_id, patient_id))
            """,
        ] {
            _ = try await connection.query(statement, [])
        }
    }

    // MARK: Encryption helpers

    private func seal(_ text: String, table: String, record: String, field: String) throws -> String {
        try encryptor.encrypt(text, context: FieldContext(table: table, recordID: record, field: field)).text
    }

    private func open(_ stored: String, table: String, record: String, field: String) throws -> String {
        try encryptor.decryptString(
            try FieldEnvelope(text: stored), context: FieldContext(table: table, recordID: record, field: field))
    }

    /// The index of the canonical form: `LoginFlow` hands the directory `LoginName`s, so every
    /// spelling it treats as one name (and counts under one lockout key) finds the same row.
    private func loginIndexValue(_ loginName: LoginName) -> String { loginIndex.value(for: loginName.value).hex }

    private func skeletonIndexValue(_ loginName: LoginName) -> String {
        skeletonIndex.value(for: loginName.skeleton).hex
    }

    // MARK: AccountDirectory

    func account(loginName: LoginName) async throws -> Account? {
        let rows = try await connection.query(
            "SELECT * FROM portal_accounts WHERE login_index = ?", [.text(loginIndexValue(loginName))])
        guard let row = rows.first else { return nil }
        return try account(from: row)
    }

    func account(id accountID: String) async throws -> Account? {
        let rows = try await connection.query("SELECT * FROM portal_accounts WHERE id = ?", [.text(accountID)])
        guard let row = rows.first else { return nil }
        return try account(from: row)
    }

    /// A self-registered account: role `patient`, linked to no patient until staff verify who they are
    /// (so, under `relationship: self`, it can read no chart yet).
    func createAccount(loginName: LoginName, passwordHash: String, totp: TOTP?) async throws -> String? {
        let id = "u-" + UUID().uuidString.lowercased()
        return try await insertAccount(
            id: id, loginName: loginName, passwordHash: passwordHash, totp: totp, roles: ["patient"], patientID: nil,
            demo: false)
    }

    func setPasswordHash(_ passwordHash: String, accountID: String) async throws {
        _ = try await connection.query(
            "UPDATE portal_accounts SET password_hash = ? WHERE id = ?", [.text(passwordHash), .text(accountID)])
    }

    /// Inserts an account; `nil` if the login name or its skeleton (a look-alike) is taken (one
    /// statement, two unique columns: no check-then-insert race).
    func insertAccount(
        id: String, loginName: LoginName, passwordHash: String, totp: TOTP?, roles: [String], patientID: String?,
        demo: Bool
    ) async throws -> String? {
        let table = "portal_accounts"
        var secret: String?
        if let totp {
            var bytes = totp.secret.withUnsafeBytes { Array($0) }
            defer { Self.wipe(&bytes) }
            secret = try encryptor.encrypt(
                bytes, context: FieldContext(table: table, recordID: id, field: "totp_secret")
            )
            .text
        }
        let rows = try await connection.query(
            """
            INSERT INTO portal_accounts (id, login_index, login_skeleton_index, login_name, password_hash, totp_secret,
                roles, patient_id, demo)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id
            """,
            [
                .text(id), .text(loginIndexValue(loginName)), .text(skeletonIndexValue(loginName)),
                .text(try seal(loginName.value, table: table, record: id, field: "login_name")), .text(passwordHash),
                secret.map { .text($0) } ?? .null, .text(roles.joined(separator: " ")),
                patientID.map { .text($0) } ?? .null, .integer(demo ? 1 : 0),
            ])
        return rows.first?.column("id")?.string
    }

    private func account(from row: SQLiteRow) throws -> Account {
        guard let id = row.column("id")?.string, let hash = row.column("password_hash")?.string,
            let roles = row.column("roles")?.string
        else { throw PortalError.corruptRow }
        var totp: TOTP?
        if let stored = row.column("totp_secret")?.string {
            var bytes = try encryptor.decrypt(
                try FieldEnvelope(text: stored),
                context: FieldContext(table: "portal_accounts", recordID: id, field: "totp_secret"))
            defer { Self.wipe(&bytes) }
            totp = TOTP(secret: try TOTPSecret(bytes: bytes))
        }
        // Only 0 and 1 were ever written: any other value (a database someone else wrote) is refused
        // rather than read as "not disabled".
        guard let disabled = row.column("disabled")?.integer, disabled == 0 || disabled == 1 else {
            throw PortalError.corruptRow
        }
        return Account(
            id: id, passwordHash: hash, totp: totp, roles: roles.split(separator: " ").map(String.init),
            patientID: row.column("patient_id")?.string, isDisabled: disabled == 1)
    }

    /// The decrypted login name of `accountID` (shown to its owner by `whoami`).
    func loginName(accountID: String) async throws -> String? {
        let rows = try await connection.query(
            "SELECT login_name FROM portal_accounts WHERE id = ?", [.text(accountID)])
        guard let stored = rows.first?.column("login_name")?.string else { return nil }
        return try open(stored, table: "portal_accounts", record: accountID, field: "login_name")
    }

    /// A seeded demo account's id and authenticator; `nil` for real (registered) accounts.
    func demoAccount(loginName: String) async throws -> (id: String, totp: TOTP)? {
        guard let name = try? LoginName(loginName), let account = try await account(loginName: name),
            let totp = account.totp
        else { return nil }
        let rows = try await connection.query("SELECT demo FROM portal_accounts WHERE id = ?", [.text(account.id)])
        guard rows.first?.column("demo")?.integer == 1 else { return nil }
        return (account.id, totp)
    }

    // MARK: Patients and charts

    /// Stores a patient and their chart, every value encrypted for its row and field.
    func insertPatient(id: String, name: String, dateOfBirth: String, chart: [String: String]) async throws {
        _ = try await connection.query(
            "INSERT INTO portal_patients (id, name, date_of_birth) VALUES (?, ?, ?)",
            [
                .text(id), .text(try seal(name, table: "portal_patients", record: id, field: "name")),
                .text(try seal(dateOfBirth, table: "portal_patients", record: id, field: "date_of_birth")),
            ])
        // The chart's demographics field is the name and date of birth, sealed for the chart row.
        var chart = chart
        chart["demographics"] = "\(name), born \(dateOfBirth)"
        for (field, value) in chart.sorted(by: { $0.key < $1.key }) {
            _ = try await connection.query(
                "INSERT INTO portal_chart_fields (patient_id, field, value) VALUES (?, ?, ?)",
                [
                    .text(id), .text(field),
                    .text(try seal(value, table: "portal_chart_fields", record: id, field: field)),
                ])
        }
    }

    /// Puts `accountID` on the care team of `patientID`.
    func addToCareTeam(accountID: String, patientID: String) async throws {
        _ = try await connection.query(
            "INSERT INTO portal_care_team (account_id, patient_id) VALUES (?, ?)", [.text(accountID), .text(patientID)])
    }

    /// Every care-team membership, for the access engine's synchronous `CareTeamDirectory`.
    func careTeams() async throws -> PortalCareTeams {
        let rows = try await connection.query("SELECT account_id, patient_id FROM portal_care_team", [])
        var members: Set<PortalCareTeams.Membership> = []
        for row in rows {
            if let account = row.column("account_id")?.string, let patient = row.column("patient_id")?.string {
                members.insert(.init(accountID: account, patientID: patient))
            }
        }
        return PortalCareTeams(members: members)
    }

    // MARK: RecordStore (charts, read through GuardedRecords)

    /// The chart schema: one chart per patient (chart id = patient id), each field a sealed value in
    /// `portal_chart_fields` bound to (`portal_chart_fields`, patient id, field).
    static func chartSchema() throws -> RecordSchema {
        try RecordSchema(
            resourceType: "chart", table: "portal_chart_fields", recordIDColumn: "chart_id",
            patientIDColumn: "patient_id", fields: chartFields.map { RecordField.encrypted($0) })
    }

    /// The chart of patient `id`, every field still sealed; `nil` if there is no such patient.
    func fetch(_ id: String, schema: RecordSchema) async throws -> StoredRecord? {
        let patients = try await connection.query("SELECT id FROM portal_patients WHERE id = ?", [.text(id)])
        guard !patients.isEmpty else { return nil }
        let rows = try await connection.query(
            "SELECT field, value FROM portal_chart_fields WHERE patient_id = ?", [.text(id)])
        var columns: [String: StoredValue] = [:]
        for row in rows {
            guard let field = row.column("field")?.string, let value = row.column("value")?.string,
                let column = schema.field(named: field)?.column
            else { continue }
            columns[column] = .bytes(try FieldEnvelope(text: value).bytes)
        }
        return StoredRecord(id: id, patientID: id, columns: columns)
    }

    /// The portal only reads charts through `GuardedRecords`; it seeds them with `insertPatient`.
    func insert(_ record: StoredRecord, schema: RecordSchema) async throws -> Bool { throw PortalError.corruptRow }

    /// Not used by the portal (see ``insert(_:schema:)``).
    func update(_ id: String, patientID: String, columns: [String: StoredValue], schema: RecordSchema) async throws
        -> Bool
    { throw PortalError.corruptRow }

    /// Not used by the portal (see ``insert(_:schema:)``).
    func delete(_ id: String, patientID: String, schema: RecordSchema) async throws -> Bool {
        throw PortalError.corruptRow
    }

    /// Overwrites a copy of secret bytes (best effort: Swift may have made other copies).
    private static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { _ = memset(base, 0, buffer.count) }
        }
    }

    /// Runs `body` in one transaction (the seeding of `init`).
    func transaction(_ body: () async throws -> Void) async throws {
        _ = try await connection.query("BEGIN IMMEDIATE", [])
        do {
            try await body()
            _ = try await connection.query("COMMIT", [])
        } catch {
            _ = try? await connection.query("ROLLBACK", [])
            throw error
        }
    }
}

/// Care-team memberships loaded once per run: the engine asks synchronously, so it is answered from
/// memory (as `CareTeamDirectory` recommends), never with a database round trip per decision.
struct PortalCareTeams: CareTeamDirectory {
    /// One (account, patient) pair.
    struct Membership: Hashable, Sendable {
        var accountID: String
        var patientID: String
    }

    let members: Set<Membership>

    func isOnCareTeam(subjectID: String, patientID: String) -> Bool {
        members.contains(Membership(accountID: subjectID, patientID: patientID))
    }
}
