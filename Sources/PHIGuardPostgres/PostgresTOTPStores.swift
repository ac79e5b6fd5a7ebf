public import Logging
internal import NIOCore
public import PHIGuardTOTP
public import PostgresNIO

/// The last accepted TOTP step of each account in PostgreSQL, shared by every portal instance: a code
/// is accepted at most once (RFC 6238 §5.2) across all of them.
///
/// Table `<table>` (default `phiguard_totp_replay`: `account_id TEXT PRIMARY KEY`, `last_step BIGINT`).
///
/// - **Atomic compare-and-set**: ``advance(accountID:to:)`` is one statement,
///   `INSERT … ON CONFLICT (account_id) DO UPDATE SET last_step = EXCLUDED.last_step WHERE
///   last_step < EXCLUDED.last_step RETURNING 1`; PostgreSQL serialises concurrent upserts of one key
///   on the row, so of several concurrent advances to one step, from any connection or instance,
///   exactly one returns `true`.
/// - **Stored values are checked**: a negative stored step (a table someone else wrote) is
///   `TOTPStoreError.corruptRecord` and is never overwritten; a step above `Int64.max` is
///   `TOTPStoreError.stepOutOfRange`.
/// - **Failures**: any database error, or an operation slower than ``timeout``, becomes
///   `TOTPStoreError.unavailable` naming the error type only; the verifier then accepts nothing.
///
/// ```swift
/// let replay = try PostgresTOTPReplayStore(client: client)
/// try await replay.migrate()
/// let verifier = try TOTPVerifier(replayStore: replay)
/// ```
public final class PostgresTOTPReplayStore: TOTPReplayStore {
    private let client: PostgresClient
    private let table: String
    private let logger: Logger
    /// How long an operation may take before it fails with `TOTPStoreError.unavailable`.
    public let timeout: Duration

    /// A store on `client` in table `table` (1–40 of `a–z 0–9 _`, starting with a letter; anything
    /// else is `TOTPStoreError.invalidTableName`).
    public init(
        client: PostgresClient, table: String = "phiguard_totp_replay", timeout: Duration = .seconds(2),
        logger: Logger = Logger(label: "phiguard.totp.postgres")
    ) throws(TOTPStoreError) {
        guard isValidTableName(table) else { throw .invalidTableName }
        self.client = client
        self.table = table
        self.timeout = timeout
        self.logger = logger
    }

    /// Creates the table if it does not exist.
    public func migrate() async throws(TOTPStoreError) {
        let statement =
            "CREATE TABLE IF NOT EXISTS \(table) (account_id TEXT PRIMARY KEY, last_step BIGINT NOT NULL)"
        try await totpStoreRun(timeout) { [client, logger] in
            _ = try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
    }

    /// The last step accepted for `accountID`, or `nil`; `TOTPStoreError.corruptRecord` for a
    /// negative stored step.
    public func lastAcceptedStep(accountID: String) async throws(TOTPStoreError) -> UInt64? {
        let query: PostgresQuery = "SELECT last_step FROM \(unescaped: table) WHERE account_id = \(accountID)"
        let stored = try await totpStoreRun(timeout) { [client, logger] () async throws -> Int64? in
            var value: Int64?
            for try await step in try await client.query(query, logger: logger).decode(Int64.self) { value = step }
            return value
        }
        guard let stored else { return nil }
        guard let step = UInt64(exactly: stored) else { throw .corruptRecord("last_step") }
        return step
    }

    /// One statement: inserts the first step, or raises a lower valid one; `true` only if a row changed.
    public func advance(accountID: String, to step: UInt64) async throws(TOTPStoreError) -> Bool {
        guard let value = Int64(exactly: step) else { throw .stepOutOfRange }
        let query: PostgresQuery = """
            INSERT INTO \(unescaped: table) AS stored (account_id, last_step) VALUES (\(accountID), \(value))
            ON CONFLICT (account_id) DO UPDATE SET last_step = EXCLUDED.last_step
            WHERE stored.last_step >= 0 AND stored.last_step < EXCLUDED.last_step
            RETURNING 1
            """
        return try await totpStoreRun(timeout) { [client, logger] in
            try await client.query(query, logger: logger).collect().count == 1
        }
    }

    /// Forgets an account's step (when its TOTP credential is removed or re-enrolled).
    public func remove(accountID: String) async throws(TOTPStoreError) {
        let query: PostgresQuery = "DELETE FROM \(unescaped: table) WHERE account_id = \(accountID)"
        try await totpStoreRun(timeout) { [client, logger] in
            _ = try await client.query(query, logger: logger)
        }
    }
}

/// Each account's unused recovery-code hashes in PostgreSQL, shared by every portal instance.
///
/// Table `<table>` (default `phiguard_recovery_codes`: `account_id TEXT`, `hash BYTEA` of 32 bytes,
/// primary key both). Only the keyed hashes from `RecoveryCodeHasher` are stored, never a code.
///
/// - **Atomic consume**: ``consume(_:accountID:)`` is one `DELETE … WHERE account_id = $1 AND
///   hash = $2 RETURNING 1`; of several concurrent redemptions of one code, from any connection or
///   instance, exactly one deletes the row and returns `true`. The lookup compares hashes in the
///   server's index, not in memory: a timing difference there could reveal at most a prefix of a
///   keyed 256-bit hash, which says nothing about any code.
/// - **Replace all at once**: ``replaceCodes(_:accountID:)`` runs in one transaction holding a
///   transaction-scoped advisory lock on the account, so two concurrent replacements never merge
///   into a union of both sets; the last one wins whole.
/// - **Failures**: any database error, or an operation slower than ``timeout``, becomes
///   `TOTPStoreError.unavailable` naming the error type only.
///
/// ```swift
/// let codes = try PostgresRecoveryCodeStore(client: client)
/// try await codes.migrate()
/// if try await hasher.redeem(typed, accountID: account.id, in: codes) { signIn() }
/// ```
public final class PostgresRecoveryCodeStore: RecoveryCodeStore {
    private let client: PostgresClient
    private let table: String
    private let logger: Logger
    /// How long an operation may take before it fails with `TOTPStoreError.unavailable`.
    public let timeout: Duration

