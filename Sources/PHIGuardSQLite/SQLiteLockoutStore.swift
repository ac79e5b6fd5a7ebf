public import Logging
internal import NIOCore
internal import PHIGuardCrypto
public import PHIGuardRateLimit
internal import SQLiteNIO

/// Lockout counters (`LockoutPolicy`) in an SQLite file: delays and locks survive a restart, on
/// one host.
///
/// - **Atomic**: each admission or failure is one `BEGIN IMMEDIATE` transaction (read the counters,
///   apply the policy, write), so concurrent attempts from any number of tasks, connections and
///   processes on the host are all counted.
/// - **Survives a restart**: times are wall-clock nanoseconds (the clock's wall reading), as in
///   ``SQLiteRateLimitStore``.
/// - **No identifiers at rest**: login names, account ids and client addresses are stored only as
///   16-byte keyed BLAKE2b digests, in tables `phiguard_lockout_accounts` and
///   `phiguard_lockout_addresses`.
/// - **Bounded**: ``removeSettled()`` deletes accounts whose counters no longer matter (run it
///   periodically); at most 64 address entries are kept per account (the least delayed others are
///   dropped first).
/// - **Failures**: any database error becomes `RateLimitError.storeUnavailable`; the login
///   flow then refuses the attempt (fail closed).
///
/// ```swift
/// let secret = try DigestSecret(copying: loadLockoutSecret())  // 32 bytes, kept across restarts
/// let lockout = try await SQLiteLockoutStore.open(in: database, keyDigestSecret: secret)
/// let flow = try LoginFlow(accounts: directory, sessions: sessions, passwords: hasher, totp: verifier,
///                          throttle: lockout)
/// ```
public final class SQLiteLockoutStore: LockoutStore {
    /// The policy.
    public let policy: LockoutPolicy
    private let database: SQLiteSerialConnection
    private let ownsConnection: Bool
    /// Identifies the connection the store runs on (tests check that stores share one).
    package var connectionIdentity: ObjectIdentifier { ObjectIdentifier(database) }
    private let digester: KeyedDigest
    private let clock: any PHIGuardClock

    private init(
        policy: LockoutPolicy, database: SQLiteSerialConnection, ownsConnection: Bool, digester: KeyedDigest,
        clock: any PHIGuardClock
    ) {
        self.policy = policy
        self.database = database
        self.ownsConnection = ownsConnection
        self.digester = digester
        self.clock = clock
    }

    /// A store in `database`, sharing its connection with the other stores built from it (its tables
    /// are made if needed). ``close()`` leaves the database open.
    ///
    /// `keyDigestSecret` keys the digests; keep it across restarts (a new secret forgets every
    /// counter) and out of the database. Times are the wall reading of `clock` (nanoseconds since
    /// 1970), so counters survive a restart.
    public static func open(
        in database: SQLiteDatabase, policy: LockoutPolicy = .standard, keyDigestSecret: DigestSecret,
        clock: any PHIGuardClock = SystemClock()
    ) async throws(RateLimitError) -> SQLiteLockoutStore {
        do { try await database.makeTables(createSchema) } catch {
            throw .storeUnavailable("cannot create the SQLite lockout tables")
        }
        return SQLiteLockoutStore(
            policy: policy, database: database.connection, ownsConnection: false,
            digester: KeyedDigest(secret: keyDigestSecret), clock: clock)
    }

    /// Opens (creating if needed) the database at `path` (`nil`: a private in-memory database) and
    /// its tables, on a connection of its own (prefer ``open(in:policy:keyDigestSecret:clock:)`` when
    /// other stores use the same file).
    ///
    /// `keyDigestSecret` keys the digests; keep it across restarts (a new secret forgets every
    /// counter) and out of the database. A call waits at most `busyTimeout` for another process's
    /// write lock before failing. Times are the wall reading of `clock` (nanoseconds since 1970), so
    /// counters survive a restart. Call ``close()`` when done.
    public static func open(
        path: String?, policy: LockoutPolicy = .standard, keyDigestSecret: DigestSecret,
        clock: any PHIGuardClock = SystemClock(), busyTimeout: Duration = .seconds(2),
        logger: Logger = Logger(label: "phiguard.lockout.sqlite")
    ) async throws(RateLimitError) -> SQLiteLockoutStore {
        let database: SQLiteSerialConnection
        do {
            database = try await SQLiteSerialConnection.open(path: path, busyTimeout: busyTimeout, logger: logger)
        } catch {
            throw .storeUnavailable("cannot open the SQLite lockout database")
        }
        do {
            try await database.exclusive(createSchema)
        } catch {
            try? await database.close()
            throw .storeUnavailable("cannot create the SQLite lockout tables")
        }
        return SQLiteLockoutStore(
            policy: policy, database: database, ownsConnection: true, digester: KeyedDigest(secret: keyDigestSecret),
            clock: clock)
    }

