public import Logging
internal import NIOCore
internal import PHIGuardCrypto
public import PHIGuardRateLimit
public import PostgresNIO

/// Lockout counters (`LockoutPolicy`) in PostgreSQL, shared by every portal instance: the
/// consecutive-failure cap and the per-address delays hold across all of them.
///
/// - **Atomic**: each admission or failure is one transaction that creates the account's row if
///   needed, locks it (`SELECT … FOR UPDATE`), applies the policy and writes, so concurrent attempts
///   from any number of instances and connections are all counted.
/// - **Time**: the wall readings of the instances' clocks (`SystemClock` by default; keep them synchronised with
///   NTP). A clock a few seconds off shifts a delay by as much, never the count.
/// - **No identifiers at rest**: login names, account ids and client addresses are stored only as
///   16-byte keyed BLAKE2b digests; every instance must use the same `keyDigestSecret`.
/// - **Bounded**: ``removeSettled()`` deletes accounts whose counters no longer matter (run it
///   periodically); at most 64 address entries are kept per account (the least delayed others are
///   dropped first).
/// - **Failures**: any database error, or an operation slower than `timeout`, becomes
///   `RateLimitError.storeUnavailable`; the login flow then refuses the attempt (fail closed).
///
/// ```swift
/// let lockout = try PostgresLockoutStore(client: client, keyDigestSecret: secret)  // a DigestSecret
/// try await lockout.migrate()
/// let flow = try LoginFlow(accounts: directory, sessions: sessions, passwords: hasher, totp: verifier,
///                          throttle: lockout, rateLimiter: RateLimiter(store: postgresRateLimits))
/// ```
public final class PostgresLockoutStore: LockoutStore {
    /// The policy.
    public let policy: LockoutPolicy
    /// How long an operation may take before it fails with `RateLimitError.storeUnavailable`.
    public let timeout: Duration
    private let client: PostgresClient
    private let table: String
    private let digester: KeyedDigest
    private let clock: any PHIGuardClock
    private let logger: Logger

    /// A store on `client` in tables `<table>_accounts` and `<table>_addresses` (`table`: 1–40 of
    /// `a–z 0–9 _`, starting with a letter). `keyDigestSecret` keys the digests; every instance must
    /// use the same one.
    public init(
        client: PostgresClient, table: String = "phiguard_lockout", policy: LockoutPolicy = .standard,
        keyDigestSecret: DigestSecret, clock: any PHIGuardClock = SystemClock(), timeout: Duration = .seconds(2),
        logger: Logger = Logger(label: "phiguard.lockout.postgres")
    ) throws(RateLimitError) {
        guard isValidTableName(table) else {
            throw .invalidLimit("table name must be 1-40 of a-z 0-9 _ starting with a letter")
        }
        digester = KeyedDigest(secret: keyDigestSecret)
        self.client = client
        self.table = table
        self.policy = policy
        self.clock = clock
        self.timeout = timeout
        self.logger = logger
    }

    /// A store as ``init(client:table:policy:keyDigestSecret:clock:timeout:logger:)`` makes, with the
    /// secret's 32 bytes given as an array, which is zeroed.
    @available(*, deprecated, message: "pass a DigestSecret (the store owns it; your array is left alone)")
    public convenience init(
        client: PostgresClient, table: String = "phiguard_lockout", policy: LockoutPolicy = .standard,
        keyDigestSecret: inout [UInt8], clock: any PHIGuardClock = SystemClock(), timeout: Duration = .seconds(2),
        logger: Logger = Logger(label: "phiguard.lockout.postgres")
    ) throws(RateLimitError) {
        defer { Sodium.zero(&keyDigestSecret) }
        let secret: DigestSecret
        do { secret = try DigestSecret(copying: keyDigestSecret) } catch {
            throw .invalidLimit("keyDigestSecret: \(error)")
        }
        try self.init(
            client: client, table: table, policy: policy, keyDigestSecret: secret, clock: clock, timeout: timeout,
            logger: logger)
    }

