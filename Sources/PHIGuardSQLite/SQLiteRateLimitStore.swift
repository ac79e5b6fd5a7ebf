public import Logging
internal import NIOCore
internal import PHIGuardCrypto
public import PHIGuardRateLimit
internal import SQLiteNIO

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// GCRA rate limits in an SQLite file: limits survive a restart, on one host.
///
/// - **Atomic and exact**: each check is one `BEGIN IMMEDIATE` transaction (read the stored TATs,
///   decide, write all or none), so concurrent checks from any number of tasks, connections and
///   processes on the host run one after the other and can never over-admit. A request with several
///   limits charges every limit or none.
/// - **Survives a restart**: times are wall-clock nanoseconds (the clock's wall reading, `CLOCK_REALTIME`
///   for `SystemClock`), not the monotonic reading, which restarts with the machine. A wall clock stepped back only makes
///   limits last longer; stepped forward, it releases them early.
/// - **No identifiers at rest**: keys (account ids, client addresses) are stored only as a 16-byte
///   keyed BLAKE2b digest of the limit name and key, in table `phiguard_rate_limits`.
/// - **One host**: processes on the same host may share the file; do not put it on a network file
///   system. Instances on several hosts share limits through `PostgresRateLimitStore`.
/// - **Failures**: any database error (including a lock not obtained within `busyTimeout`) becomes
///   `RateLimitError.storeUnavailable`; wrap the store in a
///   `RateLimiter` to fail closed (the default) or open.
///
/// ```swift
/// let secret = try DigestSecret(copying: loadRateLimitSecret())  // 32 bytes, kept across restarts
/// let store = try await SQLiteRateLimitStore.open(in: database, keyDigestSecret: secret)
/// let limiter = RateLimiter(store: store)
/// ```
public final class SQLiteRateLimitStore: RateLimitStore {
    private let database: SQLiteSerialConnection
    private let ownsConnection: Bool
    /// Identifies the connection the store runs on (tests check that stores share one).
    package var connectionIdentity: ObjectIdentifier { ObjectIdentifier(database) }
    private let digester: KeyedDigest
    private let clock: any PHIGuardClock

    private init(
        database: SQLiteSerialConnection, ownsConnection: Bool, digester: KeyedDigest, clock: any PHIGuardClock
    ) {
        self.database = database
        self.ownsConnection = ownsConnection
        self.digester = digester
        self.clock = clock
    }

    /// A store in `database`, sharing its connection with the other stores built from it (its table
    /// is made if needed). ``close()`` leaves the database open.
    ///
    /// `keyDigestSecret` keys the digest of stored keys; keep it across restarts (a new secret forgets
    /// every limit) and out of the database. Times are the wall reading of `clock`.
    public static func open(
        in database: SQLiteDatabase, keyDigestSecret: DigestSecret, clock: any PHIGuardClock = SystemClock()
    ) async throws(RateLimitError) -> SQLiteRateLimitStore {
        do { try await database.makeTables(createSchema) } catch {
            throw .storeUnavailable("cannot create the SQLite rate-limit table")
        }
        return SQLiteRateLimitStore(
            database: database.connection, ownsConnection: false, digester: KeyedDigest(secret: keyDigestSecret),
            clock: clock)
    }

    /// Opens (creating if needed) the database at `path` and its table, on a connection of its own
    /// (prefer ``open(in:keyDigestSecret:clock:)`` when other stores use the same file).
    ///
    /// `keyDigestSecret` keys the digest of stored keys; keep it across restarts (a new secret forgets
    /// every limit) and out of the database. A check waits at most `busyTimeout` for another
    /// process's write lock before failing. Times are the wall reading of `clock` (nanoseconds since
    /// 1970), so limits survive a restart (tests pass a `ManualClock`). Call ``close()`` when done.
    public static func open(
        path: String, keyDigestSecret: DigestSecret, clock: any PHIGuardClock = SystemClock(),
        busyTimeout: Duration = .seconds(2), logger: Logger = Logger(label: "phiguard.ratelimit.sqlite")
    ) async throws(RateLimitError) -> SQLiteRateLimitStore {
        let database: SQLiteSerialConnection
        do {
            database = try await SQLiteSerialConnection.open(path: path, busyTimeout: busyTimeout, logger: logger)
        } catch {
            throw .storeUnavailable("cannot open the SQLite rate-limit database")
        }
        do {
            try await database.exclusive(createSchema)
        } catch {
            try? await database.close()
            throw .storeUnavailable("cannot create the SQLite rate-limit table")
        }
        return SQLiteRateLimitStore(
            database: database, ownsConnection: true, digester: KeyedDigest(secret: keyDigestSecret), clock: clock)
    }