    /// Opens the database at `path` as ``open(path:policy:keyDigestSecret:clock:busyTimeout:logger:)``
    /// does, with the secret's 32 bytes given as an array, which is zeroed.
    @available(*, deprecated, message: "pass a DigestSecret (the store owns it; your array is left alone)")
    public static func open(
        path: String?, policy: LockoutPolicy = .standard, keyDigestSecret: inout [UInt8],
        clock: any PHIGuardClock = SystemClock(), busyTimeout: Duration = .seconds(2),
        logger: Logger = Logger(label: "phiguard.lockout.sqlite")
    ) async throws(RateLimitError) -> SQLiteLockoutStore {
        defer { Sodium.zero(&keyDigestSecret) }
        let secret: DigestSecret
        do { secret = try DigestSecret(copying: keyDigestSecret) } catch {
            throw .invalidLimit("keyDigestSecret: \(error)")
        }
        return try await open(
            path: path, policy: policy, keyDigestSecret: secret, clock: clock, busyTimeout: busyTimeout, logger: logger)
    }

    private static func createSchema(_ connection: SQLiteConnection) async throws {
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS phiguard_lockout_accounts (
                account BLOB PRIMARY KEY, consecutive INTEGER NOT NULL, locked_until INTEGER NOT NULL
            ) WITHOUT ROWID
            """, [])
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS phiguard_lockout_addresses (
                account BLOB NOT NULL, address BLOB NOT NULL, failures INTEGER NOT NULL,
                not_before INTEGER NOT NULL, PRIMARY KEY (account, address)
            ) WITHOUT ROWID
            """, [])
    }

    /// Closes the connection the store opened, after the calls already queued; does nothing for a
    /// store built with ``open(in:policy:keyDigestSecret:clock:)`` (close its `SQLiteDatabase`). The
    /// store must not be used afterwards.
    public func close() async throws(RateLimitError) {
        guard ownsConnection else { return }
        do { try await database.close() } catch {
            throw .storeUnavailable("cannot close the SQLite lockout database")
        }
    }

    /// Whether `address` may try `account` now.
    public func gate(account: String, address: String) async throws(RateLimitError) -> LoginGate {
        let keys = digests(account: account, address: address)
        return try await run { connection in
            let (counters, addressCounters) = try await Self.read(keys, connection)
            return (policy.gate(account: counters, address: addressCounters, now: clock.wallClockNanoseconds()), false)
        }
    }

    /// Whether `address` may try `account` now, and if so counts the attempt as a failure in the same
    /// transaction.
    public func admitAttempt(account: String, address: String) async throws(RateLimitError) -> LockoutAdmission {
        let keys = digests(account: account, address: address)
        return try await run { connection in
            let now = clock.wallClockNanoseconds()  // read once the write lock is held
            let (counters, addressCounters) = try await Self.read(keys, connection)
            let (gate, outcome) = policy.admit(account: counters, address: addressCounters, now: now)
            guard let outcome else { return (.refused(gate), false) }
            try await Self.write(outcome, keys, connection)
            return (.admitted(outcome.event), true)
        }
    }

    /// Counts a failed attempt by `address` on `account`.
    public func recordFailure(account: String, address: String) async throws(RateLimitError) -> LockoutEvent {
        let keys = digests(account: account, address: address)
        return try await run { connection in
            let now = clock.wallClockNanoseconds()  // read once the write lock is held
            let (counters, addressCounters) = try await Self.read(keys, connection)
            let outcome = policy.failure(account: counters, address: addressCounters, now: now)
            try await Self.write(outcome, keys, connection)
            return (outcome.event, true)
        }
    }

    /// Forgets the account's failures from every address.
    public func recordSuccess(account: String) async throws(RateLimitError) {
        let key = ByteBuffer(bytes: digester.digest("lockout-account", account))
        try await run { connection in
            _ = try await connection.query("DELETE FROM phiguard_lockout_accounts WHERE account = ?", [.blob(key)])
            _ = try await connection.query("DELETE FROM phiguard_lockout_addresses WHERE account = ?", [.blob(key)])
            return ((), true)
        }
    }

    /// Deletes the accounts whose counters no longer matter: not locked, no address delayed, and no
    /// more than the policy's free failures (forgetting one gives an attacker at most that many extra
    /// guesses, as the in-memory store's eviction does). Returns how many accounts went.
    public func removeSettled() async throws(RateLimitError) -> Int {
        try await run { connection in
            let now = SQLiteData.integer(SQLiteInt64(clock.wallClockNanoseconds()))
            let removed = try await connection.query(
                """
                DELETE FROM phiguard_lockout_accounts WHERE locked_until <= ?1 AND consecutive <= ?2
                AND NOT EXISTS (SELECT 1 FROM phiguard_lockout_addresses a
                    WHERE a.account = phiguard_lockout_accounts.account AND a.not_before > ?1)
                RETURNING 1
                """, [now, .integer(policy.freeFailures)])
            _ = try await connection.query(
                """
                DELETE FROM phiguard_lockout_addresses
                WHERE account NOT IN (SELECT account FROM phiguard_lockout_accounts)
                """, [])
            return (removed.count, true)
        }
    }

    // MARK: - Internals

    private struct Keys: Sendable {
        let account: ByteBuffer
        let address: ByteBuffer
    }

    private func digests(account: String, address: String) -> Keys {
        Keys(
            account: ByteBuffer(bytes: digester.digest("lockout-account", account)),
            address: ByteBuffer(bytes: digester.digest("lockout-address", address)))
    }

    private static func read(
        _ keys: Keys, _ connection: SQLiteConnection
    ) async throws -> (AccountLockoutCounters?, AddressLockoutCounters?) {
        var account: AccountLockoutCounters?
        for row in try await connection.query(
            "SELECT consecutive, locked_until FROM phiguard_lockout_accounts WHERE account = ?", [.blob(keys.account)])
        {
            guard case .integer(let consecutive) = row.column("consecutive"),
                case .integer(let lockedUntil) = row.column("locked_until")
            else { throw RateLimitError.storeUnavailable("unreadable lockout row") }
            account = AccountLockoutCounters(consecutiveFailures: consecutive, lockedUntil: Int64(lockedUntil))
        }
        var address: AddressLockoutCounters?
        for row in try await connection.query(
            "SELECT failures, not_before FROM phiguard_lockout_addresses WHERE account = ? AND address = ?",
            [.blob(keys.account), .blob(keys.address)])
        {
            guard case .integer(let failures) = row.column("failures"),
                case .integer(let notBefore) = row.column("not_before")
            else { throw RateLimitError.storeUnavailable("unreadable lockout row") }
            address = AddressLockoutCounters(failures: failures, notBefore: Int64(notBefore))
        }
        // Rows the rules could not have written (a database someone else wrote) fail closed.
        guard LockoutPolicy.areValid(account: account, address: address) else {
            throw RateLimitError.storeUnavailable("corrupt lockout row")
        }
        return (account, address)
    }

    /// Stores the counters after a failure. The address bound keeps the 63 most recently delayed other
    /// addresses besides this one (the one just counted is never the one dropped).
    private static func write(_ outcome: LockoutFailureOutcome, _ keys: Keys, _ connection: SQLiteConnection)
        async throws
    {
        if outcome.startOver {
            _ = try await connection.query(
                "DELETE FROM phiguard_lockout_addresses WHERE account = ?", [.blob(keys.account)])
        }
        _ = try await connection.query(
            """
            INSERT INTO phiguard_lockout_accounts (account, consecutive, locked_until) VALUES (?, ?, ?)
            ON CONFLICT (account) DO UPDATE SET consecutive = excluded.consecutive,
                locked_until = excluded.locked_until
            """,
            [
                .blob(keys.account), .integer(outcome.account.consecutiveFailures),
                .integer(SQLiteInt64(outcome.account.lockedUntil)),
            ])
        _ = try await connection.query(
            """
            INSERT INTO phiguard_lockout_addresses (account, address, failures, not_before) VALUES (?, ?, ?, ?)
            ON CONFLICT (account, address) DO UPDATE SET failures = excluded.failures,
                not_before = excluded.not_before
            """,
            [
                .blob(keys.account), .blob(keys.address), .integer(outcome.address.failures),
                .integer(SQLiteInt64(outcome.address.notBefore)),
            ])
        _ = try await connection.query(
            """
            DELETE FROM phiguard_lockout_addresses WHERE account = ?1 AND address != ?2 AND address NOT IN (
                SELECT address FROM phiguard_lockout_addresses WHERE account = ?1 AND address != ?2
                ORDER BY not_before DESC LIMIT ?3)
            """,
            [.blob(keys.account), .blob(keys.address), .integer(LockoutPolicy.maximumAddressesPerAccount - 1)])
    }

    /// Runs `body` in one transaction; database errors become `storeUnavailable`.
    private func run<T>(
        _ body: (SQLiteConnection) async throws -> (value: T, commit: Bool)
    ) async throws(RateLimitError) -> T {
        do {
            return try await database.transaction(body)
        } catch let error as RateLimitError {
            throw error
        } catch {
            throw .storeUnavailable("SQLite query failed")
        }
    }
}
