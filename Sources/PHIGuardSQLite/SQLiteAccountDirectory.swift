import Foundation
public import Logging
internal import NIOCore
public import PHIGuardAuthentication
public import PHIGuardFieldEncryption
public import PHIGuardTOTP
internal import SQLiteNIO

/// The reference `AccountDirectory` in an SQLite file, with every row sealed.
///
/// Table `phiguard_accounts`: `id` (a random `a-…` id), `login_name` (the canonical
/// `LoginName.value`) and `skeleton` (`LoginName.skeleton`), **each unique**, the Argon2id
/// `password_hash`, the TOTP secret as a field-encryption envelope bound to
/// (`phiguard_accounts`, id, `totp_secret`) and its parameters, `roles` (JSON), `patient_id`,
/// `disabled`, `attributes` (JSON) and `seal`: a MAC with the `RowSealingKey` over every other
/// column, bound to the id.
///
/// - **Registration is one statement** (`INSERT … ON CONFLICT DO NOTHING RETURNING id`): of two
///   concurrent registrations of one name (or of look-alike names) exactly one creates an account.
/// - **Tampering is refused**: a row whose roles, patient link, disabled flag, attributes, hash or
///   secret were edited without the key fails its seal check; every lookup of it throws
///   `AccountDirectoryError.tampered` (`LoginFlow` answers the sign-in like a wrong password and
///   audits `integrity.tamper-detected`), and the administrative operations refuse to re-seal it.
/// - **Administration** (`AccountAdministration`): roles, patient link, disabled flag and attributes
///   change in one `BEGIN IMMEDIATE` transaction that checks the old seal and writes the new one.
public final class SQLiteAccountDirectory: AccountAdministration {
    private let database: SQLiteSerialConnection
    private let ownsConnection: Bool
    /// Identifies the connection the store runs on (tests check that stores share one).
    package var connectionIdentity: ObjectIdentifier { ObjectIdentifier(database) }
    private let sealing: RowSealingKey
    private let encryptor: FieldEncryptor

    private init(
        database: SQLiteSerialConnection, ownsConnection: Bool = true, sealing: RowSealingKey, encryptor: FieldEncryptor
    ) {
        self.database = database
        self.ownsConnection = ownsConnection
        self.sealing = sealing
        self.encryptor = encryptor
    }

    /// The store in `database`, its table made if needed, sharing the database's one connection with
    /// the other stores built from it. ``close()`` leaves the database open.
    public static func open(in database: SQLiteDatabase, sealingKey: RowSealingKey, encryptor: FieldEncryptor)
        async throws(AccountDirectoryError) -> SQLiteAccountDirectory
    {
        do { try await database.makeTables(createSchema) } catch { throw Self.mapped(error) }
        return SQLiteAccountDirectory(
            database: database.connection, ownsConnection: false, sealing: sealingKey, encryptor: encryptor)
    }