    /// Opens the database at `path` as ``open(path:keyDigestSecret:clock:busyTimeout:logger:)`` does,
    /// with the secret's 32 bytes given as an array, which is zeroed.
    @available(*, deprecated, message: "pass a DigestSecret (the store owns it; your array is left alone)")
    public static func open(
        path: String, keyDigestSecret: inout [UInt8], clock: any PHIGuardClock = SystemClock(),
        busyTimeout: Duration = .seconds(2), logger: Logger = Logger(label: "phiguard.ratelimit.sqlite")
    ) async throws(RateLimitError) -> SQLiteRateLimitStore {
        defer { Sodium.zero(&keyDigestSecret) }
        guard keyDigestSecret.count == 32 else { throw .invalidLimit("keyDigestSecret must be 32 bytes") }
        let secret: DigestSecret
        do { secret = try DigestSecret(copying: keyDigestSecret) } catch {
            throw .storeUnavailable("secure memory: \(error)")
        }
        return try await open(
            path: path, keyDigestSecret: secret, clock: clock, busyTimeout: busyTimeout, logger: logger)
    }

    private static func createSchema(_ connection: SQLiteConnection) async throws {
        _ = try await connection.query(
            "CREATE TABLE IF NOT EXISTS phiguard_rate_limits (key BLOB PRIMARY KEY, tat INTEGER NOT NULL) "
                + "WITHOUT ROWID", [])
    }

    /// Closes the connection the store opened, after the checks already queued; does nothing for a
    /// store built with ``open(in:keyDigestSecret:clock:)`` (close its `SQLiteDatabase`). The store
    /// must not be used afterwards.
    public func close() async throws(RateLimitError) {
        guard ownsConnection else { return }
        do { try await database.close() } catch {
            throw .storeUnavailable("cannot close the SQLite rate-limit database")
        }
    }

    /// Checks `checks` for `cost` events and charges them all if every limit admits the request.
    public func check(_ checks: [RateLimitCheck], cost: Int) async throws(RateLimitError) -> RateLimitDecision {
        try RateLimitError.validate(checks, cost: cost)
        // More than the burst can never fit: refuse without touching the database.
        if let tooBig = checks.first(where: { cost > $0.limit.burst }) {
            return RateLimitDecision(allowed: false, remaining: 0, retryAfter: .zero, refusedBy: [tooBig.limit.name])
        }
        let keys = checks.map { ByteBuffer(bytes: digest($0)) }
        let placeholders = Array(repeating: "?", count: keys.count).joined(separator: ", ")
        do {
            return try await database.transaction { connection in
                // Read the time once the write lock is held, so serialised checks see it in order.
                let now = clock.wallClockNanoseconds()
                let rows = try await connection.query(
                    "SELECT key, tat FROM phiguard_rate_limits WHERE key IN (\(placeholders))", keys.map { .blob($0) })
                var stored: [ByteBuffer: Int64] = [:]
                for row in rows {
                    guard case .blob(let key) = row.column("key"), case .integer(let tat) = row.column("tat") else {
                        throw RateLimitError.storeUnavailable("unreadable rate-limit row")
                    }
                    guard GCRA.isValid(storedTAT: Int64(tat)) else {
                        throw RateLimitError.storeUnavailable("corrupt rate-limit row")
                    }
                    stored[key] = Int64(tat)
                }
                let outcomes = zip(checks, keys).map { check, key in
                    GCRA.evaluate(storedTAT: stored[key], now: now, limit: check.limit, cost: cost)
                }
                let decision = RateLimitDecision.combining(checks, outcomes)
                guard decision.allowed else { return (decision, false) }
                var binds: [SQLiteData] = []
                for (outcome, key) in zip(outcomes, keys) {
                    binds.append(.blob(key))
                    binds.append(.integer(SQLiteInt64(outcome.newTAT)))
                }
                _ = try await connection.query(
                    "INSERT INTO phiguard_rate_limits (key, tat) VALUES "
                        + Array(repeating: "(?, ?)", count: keys.count).joined(separator: ", ")
                        + " ON CONFLICT (key) DO UPDATE SET tat = excluded.tat", binds)
                return (decision, true)
            }
        } catch let error as RateLimitError {
            throw error
        } catch {
            throw .storeUnavailable("SQLite query failed")
        }
    }

    /// Deletes the rows whose limits are fully recovered (TAT not after now): such a key has its full
    /// allowance, exactly as if it were absent, so no decision changes. Returns how many went.
    public func removeRecovered() async throws(RateLimitError) -> Int {
        do {
            return try await database.transaction { connection in
                let rows = try await connection.query(
                    "DELETE FROM phiguard_rate_limits WHERE tat <= ? RETURNING 1",
                    [.integer(SQLiteInt64(clock.wallClockNanoseconds()))])
                return (rows.count, true)
            }
        } catch {
            throw .storeUnavailable("SQLite query failed")
        }
    }

    /// BLAKE2b-128 keyed with the store's secret, over the limit name, a zero byte and the key.
    private func digest(_ check: RateLimitCheck) -> [UInt8] {
        digester.digest(check.limit.name, check.key)
    }
}
