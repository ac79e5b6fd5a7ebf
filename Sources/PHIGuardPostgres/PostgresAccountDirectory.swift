import Foundation
public import Logging
internal import NIOCore
public import PHIGuardAuthentication
public import PHIGuardFieldEncryption
public import PHIGuardTOTP
public import PostgresNIO

/// The reference `AccountDirectory` in PostgreSQL, shared by every portal instance, with every row
/// sealed.
///
/// One table (default `phiguard_accounts`): `id`, `login_name` (the canonical `LoginName.value`)
/// and `skeleton` (`LoginName.skeleton`), **each unique**, `password_hash`, the TOTP secret as a
/// field-encryption envelope bound to (`phiguard_accounts`, id, `totp_secret`) and its parameters,
/// `roles` (`TEXT[]`), `patient_id`, `disabled`, `attributes` (JSON text) and `seal`: a MAC with the
/// `RowSealingKey` over every other column, bound to the id.
///
/// - **Registration is one statement** (`INSERT … ON CONFLICT DO NOTHING RETURNING id`): of
///   concurrent registrations of one name, from any instance, exactly one creates an account.
/// - **Tampering is refused**: a row edited with SQL (roles, patient link, disabled flag, attributes,
///   hash, secret) fails its seal check; lookups throw `AccountDirectoryError.tampered`.
/// - **Administration** (`AccountAdministration`) is compare-and-set on the seal
///   (`UPDATE … WHERE id = $ AND seal = $old`), retried a few times when another instance changed the
///   row in between; a tampered row is never re-sealed.
public final class PostgresAccountDirectory: AccountAdministration {
    private let client: PostgresClient
    private let table: String
    private let sealing: RowSealingKey
    private let encryptor: FieldEncryptor
    private let logger: Logger
    /// How long an operation may take before it fails with `AccountDirectoryError.unavailable`.
    public let timeout: Duration

    /// A directory on `client` in table `table` (1–40 of `a–z 0–9 _`, starting with a letter; any
    /// other name is a programming error and traps).
    public init(
        client: PostgresClient, sealingKey: RowSealingKey, encryptor: FieldEncryptor,
        table: String = "phiguard_accounts", timeout: Duration = .seconds(2),
        logger: Logger = Logger(label: "phiguard.accounts.postgres")
    ) {
        precondition(isValidTableName(table), "table name must be 1-40 of a-z 0-9 _ starting with a letter")
        self.client = client
        self.table = table
        self.sealing = sealingKey
        self.encryptor = encryptor
        self.logger = logger
        self.timeout = timeout
    }