    /// Opens (creating if needed) the database at `path` and its account table. `sealingKey` seals
    /// and checks every row; `encryptor` encrypts the TOTP secrets. Call ``close()`` when done.
    public static func open(
        path: String, sealingKey: RowSealingKey, encryptor: FieldEncryptor, busyTimeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "phiguard.accounts.sqlite")
    ) async throws(AccountDirectoryError) -> SQLiteAccountDirectory {
        try await open(
            path: Optional(path), sealingKey: sealingKey, encryptor: encryptor, busyTimeout: busyTimeout,
            logger: logger)
    }

    /// Opens a private in-memory database (for tests): accounts end with the directory.
    public static func inMemory(sealingKey: RowSealingKey, encryptor: FieldEncryptor)
        async throws(AccountDirectoryError) -> SQLiteAccountDirectory
    {
        try await open(
            path: nil, sealingKey: sealingKey, encryptor: encryptor, busyTimeout: .seconds(5),
            logger: Logger(label: "phiguard.accounts.sqlite"))
    }

    private static func open(
        path: String?, sealingKey: RowSealingKey, encryptor: FieldEncryptor, busyTimeout: Duration, logger: Logger
    ) async throws(AccountDirectoryError) -> SQLiteAccountDirectory {
        do {
            let database = try await SQLiteSerialConnection.open(
                path: path, busyTimeout: busyTimeout, logger: logger, schema: createSchema)
            return SQLiteAccountDirectory(database: database, sealing: sealingKey, encryptor: encryptor)
        } catch {
            throw Self.mapped(error)
        }
    }

    /// Closes the database, after the operations already queued.
    public func close() async throws(AccountDirectoryError) {
        guard ownsConnection else { return }
        do { try await database.close() } catch { throw Self.mapped(error) }
    }

    private static func createSchema(_ connection: SQLiteConnection) async throws {
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS phiguard_accounts (
                id TEXT PRIMARY KEY NOT NULL, login_name TEXT NOT NULL UNIQUE, skeleton TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL, totp_secret TEXT, totp_parameters TEXT, roles TEXT NOT NULL,
                patient_id TEXT, disabled INTEGER NOT NULL, attributes TEXT NOT NULL, seal BLOB)
            """, [])
    }

    // MARK: AccountDirectory

    /// The account whose canonical login name is `loginName.value`; throws
    /// `AccountDirectoryError.tampered` if its row fails the seal check.
    public func account(loginName: LoginName) async throws(AccountDirectoryError) -> Account? {
        try await lookUp("login_name", loginName.value)
    }

    /// The account with id `accountID`; throws `AccountDirectoryError.tampered` if its row fails the seal check.
    public func account(id accountID: String) async throws(AccountDirectoryError) -> Account? {
        try await lookUp("id", accountID)
    }

    /// Creates the account in one statement unless its name or skeleton is taken (`nil` then).
    public func createAccount(loginName: LoginName, passwordHash: String, totp: TOTP?)
        async throws(AccountDirectoryError) -> String?
    {
        let row = try AccountRow.new(
            loginName: loginName, passwordHash: passwordHash, totp: totp, encryptor: encryptor, sealing: sealing)
        let binds = try Self.binds(row)
        let inserted = try await run { connection in
            try await connection.query(
                "INSERT INTO phiguard_accounts (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    + "ON CONFLICT DO NOTHING RETURNING id", binds
            ).count == 1
        }
        return inserted ? row.id : nil
    }

    /// Replaces the password hash (the row is checked and re-sealed).
    public func setPasswordHash(_ passwordHash: String, accountID: String) async throws(AccountDirectoryError) {
        try await update(accountID) { $0.passwordHash = passwordHash }
    }

    // MARK: AccountAdministration

    /// Replaces the roles.
    public func setRoles(_ roles: [String], accountID: String) async throws(AccountDirectoryError) {
        try await update(accountID) { $0.roles = roles }
    }

    /// Sets the patient link.
    public func setPatientID(_ patientID: String?, accountID: String) async throws(AccountDirectoryError) {
        try await update(accountID) { $0.patientID = patientID }
    }

    /// Disables or re-enables the account.
    public func setDisabled(_ isDisabled: Bool, accountID: String) async throws(AccountDirectoryError) {
        try await update(accountID) { $0.isDisabled = isDisabled }
    }

    /// Replaces the subject attributes.
    public func setAttributes(_ attributes: [String: String], accountID: String) async throws(AccountDirectoryError) {
        try await update(accountID) { $0.attributes = attributes }
    }

    /// Replaces the TOTP authenticator: the new secret is encrypted as at creation (bound to this
    /// account's id and `totp_secret`) and the row checked and re-sealed.
    public func setTOTP(_ totp: TOTP?, accountID: String) async throws(AccountDirectoryError) {
        let columns = try AccountRow.totpColumns(totp, accountID: accountID, encryptor: encryptor)
        try await update(accountID) {
            $0.totpSecret = columns.secret
            $0.totpParameters = columns.parameters
        }
    }

    // MARK: Rows

    private static let columns = """
        id, login_name, skeleton, password_hash, totp_secret, totp_parameters, roles, patient_id, disabled, \
        attributes, seal
        """

    private func lookUp(_ column: String, _ value: String) async throws(AccountDirectoryError) -> Account? {
        let rows = try await run { connection in
            try await connection.query(
                "SELECT \(Self.columns) FROM phiguard_accounts WHERE \(column) = ?", [.text(value)])
        }
        guard let row = rows.first else { return nil }
        return try Self.row(row).account(sealing: sealing, encryptor: encryptor)
    }

    /// Reads, checks, changes, re-seals and writes the row in one `BEGIN IMMEDIATE` transaction.
    private func update(_ accountID: String, _ change: @Sendable (inout AccountRow) -> Void)
        async throws(AccountDirectoryError)
    {
        let sealing = sealing
        do {
            try await database.transaction { connection -> (value: Void, commit: Bool) in
                let rows = try await connection.query(
                    "SELECT \(Self.columns) FROM phiguard_accounts WHERE id = ?", [.text(accountID)])
                guard let stored = rows.first else { throw AccountDirectoryError.unknownAccount }
                var row = try Self.row(stored)
                try row.verify(with: sealing)
                change(&row)
                row.reseal(with: sealing)
                _ = try await connection.query(
                    """
                    UPDATE phiguard_accounts SET password_hash = ?, totp_secret = ?, totp_parameters = ?, roles = ?,
                    patient_id = ?, disabled = ?, attributes = ?, seal = ? WHERE id = ?
                    """,
                    [
                        .text(row.passwordHash), row.totpSecret.map { .text($0) } ?? .null,
                        row.totpParameters.map { .text($0) } ?? .null, .text(try Self.json(row.roles)),
                        row.patientID.map { .text($0) } ?? .null,
                        .integer(row.isDisabled ? 1 : 0), .text(try Self.json(row.attributes)),
                        .blob(ByteBuffer(bytes: row.seal ?? [])), .text(accountID),
                    ])
                return ((), true)
            }
        } catch {
            throw Self.mapped(error)
        }
    }

    private func run<T>(_ body: (SQLiteConnection) async throws -> T) async throws(AccountDirectoryError) -> T {
        do { return try await database.exclusive(body) } catch { throw Self.mapped(error) }
    }

    /// A directory error for `error`, naming its type only (SQLite messages can quote values).
    private static func mapped(_ error: any Error) -> AccountDirectoryError {
        if let error = error as? AccountDirectoryError { return error }
        return .unavailable(String(describing: type(of: error)))
    }

    private static func json(_ value: some Encodable) throws(AccountDirectoryError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        do { return String(decoding: try encoder.encode(value), as: UTF8.self) } catch {
            throw .unavailable(String(describing: type(of: error)))
        }
    }

    private static func binds(_ row: AccountRow) throws(AccountDirectoryError) -> [SQLiteData] {
        func text(_ value: String?) -> SQLiteData { value.map { .text($0) } ?? .null }
        return [
            .text(row.id), .text(row.loginName), .text(row.skeleton), .text(row.passwordHash), text(row.totpSecret),
            text(row.totpParameters), .text(try json(row.roles)), text(row.patientID),
            .integer(row.isDisabled ? 1 : 0), .text(try json(row.attributes)),
            row.seal.map { .blob(ByteBuffer(bytes: $0)) } ?? .null,
        ]
    }

    /// Reads a row selected with ``columns``; a cell of the wrong type is `corruptRecord`.
    private static func row(_ row: SQLiteRow) throws(AccountDirectoryError) -> AccountRow {
        func cell(_ name: String) -> SQLiteData { row.column(name) ?? .null }
        func text(_ name: String) throws(AccountDirectoryError) -> String {
            guard case .text(let value) = cell(name) else { throw .corruptRecord(name) }
            return value
        }
        func optionalText(_ name: String) throws(AccountDirectoryError) -> String? {
            switch cell(name) {
            case .text(let value): return value
            case .null: return nil
            default: throw .corruptRecord(name)
            }
        }
        guard let roles = try? JSONDecoder().decode([String].self, from: Data(try text("roles").utf8)) else {
            throw .corruptRecord("roles")
        }
        guard
            let attributes = try? JSONDecoder().decode([String: String].self, from: Data(try text("attributes").utf8))
        else { throw .corruptRecord("attributes") }
        let disabled: Bool
        switch cell("disabled") {
        case .integer(0): disabled = false
        case .integer(1): disabled = true
        default: throw .corruptRecord("disabled")
        }
        let seal: [UInt8]?
        switch cell("seal") {
        case .blob(let bytes): seal = Array(buffer: bytes)
        case .null: seal = nil
        default: throw .corruptRecord("seal")
        }
        return AccountRow(
            id: try text("id"), loginName: try text("login_name"), skeleton: try text("skeleton"),
            passwordHash: try text("password_hash"), totpSecret: try optionalText("totp_secret"),
            totpParameters: try optionalText("totp_parameters"), roles: roles,
            patientID: try optionalText("patient_id"),
            isDisabled: disabled, attributes: attributes, seal: seal)
    }
}
