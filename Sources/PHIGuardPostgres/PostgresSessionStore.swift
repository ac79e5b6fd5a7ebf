public import Foundation
public import Logging
internal import NIOCore
internal import PHIGuardAccess
public import PHIGuardAuthentication
internal import PHIGuardCrypto
public import PostgresNIO

/// A `SessionStore` in PostgreSQL, shared by every portal instance.
///
/// One table (default `phiguard_sessions`) keyed by the 32-byte token hash (`BYTEA`; the token
/// itself is never stored), with `handle` unique and an index on `account_id`. Dates are `BIGINT`
/// microseconds since 1970, so they read back exactly to the microsecond; roles are a `TEXT[]`,
/// subject attributes a JSON object, and `seal` the opaque bytes `LoginFlow` computed (never checked here).
///
/// - **Atomic rotation**: ``replace(_:with:)`` is one statement
///   (`WITH gone AS (DELETE … RETURNING 1) INSERT … WHERE EXISTS (SELECT 1 FROM gone)`). Concurrent
///   rotations of one session, from any instance or connection, serialise on the row lock: the
///   first deletes the row and inserts its successor, the others find nothing to delete and change
///   nothing. A clash with an existing hash or handle fails the whole statement, so the old record stays.
/// - **Failures**: database errors become `SessionStoreError.unavailable`
///   (naming the error type only), as does an operation that takes longer than `timeout`; rows that
///   cannot be read back become `SessionStoreError.corruptRecord`.
///
/// ```swift
/// let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
/// Task { await client.run() }                       // the app owns and runs the client
/// let sessions = PostgresSessionStore(client: client)
/// try await sessions.migrate()
/// ```
public final class PostgresSessionStore: SessionStore {
    private let client: PostgresClient
    private let table: String
    private let logger: Logger
    /// How long an operation may take before it fails with
    /// `SessionStoreError.unavailable`.
    public let timeout: Duration

    /// A store on `client` in table `table` (1–40 of `a–z 0–9 _`, starting with a letter; any other
    /// name is a programming error and traps). An operation that has not finished after `timeout`
    /// (default 2 s: the pool keeps retrying an unreachable server for much longer) fails.
    public init(
        client: PostgresClient, table: String = "phiguard_sessions", timeout: Duration = .seconds(2),
        logger: Logger = Logger(label: "phiguard.sessions.postgres")
    ) {
        precondition(
            isValidTableName(table),
            "table name must be 1-40 of a-z 0-9 _ starting with a letter")
        self.client = client
        self.table = table
        self.logger = logger
        self.timeout = timeout
    }

