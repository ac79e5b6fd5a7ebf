public import Foundation
public import Logging
internal import NIOCore
internal import PHIGuardAccess
public import PHIGuardAuthentication
internal import PHIGuardCrypto
internal import SQLiteNIO

/// A `SessionStore` in an SQLite file: sessions survive a restart, on one host.
///
/// Table `phiguard_sessions`, keyed by the 32-byte token hash (a `BLOB`; the token itself is never
/// stored), with `handle` unique and an index on `account_id`. Dates are `INTEGER` microseconds since
/// 1970, so they read back exactly to the microsecond; roles are a JSON array, subject attributes a
/// JSON object, and `seal` the opaque bytes `LoginFlow` computed (the store never checks them).
///
/// - **Durable**: WAL mode with `synchronous=FULL`; a committed change survives a power cut.
/// - **Atomic rotation**: ``replace(_:with:)`` deletes the old record and inserts the new one in one
///   `BEGIN IMMEDIATE` transaction, so of several concurrent rotations of one session exactly one wins.
/// - **One host**: several processes on the same host may open the same file (SQLite's locks
///   serialise their writes). Do not put the file on a network file system; instances on several
///   hosts share sessions through `PostgresSessionStore` in `PHIGuardPostgres`.
/// - **Failures**: database errors become `SessionStoreError.unavailable`
///   (naming the error type only), rows that cannot be read back
///   `SessionStoreError.corruptRecord`.
///
/// ```swift
/// let database = try await SQLiteDatabase.open(path: "/var/lib/portal/portal.sqlite")
/// let sessions = try await SQLiteSessionStore.open(in: database)
/// let flow = try LoginFlow(..., sessions: sessions, ..., sealingKey: sealingKey)  // a key is required
/// // at shutdown
/// try await database.close()
/// ```
public final class SQLiteSessionStore: SessionStore {
    private let database: SQLiteSerialConnection
    private let ownsConnection: Bool
    /// Identifies the connection the store runs on (tests check that stores share one).
    package var connectionIdentity: ObjectIdentifier { ObjectIdentifier(database) }

    private init(database: SQLiteSerialConnection, ownsConnection: Bool) {
        self.database = database
        self.ownsConnection = ownsConnection
    }

    /// A store in `database`, sharing its connection with the other stores built from it (its table is
    /// made if needed). ``close()`` leaves the database open.
    public static func open(in database: SQLiteDatabase) async throws(SessionStoreError) -> SQLiteSessionStore {
        do { try await database.makeTables(createSchema) } catch { throw Self.mapped(error) }
        return SQLiteSessionStore(database: database.connection, ownsConnection: false)
    }