    /// Creates the table if it does not exist.
    public func migrate() async throws(AccountDirectoryError) {
        let statement = """
            CREATE TABLE IF NOT EXISTS \(table) (
                id TEXT PRIMARY KEY, login_name TEXT NOT NULL UNIQUE, skeleton TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL, totp_secret TEXT, totp_parameters TEXT, roles TEXT[] NOT NULL,
                patient_id TEXT, disabled BOOLEAN NOT NULL, attributes TEXT NOT NULL, seal BYTEA)
            """
        try await run { [client, logger] in
            _ = try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
    }

    // MARK: AccountDirectory

    /// The account whose canonical login name is `loginName.value`; throws
    /// `AccountDirectoryError.tampered` if its row fails the seal check.
    public func account(loginName: LoginName) async throws(AccountDirectoryError) -> Account? {
        try await rows(
            "SELECT \(unescaped: Self.columns) FROM \(unescaped: table) WHERE login_name = \(loginName.value)"
        )
        .first?.account(sealing: sealing, encryptor: encryptor)
    }

    /// The account with id `accountID`; throws `AccountDirectoryError.tampered` if its row fails the seal check.
    public func account(id accountID: String) async throws(AccountDirectoryError) -> Account? {
        try await rows("SELECT \(unescaped: Self.columns) FROM \(unescaped: table) WHERE id = \(accountID)")
            .first?.account(sealing: sealing, encryptor: encryptor)
    }

    /// Creates the account in one statement unless its name or skeleton is taken (`nil` then).
    public func createAccount(loginName: LoginName, passwordHash: String, totp: TOTP?)
        async throws(AccountDirectoryError) -> String?
    {
        let row = try AccountRow.new(
            loginName: loginName, passwordHash: passwordHash, totp: totp, encryptor: encryptor, sealing: sealing)
        let query: PostgresQuery = """
            INSERT INTO \(unescaped: table) (\(unescaped: Self.columns)) VALUES (\(row.id), \(row.loginName),
            \(row.skeleton), \(row.passwordHash), \(row.totpSecret), \(row.totpParameters), \(row.roles),
            \(row.patientID), \(row.isDisabled), \(Self.json(row.attributes)), \(Self.bytes(row.seal)))
            ON CONFLICT DO NOTHING RETURNING id
            """
        let inserted = try await run { [client, logger] in
            try await client.query(query, logger: logger).collect().count == 1
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

    /// Compare-and-set on the seal: read, check, change, re-seal, write only if the row still has
    /// the seal read (another writer in between: read again, at most 5 times).
    private func update(_ accountID: String, _ change: (inout AccountRow) -> Void) async throws(AccountDirectoryError) {
        for _ in 0..<5 {
            let query: PostgresQuery =
                "SELECT \(unescaped: Self.columns) FROM \(unescaped: table) WHERE id = \(accountID)"
            guard var row = try await rows(query).first else { throw .unknownAccount }
            try row.verify(with: sealing)
            let previous = row.seal
            change(&row)
            row.reseal(with: sealing)
            let write: PostgresQuery = """
                UPDATE \(unescaped: table) SET password_hash = \(row.passwordHash), totp_secret = \(row.totpSecret),
                totp_parameters = \(row.totpParameters), roles = \(row.roles),
                patient_id = \(row.patientID), disabled = \(row.isDisabled), attributes = \(Self.json(row.attributes)),
                seal = \(Self.bytes(row.seal)) WHERE id = \(accountID) AND seal = \(Self.bytes(previous)) RETURNING 1
                """
            let written = try await run { [client, logger] in
                try await client.query(write, logger: logger).collect().count == 1
            }
            if written { return }
        }
        throw .unavailable("concurrent-update")
    }

    private static func bytes(_ seal: [UInt8]?) -> ByteBuffer? { seal.map { ByteBuffer(bytes: $0) } }

    private static func json(_ attributes: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(attributes) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    private func rows(_ query: PostgresQuery) async throws(AccountDirectoryError) -> [AccountRow] {
        let rows = try await run { [client, logger] in
            try await client.query(query, logger: logger).collect()
        }
        return try rows.map { row throws(AccountDirectoryError) in try Self.row(row.makeRandomAccess()) }
    }

    private static func row(_ row: PostgresRandomAccessRow) throws(AccountDirectoryError) -> AccountRow {
        func value<T: PostgresDecodable>(_ name: String, _ type: T.Type) throws(AccountDirectoryError) -> T {
            do { return try row[name].decode(T.self) } catch { throw .corruptRecord(name) }
        }
        guard
            let attributes = try? JSONDecoder().decode(
                [String: String].self, from: Data(try value("attributes", String.self).utf8))
        else { throw .corruptRecord("attributes") }
        return AccountRow(
            id: try value("id", String.self), loginName: try value("login_name", String.self),
            skeleton: try value("skeleton", String.self), passwordHash: try value("password_hash", String.self),
            totpSecret: try value("totp_secret", String?.self),
            totpParameters: try value("totp_parameters", String?.self),
            roles: try value("roles", [String].self), patientID: try value("patient_id", String?.self),
            isDisabled: try value("disabled", Bool.self), attributes: attributes,
            seal: try value("seal", ByteBuffer?.self).map { Array(buffer: $0) })
    }

    /// Runs `body` within `timeout`; failures become `AccountDirectoryError` naming a type only.
    private func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws(AccountDirectoryError)
        -> T
    {
        do {
            return try await withDeadline(timeout, body)
        } catch let error as AccountDirectoryError {
            throw error
        } catch {
            throw .unavailable(String(describing: type(of: error)))
        }
    }
}

/// A `CareTeamStore` in PostgreSQL, shared by every instance, with every membership row sealed.
///
/// One table (default `phiguard_care_teams`: `member_id`, `patient_id`, `seal`; the pair is the
/// primary key). `LoginFlow` reads a user's memberships on every request, so a change made here by
/// any instance counts from the user's next request. A row edited with SQL (its patient or member
/// changed) fails its seal check: ``patients(ofMember:)`` throws `CareTeamStoreError.tampered`.
public final class PostgresCareTeamStore: CareTeamStore {
    private let client: PostgresClient
    private let table: String
    private let sealing: RowSealingKey
    private let logger: Logger
    /// How long an operation may take before it fails with `CareTeamStoreError.unavailable`.
    public let timeout: Duration

    /// A store on `client` in table `table` (1–40 of `a–z 0–9 _`, starting with a letter; any other
    /// name is a programming error and traps).
    public init(
        client: PostgresClient, sealingKey: RowSealingKey, table: String = "phiguard_care_teams",
        timeout: Duration = .seconds(2), logger: Logger = Logger(label: "phiguard.care-teams.postgres")
    ) {
        precondition(isValidTableName(table), "table name must be 1-40 of a-z 0-9 _ starting with a letter")
        self.client = client
        self.table = table
        self.sealing = sealingKey
        self.logger = logger
        self.timeout = timeout
    }

    /// Creates the table if it does not exist.
    public func migrate() async throws(CareTeamStoreError) {
        let statement = """
            CREATE TABLE IF NOT EXISTS \(table) (
                member_id TEXT NOT NULL, patient_id TEXT NOT NULL, seal BYTEA, PRIMARY KEY (member_id, patient_id))
            """
        try await run { [client, logger] in
            _ = try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
    }

    /// The patients on whose care teams `memberID` is; throws `CareTeamStoreError.tampered` if any
    /// of the member's rows fails its seal check.
    public func patients(ofMember memberID: String) async throws(CareTeamStoreError) -> Set<String> {
        let query: PostgresQuery =
            "SELECT member_id, patient_id, seal FROM \(unescaped: table) WHERE member_id = \(memberID)"
        let rows = try await run { [client, logger] in
            try await client.query(query, logger: logger).collect()
        }
        var patients: Set<String> = []
        for row in rows {
            let row = row.makeRandomAccess()
            let member: String
            let patient: String
            let seal: [UInt8]?
            do {
                member = try row["member_id"].decode(String.self)
                patient = try row["patient_id"].decode(String.self)
                seal = try row["seal"].decode(ByteBuffer?.self).map { Array(buffer: $0) }
            } catch {
                throw .corruptRecord("member_id, patient_id or seal")
            }
            try CareTeamRow.verify(seal, memberID: member, patientID: patient, with: sealing)
            patients.insert(patient)
        }
        return patients
    }

    /// Adds (or re-seals) the membership.
    public func add(memberID: String, patientID: String) async throws(CareTeamStoreError) {
        guard !memberID.isEmpty, !patientID.isEmpty else { throw .emptyIdentifier }
        let seal = ByteBuffer(bytes: CareTeamRow.seal(memberID: memberID, patientID: patientID, with: sealing))
        let query: PostgresQuery = """
            INSERT INTO \(unescaped: table) (member_id, patient_id, seal) VALUES (\(memberID), \(patientID), \(seal))
            ON CONFLICT (member_id, patient_id) DO UPDATE SET seal = EXCLUDED.seal
            """
        try await run { [client, logger] in
            _ = try await client.query(query, logger: logger)
        }
    }

    /// Removes the membership; returns whether it was stored.
    @discardableResult
    public func remove(memberID: String, patientID: String) async throws(CareTeamStoreError) -> Bool {
        let query: PostgresQuery = """
            DELETE FROM \(unescaped: table) WHERE member_id = \(memberID) AND patient_id = \(patientID) RETURNING 1
            """
        return try await run { [client, logger] in
            try await client.query(query, logger: logger).collect().count == 1
        }
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws(CareTeamStoreError)
        -> T
    {
        do {
            return try await withDeadline(timeout, body)
        } catch let error as CareTeamStoreError {
            throw error
        } catch {
            throw .unavailable(String(describing: type(of: error)))
        }
    }
}