    /// Creates the table and its indexes if they do not exist.
    public func migrate() async throws(SessionStoreError) {
        let statements = [
            """
            CREATE TABLE IF NOT EXISTS \(table) (
                token_hash BYTEA PRIMARY KEY CHECK (length(token_hash) = 32),
                handle TEXT NOT NULL UNIQUE, state TEXT NOT NULL, account_id TEXT, roles TEXT[] NOT NULL,
                patient_id TEXT, strength TEXT, created_at BIGINT NOT NULL, last_seen_at BIGINT NOT NULL,
                idle_expires_at BIGINT NOT NULL, absolute_expires_at BIGINT NOT NULL, authenticated_at BIGINT,
                recently_authenticated_at BIGINT, client_label TEXT, attributes TEXT NOT NULL DEFAULT '{}',
                seal BYTEA)
            """,
            // Tables made before sessions were sealed: their rows get no seal and are refused by `LoginFlow`.
            "ALTER TABLE \(table) ADD COLUMN IF NOT EXISTS attributes TEXT NOT NULL DEFAULT '{}'",
            "ALTER TABLE \(table) ADD COLUMN IF NOT EXISTS seal BYTEA",
            "CREATE INDEX IF NOT EXISTS \(table)_account ON \(table) (account_id)",
            "CREATE INDEX IF NOT EXISTS \(table)_expiry ON \(table) (LEAST(idle_expires_at, absolute_expires_at))",
        ]
        try await run { [client, logger] in
            for statement in statements {
                try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
    }

    // MARK: SessionStore

    /// Stores a new record; `SessionStoreError.duplicate` if its hash or handle is taken.
    public func insert(_ record: SessionRecord) async throws(SessionStoreError) {
        let query = insertQuery(record, condition: "", suffix: " ON CONFLICT DO NOTHING RETURNING 1")
        let inserted = try await run { [client, logger] in
            try await client.query(query, logger: logger).collect().count == 1
        }
        guard inserted else { throw .duplicate }
    }

    /// The record stored under `tokenHash`, if any.
    public func session(tokenHash: SessionTokenHash) async throws(SessionStoreError) -> SessionRecord? {
        try await records(
            "SELECT \(unescaped: Self.columns) FROM \(unescaped: table) WHERE token_hash = \(Self.bytes(tokenHash))"
        ).first
    }

    /// Removes the record under `old` and stores `new` in one statement; `false` (changing nothing) if
    /// `old` is no longer stored.
    public func replace(_ old: SessionTokenHash, with new: SessionRecord) async throws(SessionStoreError) -> Bool {
        // A plain INSERT (no ON CONFLICT): a clash fails the statement, undoing the DELETE with it.
        let query = insertQuery(
            new, condition: " WHERE EXISTS (SELECT 1 FROM gone)", suffix: " RETURNING 1", deleting: old)
        return try await run { [client, logger] in
            try await client.query(query, logger: logger).collect().count == 1
        }
    }

    /// Sets `lastSeenAt` and `idleExpiresAt` of the record under `tokenHash`, if any.
    public func touch(_ tokenHash: SessionTokenHash, lastSeenAt: Date, idleExpiresAt: Date)
        async throws(SessionStoreError)
    {
        let query: PostgresQuery = """
            UPDATE \(unescaped: table) SET last_seen_at = \(lastSeenAt.microsecondsSince1970),
            idle_expires_at = \(idleExpiresAt.microsecondsSince1970) WHERE token_hash = \(Self.bytes(tokenHash))
            """
        try await run { [client, logger] in
            _ = try await client.query(query, logger: logger)
        }
    }

    /// Removes and returns the record under `tokenHash`, if any.
    public func remove(_ tokenHash: SessionTokenHash) async throws(SessionStoreError) -> SessionRecord? {
        try await records(
            """
            DELETE FROM \(unescaped: table) WHERE token_hash = \(Self.bytes(tokenHash))
            RETURNING \(unescaped: Self.columns)
            """
        ).first
    }

    /// Every record of `accountID`, oldest first (ties by handle).
    public func sessions(accountID: String) async throws(SessionStoreError) -> [SessionRecord] {
        try await records(
            """
            SELECT \(unescaped: Self.columns) FROM \(unescaped: table) WHERE account_id = \(accountID)
            ORDER BY created_at, handle COLLATE "C"
            """)
    }

    /// Removes every record of `accountID` except the one with handle `keptHandle`; returns the removed,
    /// oldest first.
    public func removeSessions(accountID: String, except keptHandle: String?) async throws(SessionStoreError)
        -> [SessionRecord]
    {
        try await records(
            """
            DELETE FROM \(unescaped: table) WHERE account_id = \(accountID)
            AND handle IS DISTINCT FROM \(keptHandle) RETURNING \(unescaped: Self.columns)
            """
        ).sorted { ($0.createdAt, $0.handle) < ($1.createdAt, $1.handle) }
    }

    /// Removes every record expired at `now` (idle or absolute limit reached); returns how many.
    public func removeExpired(at now: Date) async throws(SessionStoreError) -> Int {
        let query: PostgresQuery = """
            WITH gone AS (DELETE FROM \(unescaped: table)
                WHERE LEAST(idle_expires_at, absolute_expires_at) <= \(now.microsecondsSince1970) RETURNING 1)
            SELECT count(*) FROM gone
            """
        return try await run { [client, logger] in
            var count = 0
            for try await (removed) in try await client.query(query, logger: logger).decode(Int64.self) {
                count = Int(removed)
            }
            return count
        }
    }

    // MARK: Queries and rows

    private static let columns = """
        token_hash, handle, state, account_id, roles, patient_id, strength, created_at, last_seen_at, \
        idle_expires_at, absolute_expires_at, authenticated_at, recently_authenticated_at, client_label, \
        attributes, seal
        """

    private static func bytes(_ hash: SessionTokenHash) -> ByteBuffer { ByteBuffer(bytes: hash.bytes) }

    /// `INSERT INTO table (columns) SELECT $1, …, $16 condition suffix`; with `deleting`, preceded
    /// by `WITH gone AS (DELETE FROM table WHERE token_hash = $17 RETURNING 1)`.
    private func insertQuery(
        _ record: SessionRecord, condition: String, suffix: String, deleting old: SessionTokenHash? = nil
    ) -> PostgresQuery {
        var binds = PostgresBindings(capacity: 17)
        binds.append(Self.bytes(record.tokenHash))
        binds.append(record.handle)
        binds.append(record.state.rawValue)
        binds.append(record.accountID)
        binds.append(record.roles)
        binds.append(record.patientID)
        binds.append(record.strength?.rawValue)
        binds.append(record.createdAt.microsecondsSince1970)
        binds.append(record.lastSeenAt.microsecondsSince1970)
        binds.append(record.idleExpiresAt.microsecondsSince1970)
        binds.append(record.absoluteExpiresAt.microsecondsSince1970)
        binds.append(record.authenticatedAt.map(\.microsecondsSince1970))
        binds.append(record.recentlyAuthenticatedAt.map(\.microsecondsSince1970))
        binds.append(record.clientLabel)
        binds.append(Self.attributesText(record.attributes))
        binds.append(record.seal.map { ByteBuffer(bytes: $0) })
        var prefix = ""
        if let old {
            binds.append(Self.bytes(old))
            prefix = "WITH gone AS (DELETE FROM \(table) WHERE token_hash = $17 RETURNING 1) "
        }
        let parameters = (1...16).map { "$\($0)" }.joined(separator: ", ")
        return PostgresQuery(
            unsafeSQL: "\(prefix)INSERT INTO \(table) (\(Self.columns)) SELECT \(parameters)\(condition)\(suffix)",
            binds: binds)
    }

    /// Runs `query` and reads every row as a record.
    private func records(_ query: PostgresQuery) async throws(SessionStoreError) -> [SessionRecord] {
        let rows = try await run { [client, logger] in
            try await client.query(query, logger: logger).collect()
        }
        return try rows.map { row throws(SessionStoreError) in try Self.record(row.makeRandomAccess()) }
    }

    /// Reads a row selected with ``columns``.
    private static func record(_ row: PostgresRandomAccessRow) throws(SessionStoreError) -> SessionRecord {
        func value<T: PostgresDecodable>(_ name: String, _ type: T.Type) throws(SessionStoreError) -> T {
            do { return try row[name].decode(T.self) } catch { throw .corruptRecord(name) }
        }
        // A time no clock reading maps to is a corrupt row, like a value of the wrong type.
        func time(_ name: String) throws(SessionStoreError) -> Date {
            guard let date = Date(storedMicroseconds: try value(name, Int64.self)) else { throw .corruptRecord(name) }
            return date
        }
        func optionalTime(_ name: String) throws(SessionStoreError) -> Date? {
            guard let stored = try value(name, Int64?.self) else { return nil }
            guard let date = Date(storedMicroseconds: stored) else { throw .corruptRecord(name) }
            return date
        }
        guard let tokenHash = SessionTokenHash(bytes: Array(buffer: try value("token_hash", ByteBuffer.self))) else {
            throw .corruptRecord("token_hash")
        }
        guard let state = SessionState(rawValue: try value("state", String.self)) else {
            throw .corruptRecord("state")
        }
        var strength: AuthenticationStrength?
        if let raw = try value("strength", String?.self) {
            guard let parsed = AuthenticationStrength(rawValue: raw) else { throw .corruptRecord("strength") }
            strength = parsed
        }
        guard
            let attributes = try? JSONDecoder().decode(
                [String: String].self, from: Data(try value("attributes", String.self).utf8))
        else { throw .corruptRecord("attributes") }
        let seal = try value("seal", ByteBuffer?.self).map { Array(buffer: $0) }
        return SessionRecord(
            tokenHash: tokenHash, handle: try value("handle", String.self), state: state,
            accountID: try value("account_id", String?.self), roles: try value("roles", [String].self),
            patientID: try value("patient_id", String?.self), strength: strength, createdAt: try time("created_at"),
            lastSeenAt: try time("last_seen_at"), idleExpiresAt: try time("idle_expires_at"),
            absoluteExpiresAt: try time("absolute_expires_at"), authenticatedAt: try optionalTime("authenticated_at"),
            recentlyAuthenticatedAt: try optionalTime("recently_authenticated_at"),
            clientLabel: try value("client_label", String?.self), attributes: attributes, seal: seal)
    }

    /// The attributes as a JSON object with sorted keys (`{}` when empty).
    private static func attributesText(_ attributes: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(attributes) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs `body`, or fails once `timeout` has passed (cancelling `body`); maps every failure to a
    /// `SessionStoreError` that names an error type only (server messages can quote values).
    private func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws(SessionStoreError)
        -> T
    {
        do {
            return try await withDeadline(timeout, body)
        } catch let error as SessionStoreError {
            throw error
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == PostgresError.Code.uniqueViolation.raw {
            throw .duplicate
        } catch {
            throw .unavailable(String(describing: type(of: error)))
        }
    }
}