    /// Opens (creating if needed) the database at `path` and its session table, on a connection of
    /// its own (prefer ``open(in:)`` when other stores use the same file).
    ///
    /// A statement waits at most `busyTimeout` for another process's write lock before failing with
    /// `SessionStoreError.unavailable`. Call ``close()`` when done.
    public static func open(
        path: String, busyTimeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "phiguard.sessions.sqlite")
    ) async throws(SessionStoreError) -> SQLiteSessionStore {
        try await open(path: Optional(path), busyTimeout: busyTimeout, logger: logger)
    }

    /// Opens a private in-memory database (for tests): sessions end with the store.
    public static func inMemory() async throws(SessionStoreError) -> SQLiteSessionStore {
        try await open(path: nil, busyTimeout: .seconds(5), logger: Logger(label: "phiguard.sessions.sqlite"))
    }

    private static func open(path: String?, busyTimeout: Duration, logger: Logger) async throws(SessionStoreError)
        -> SQLiteSessionStore
    {
        do {
            let database = try await SQLiteSerialConnection.open(
                path: path, busyTimeout: busyTimeout, logger: logger, schema: createSchema)
            return SQLiteSessionStore(database: database, ownsConnection: true)
        } catch {
            throw Self.mapped(error)
        }
    }

    /// Closes the connection the store opened, after the operations already queued; does nothing for a
    /// store built with ``open(in:)`` (close its `SQLiteDatabase`). The store must not be used afterwards.
    public func close() async throws(SessionStoreError) {
        guard ownsConnection else { return }
        do { try await database.close() } catch { throw Self.mapped(error) }
    }

    private static func createSchema(_ connection: SQLiteConnection) async throws {
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS phiguard_sessions (
                token_hash BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
                handle TEXT NOT NULL UNIQUE, state TEXT NOT NULL, account_id TEXT, roles TEXT NOT NULL,
                patient_id TEXT, strength TEXT, created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL,
                idle_expires_at INTEGER NOT NULL, absolute_expires_at INTEGER NOT NULL, authenticated_at INTEGER,
                recently_authenticated_at INTEGER, client_label TEXT, attributes TEXT NOT NULL DEFAULT '{}',
                seal BLOB)
            """, [])
        // Tables made before sessions were sealed get the two columns; their rows have no seal, so
        // `LoginFlow` refuses them (users sign in again) instead of trusting them.
        let existing = try await connection.query("PRAGMA table_info(phiguard_sessions)", []).compactMap {
            row -> String? in
            if case .text(let name) = row.column("name") { name } else { nil }
        }
        if !existing.contains("attributes") {
            _ = try await connection.query(
                "ALTER TABLE phiguard_sessions ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}'", [])
        }
        if !existing.contains("seal") {
            _ = try await connection.query("ALTER TABLE phiguard_sessions ADD COLUMN seal BLOB", [])
        }
        _ = try await connection.query(
            "CREATE INDEX IF NOT EXISTS phiguard_sessions_account ON phiguard_sessions(account_id)", [])
        _ = try await connection.query(
            """
            CREATE INDEX IF NOT EXISTS phiguard_sessions_expiry
            ON phiguard_sessions(min(idle_expires_at, absolute_expires_at))
            """, [])
    }

    // MARK: SessionStore

    /// Stores a new record; `SessionStoreError.duplicate` if its hash or handle is taken.
    public func insert(_ record: SessionRecord) async throws(SessionStoreError) {
        let binds = try Self.binds(record)
        let inserted = try await run { connection in
            try await connection.query(Self.insertSQL, binds).count == 1
        }
        guard inserted else { throw .duplicate }
    }

    /// The record stored under `tokenHash`, if any.
    public func session(tokenHash: SessionTokenHash) async throws(SessionStoreError) -> SessionRecord? {
        let rows = try await run { connection in
            try await connection.query(
                "SELECT \(Self.columns) FROM phiguard_sessions WHERE token_hash = ?", [Self.blob(tokenHash)])
        }
        return try rows.first.map(Self.record)
    }

    /// Removes the record under `old` and stores `new` in one transaction; `false` (changing nothing)
    /// if `old` is no longer stored.
    public func replace(_ old: SessionTokenHash, with new: SessionRecord) async throws(SessionStoreError) -> Bool {
        let binds = try Self.binds(new)
        let outcome: Bool?
        do {
            outcome = try await database.transaction { connection -> (value: Bool?, commit: Bool) in
                let gone = try await connection.query(
                    "DELETE FROM phiguard_sessions WHERE token_hash = ? RETURNING 1", [Self.blob(old)])
                guard gone.count == 1 else { return (false, false) }
                let inserted = try await connection.query(Self.insertSQL, binds)
                guard inserted.count == 1 else { return (nil, false) }  // duplicate: keep the old record
                return (true, true)
            }
        } catch {
            throw Self.mapped(error)
        }
        guard let outcome else { throw .duplicate }
        return outcome
    }

    /// Sets `lastSeenAt` and `idleExpiresAt` of the record under `tokenHash`, if any.
    public func touch(_ tokenHash: SessionTokenHash, lastSeenAt: Date, idleExpiresAt: Date)
        async throws(SessionStoreError)
    {
        _ = try await run { connection in
            try await connection.query(
                "UPDATE phiguard_sessions SET last_seen_at = ?, idle_expires_at = ? WHERE token_hash = ?",
                [Self.integer(lastSeenAt), Self.integer(idleExpiresAt), Self.blob(tokenHash)])
        }
    }

    /// Removes and returns the record under `tokenHash`, if any.
    public func remove(_ tokenHash: SessionTokenHash) async throws(SessionStoreError) -> SessionRecord? {
        let rows = try await run { connection in
            try await connection.query(
                "DELETE FROM phiguard_sessions WHERE token_hash = ? RETURNING \(Self.columns)", [Self.blob(tokenHash)])
        }
        return try rows.first.map(Self.record)
    }

    /// Every record of `accountID`, oldest first (ties by handle).
    public func sessions(accountID: String) async throws(SessionStoreError) -> [SessionRecord] {
        let rows = try await run { connection in
            try await connection.query(
                "SELECT \(Self.columns) FROM phiguard_sessions WHERE account_id = ? ORDER BY created_at, handle",
                [.text(accountID)])
        }
        return try rows.map(Self.record)
    }

    /// Removes every record of `accountID` except the one with handle `keptHandle`; returns the removed,
    /// oldest first.
    public func removeSessions(accountID: String, except keptHandle: String?) async throws(SessionStoreError)
        -> [SessionRecord]
    {
        let rows = try await run { connection in
            try await connection.query(
                """
                DELETE FROM phiguard_sessions WHERE account_id = ? AND (? IS NULL OR handle <> ?)
                RETURNING \(Self.columns)
                """, [.text(accountID), Self.text(keptHandle), Self.text(keptHandle)])
        }
        return try rows.map(Self.record).sorted { ($0.createdAt, $0.handle) < ($1.createdAt, $1.handle) }
    }

    /// Removes every record expired at `now` (idle or absolute limit reached); returns how many.
    public func removeExpired(at now: Date) async throws(SessionStoreError) -> Int {
        try await run { connection in
            try await connection.query(
                "DELETE FROM phiguard_sessions WHERE min(idle_expires_at, absolute_expires_at) <= ? RETURNING 1",
                [Self.integer(now)]
            ).count
        }
    }

    // MARK: Rows

    private static let columns = """
        token_hash, handle, state, account_id, roles, patient_id, strength, created_at, last_seen_at, \
        idle_expires_at, absolute_expires_at, authenticated_at, recently_authenticated_at, client_label, \
        attributes, seal
        """

    private static let insertSQL =
        "INSERT INTO phiguard_sessions (\(columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        + "ON CONFLICT DO NOTHING RETURNING 1"

    /// Runs `body` with the connection, mapping failures to `SessionStoreError`.
    private func run<T>(_ body: (SQLiteConnection) async throws -> T) async throws(SessionStoreError) -> T {
        do { return try await database.exclusive(body) } catch { throw Self.mapped(error) }
    }

    /// A store error for `error`, naming its type only (SQLite messages can quote values).
    private static func mapped(_ error: any Error) -> SessionStoreError {
        if let error = error as? SessionStoreError { return error }
        return .unavailable(String(describing: type(of: error)))
    }

    private static func blob(_ hash: SessionTokenHash) -> SQLiteData { .blob(ByteBuffer(bytes: hash.bytes)) }
    private static func text(_ value: String?) -> SQLiteData { value.map { .text($0) } ?? .null }
    private static func integer(_ date: Date) -> SQLiteData { .integer(SQLiteInt64(date.microsecondsSince1970)) }
    private static func integer(_ date: Date?) -> SQLiteData { date.map(integer) ?? .null }

    private static func binds(_ record: SessionRecord) throws(SessionStoreError) -> [SQLiteData] {
        let roles: String
        let attributes: String
        do {
            roles = String(decoding: try JSONEncoder().encode(record.roles), as: UTF8.self)
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            attributes = String(decoding: try encoder.encode(record.attributes), as: UTF8.self)
        } catch {
            throw .unavailable(String(describing: type(of: error)))
        }
        return [
            blob(record.tokenHash), .text(record.handle), .text(record.state.rawValue), text(record.accountID),
            .text(roles), text(record.patientID), text(record.strength?.rawValue), integer(record.createdAt),
            integer(record.lastSeenAt), integer(record.idleExpiresAt), integer(record.absoluteExpiresAt),
            integer(record.authenticatedAt), integer(record.recentlyAuthenticatedAt), text(record.clientLabel),
            .text(attributes), record.seal.map { .blob(ByteBuffer(bytes: $0)) } ?? .null,
        ]
    }

    /// Reads a row selected with ``columns``.
    private static func record(_ row: SQLiteRow) throws(SessionStoreError) -> SessionRecord {
        func cell(_ name: String) -> SQLiteData { row.column(name) ?? .null }
        func text(_ name: String) throws(SessionStoreError) -> String {
            guard case .text(let value) = cell(name) else { throw .corruptRecord(name) }
            return value
        }
        func optionalText(_ name: String) throws(SessionStoreError) -> String? {
            switch cell(name) {
            case .text(let value): return value
            case .null: return nil
            default: throw .corruptRecord(name)
            }
        }
        // A time no clock reading maps to is a corrupt row, like a value of the wrong type.
        func time(_ name: String) throws(SessionStoreError) -> Date {
            guard case .integer(let value) = cell(name), let date = Date(storedMicroseconds: Int64(value)) else {
                throw .corruptRecord(name)
            }
            return date
        }
        func optionalTime(_ name: String) throws(SessionStoreError) -> Date? {
            switch cell(name) {
            case .integer(let value):
                guard let date = Date(storedMicroseconds: Int64(value)) else { throw .corruptRecord(name) }
                return date
            case .null: return nil
            default: throw .corruptRecord(name)
            }
        }
        guard case .blob(let hashBytes) = cell("token_hash"),
            let tokenHash = SessionTokenHash(bytes: Array(buffer: hashBytes))
        else { throw .corruptRecord("token_hash") }
        guard let state = SessionState(rawValue: try text("state")) else { throw .corruptRecord("state") }
        guard let roles = try? JSONDecoder().decode([String].self, from: Data(try text("roles").utf8)) else {
            throw .corruptRecord("roles")
        }
        var strength: AuthenticationStrength?
        if let raw = try optionalText("strength") {
            guard let parsed = AuthenticationStrength(rawValue: raw) else { throw .corruptRecord("strength") }
            strength = parsed
        }
        guard
            let attributes = try? JSONDecoder().decode([String: String].self, from: Data(try text("attributes").utf8))
        else { throw .corruptRecord("attributes") }
        let seal: [UInt8]?
        switch cell("seal") {
        case .blob(let bytes): seal = Array(buffer: bytes)
        case .null: seal = nil
        default: throw .corruptRecord("seal")
        }
        return SessionRecord(
            tokenHash: tokenHash, handle: try text("handle"), state: state, accountID: try optionalText("account_id"),
            roles: roles, patientID: try optionalText("patient_id"), strength: strength,
            createdAt: try time("created_at"), lastSeenAt: try time("last_seen_at"),
            idleExpiresAt: try time("idle_expires_at"), absoluteExpiresAt: try time("absolute_expires_at"),
            authenticatedAt: try optionalTime("authenticated_at"),
            recentlyAuthenticatedAt: try optionalTime("recently_authenticated_at"),
            clientLabel: try optionalText("client_label"), attributes: attributes, seal: seal)
    }
}