    /// A store on `client` in table `table` (1–40 of `a–z 0–9 _`, starting with a letter; anything
    /// else is `TOTPStoreError.invalidTableName`).
    public init(
        client: PostgresClient, table: String = "phiguard_recovery_codes", timeout: Duration = .seconds(2),
        logger: Logger = Logger(label: "phiguard.recovery-codes.postgres")
    ) throws(TOTPStoreError) {
        guard isValidTableName(table) else { throw .invalidTableName }
        self.client = client
        self.table = table
        self.timeout = timeout
        self.logger = logger
    }

    /// Creates the table if it does not exist.
    public func migrate() async throws(TOTPStoreError) {
        let statement = """
            CREATE TABLE IF NOT EXISTS \(table) (
                account_id TEXT NOT NULL, hash BYTEA NOT NULL CHECK (length(hash) = 32),
                PRIMARY KEY (account_id, hash))
            """
        try await totpStoreRun(timeout) { [client, logger] in
            _ = try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
    }

    /// Replaces every code of `accountID` with `hashes` in one transaction (duplicates kept once).
    public func replaceCodes(_ hashes: [RecoveryCodeHash], accountID: String) async throws(TOTPStoreError) {
        let table = table
        let lockKey = table + ":" + accountID
        let buffers = hashes.map { ByteBuffer(bytes: $0.bytes) }
        try await totpStoreRun(timeout) { [client, logger] in
            try await client.withTransaction(logger: logger) { connection in
                // Serialises replacements of one account (READ COMMITTED would otherwise let two
                // concurrent ones each delete the old set and both insert).
                try await connection.query(
                    "SELECT pg_advisory_xact_lock(hashtextextended(\(lockKey), 0))", logger: logger)
                try await connection.query(
                    "DELETE FROM \(unescaped: table) WHERE account_id = \(accountID)", logger: logger)
                for buffer in buffers {
                    try await connection.query(
                        """
                        INSERT INTO \(unescaped: table) (account_id, hash) VALUES (\(accountID), \(buffer))
                        ON CONFLICT DO NOTHING
                        """, logger: logger)
                }
            }
        }
    }

    /// Deletes `hash` from `accountID`'s codes in one statement; `true` only if this call deleted it.
    public func consume(_ hash: RecoveryCodeHash, accountID: String) async throws(TOTPStoreError) -> Bool {
        let query: PostgresQuery = """
            DELETE FROM \(unescaped: table) WHERE account_id = \(accountID) AND hash = \(ByteBuffer(bytes: hash.bytes))
            RETURNING 1
            """
        return try await totpStoreRun(timeout) { [client, logger] in
            try await client.query(query, logger: logger).collect().count == 1
        }
    }

    /// How many unused codes `accountID` has.
    public func remainingCount(accountID: String) async throws(TOTPStoreError) -> Int {
        let query: PostgresQuery = "SELECT count(*)::BIGINT FROM \(unescaped: table) WHERE account_id = \(accountID)"
        let count = try await totpStoreRun(timeout) { [client, logger] () async throws -> Int64 in
            var count: Int64 = 0
            for try await value in try await client.query(query, logger: logger).decode(Int64.self) { count = value }
            return count
        }
        guard let remaining = Int(exactly: count), remaining >= 0 else { throw .corruptRecord("count") }
        return remaining
    }
}

/// Runs `body` within `timeout`; every failure becomes `TOTPStoreError.unavailable` naming its
/// type only (`TOTPStoreError` passes through).
private func totpStoreRun<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T)
    async throws(TOTPStoreError) -> T
{
    do {
        return try await withDeadline(timeout, body)
    } catch is DeadlineExceeded {
        throw .unavailable("timed out")
    } catch let error as TOTPStoreError {
        throw error
    } catch {
        throw .unavailable(String(describing: type(of: error)))
    }
}