    /// Creates the tables if they do not exist.
    public func migrate() async throws(RateLimitError) {
        let statements = [
            """
            CREATE TABLE IF NOT EXISTS \(table)_accounts (
                account BYTEA PRIMARY KEY, consecutive INTEGER NOT NULL, locked_until BIGINT NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(table)_addresses (
                account BYTEA NOT NULL, address BYTEA NOT NULL, failures INTEGER NOT NULL,
                not_before BIGINT NOT NULL, PRIMARY KEY (account, address))
            """,
        ]
        try await run { [client, logger] in
            for statement in statements {
                try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
    }

    /// Whether `address` may try `account` now.
    public func gate(account: String, address: String) async throws(RateLimitError) -> LoginGate {
        let keys = digests(account: account, address: address)
        let (counters, addressCounters) = try await run { [self] in
            try await client.withConnection { connection in try await read(keys, connection, lock: false) }
        }
        return policy.gate(account: counters, address: addressCounters, now: clock.wallClockNanoseconds())
    }

    /// Whether `address` may try `account` now, and if so counts the attempt as a failure in the same
    /// transaction.
    public func admitAttempt(account: String, address: String) async throws(RateLimitError) -> LockoutAdmission {
        let keys = digests(account: account, address: address)
        return try await locked(keys) { [self] connection, counters, addressCounters in
            let (gate, outcome) = policy.admit(
                account: counters, address: addressCounters, now: clock.wallClockNanoseconds())
            guard let outcome else { return .refused(gate) }
            try await write(outcome, keys, connection)
            return .admitted(outcome.event)
        }
    }

    /// Counts a failed attempt by `address` on `account`.
    public func recordFailure(account: String, address: String) async throws(RateLimitError) -> LockoutEvent {
        let keys = digests(account: account, address: address)
        return try await locked(keys) { [self] connection, counters, addressCounters in
            let outcome = policy.failure(account: counters, address: addressCounters, now: clock.wallClockNanoseconds())
            try await write(outcome, keys, connection)
            return outcome.event
        }
    }

    /// Forgets the account's failures from every address.
    public func recordSuccess(account: String) async throws(RateLimitError) {
        let key = ByteBuffer(bytes: digester.digest("lockout-account", account))
        try await run { [self] in
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query(
                    "DELETE FROM \(unescaped: table)_accounts WHERE account = \(key)", logger: logger)
                try await connection.query(
                    "DELETE FROM \(unescaped: table)_addresses WHERE account = \(key)", logger: logger)
            }
        }
    }

    /// Deletes the accounts whose counters no longer matter: not locked, no address delayed, and no
    /// more than the policy's free failures (forgetting one gives an attacker at most that many extra
    /// guesses). Returns how many accounts went.
    public func removeSettled() async throws(RateLimitError) -> Int {
        let now = clock.wallClockNanoseconds()
        let free = policy.freeFailures
        return try await run { [self] in
            try await client.withTransaction(logger: logger) { connection in
                let rows = try await connection.query(
                    """
                    DELETE FROM \(unescaped: table)_accounts AS a WHERE a.locked_until <= \(now)
                    AND a.consecutive <= \(free) AND NOT EXISTS (SELECT 1 FROM \(unescaped: table)_addresses d
                        WHERE d.account = a.account AND d.not_before > \(now))
                    RETURNING 1
                    """, logger: logger)
                var removed = 0
                for try await _ in rows { removed += 1 }
                try await connection.query(
                    """
                    DELETE FROM \(unescaped: table)_addresses d
                    WHERE NOT EXISTS (SELECT 1 FROM \(unescaped: table)_accounts a WHERE a.account = d.account)
                    """, logger: logger)
                return removed
            }
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

    /// Runs `body` in a transaction holding the lock on the account's row, with its counters.
    private func locked<T: Sendable>(
        _ keys: Keys,
        _ body:
            @escaping @Sendable (PostgresConnection, AccountLockoutCounters?, AddressLockoutCounters?) async throws
            -> T
    ) async throws(RateLimitError) -> T {
        try await run { [self] in
            try await client.withTransaction(logger: logger) { connection in
                // A clean row means the same as no row; creating it first gives the lock something to hold.
                try await connection.query(
                    """
                    INSERT INTO \(unescaped: table)_accounts (account, consecutive, locked_until)
                    VALUES (\(keys.account), 0, \(Int64.min)) ON CONFLICT (account) DO NOTHING
                    """, logger: logger)
                let (counters, addressCounters) = try await read(keys, connection, lock: true)
                return try await body(connection, counters, addressCounters)
            }
        }
    }

    /// Stores the counters after a failure. The address bound keeps the 63 most recently delayed other
    /// addresses besides this one (the one just counted is never the one dropped).
    private func write(_ outcome: LockoutFailureOutcome, _ keys: Keys, _ connection: PostgresConnection) async throws {
        if outcome.startOver {
            try await connection.query(
                "DELETE FROM \(unescaped: table)_addresses WHERE account = \(keys.account)", logger: logger)
        }
        // An upsert, not an update: a concurrent success may have deleted the row since it was locked.
        try await connection.query(
            """
            INSERT INTO \(unescaped: table)_accounts (account, consecutive, locked_until)
            VALUES (\(keys.account), \(outcome.account.consecutiveFailures), \(outcome.account.lockedUntil))
            ON CONFLICT (account) DO UPDATE SET consecutive = EXCLUDED.consecutive,
                locked_until = EXCLUDED.locked_until
            """, logger: logger)
        try await connection.query(
            """
            INSERT INTO \(unescaped: table)_addresses (account, address, failures, not_before)
            VALUES (\(keys.account), \(keys.address), \(outcome.address.failures), \(outcome.address.notBefore))
            ON CONFLICT (account, address) DO UPDATE SET failures = EXCLUDED.failures,
                not_before = EXCLUDED.not_before
            """, logger: logger)
        try await connection.query(
            """
            DELETE FROM \(unescaped: table)_addresses WHERE account = \(keys.account)
            AND address <> \(keys.address) AND address NOT IN (
                SELECT address FROM \(unescaped: table)_addresses
                WHERE account = \(keys.account) AND address <> \(keys.address)
                ORDER BY not_before DESC LIMIT \(LockoutPolicy.maximumAddressesPerAccount - 1))
            """, logger: logger)
    }

    private func read(
        _ keys: Keys, _ connection: PostgresConnection, lock: Bool
    ) async throws -> (AccountLockoutCounters?, AddressLockoutCounters?) {
        var account: AccountLockoutCounters?
        let accountRows = try await connection.query(
            """
            SELECT consecutive, locked_until FROM \(unescaped: table)_accounts WHERE account = \(keys.account)
            \(unescaped: lock ? "FOR UPDATE" : "")
            """, logger: logger)
        for try await (consecutive, lockedUntil) in accountRows.decode((Int32, Int64).self) {
            account = AccountLockoutCounters(consecutiveFailures: Int(consecutive), lockedUntil: lockedUntil)
        }
        var address: AddressLockoutCounters?
        let addressRows = try await connection.query(
            """
            SELECT failures, not_before FROM \(unescaped: table)_addresses
            WHERE account = \(keys.account) AND address = \(keys.address)
            """, logger: logger)
        for try await (failures, notBefore) in addressRows.decode((Int32, Int64).self) {
            address = AddressLockoutCounters(failures: Int(failures), notBefore: notBefore)
        }
        // Rows the rules could not have written (a database someone else wrote) fail closed.
        guard LockoutPolicy.areValid(account: account, address: address) else {
            throw RateLimitError.storeUnavailable("corrupt lockout row")
        }
        return (account, address)
    }

    /// Runs `body` within ``timeout``; every failure becomes `storeUnavailable` naming its kind only.
    private func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws(RateLimitError) -> T {
        do {
            return try await withDeadline(timeout, body)
        } catch is DeadlineExceeded {
            throw .storeUnavailable("timed out")
        } catch {
            throw .storeUnavailable("PostgreSQL query failed")
        }
    }
}
