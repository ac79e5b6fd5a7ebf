public import Logging
internal import PHIGuardCrypto
public import PHIGuardRateLimit
public import PostgresNIO

/// GCRA rate limits shared by every portal instance through PostgreSQL.
///
/// - **One statement per check**: a single-limit check is one `INSERT … ON CONFLICT DO UPDATE …
///   WHERE` on the server's clock (`statement_timestamp()`), so concurrent checks from any number of
///   instances and connections serialise on the row lock and can never over-admit. Only a refused
///   check makes a second round trip, to read the stored time for its retry delay.
/// - **Several limits at once**: one transaction that locks the rows in key order
///   (`SELECT … FOR UPDATE`), decides, and updates all or none.
/// - **No identifiers at rest**: keys (account ids, client addresses, which HIPAA counts as
///   identifiers) are stored only as a 16-byte keyed BLAKE2b digest of the limit name and key.
///   Every instance must use the same `keyDigestSecret`.
/// - **Failures**: any database error becomes `RateLimitError.storeUnavailable`; wrap the
///   store in a `RateLimiter` to fail closed (the default) or open.
///
/// ```swift
/// let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
/// Task { await client.run() }                       // the app owns and runs the client
/// var secret = try loadRateLimitSecret()            // 32 bytes, shared by all instances
/// let store = try PostgresRateLimitStore(client: client, keyDigestSecret: secret)  // a DigestSecret
/// try await store.migrate()
/// let limiter = RateLimiter(store: store)
/// ```
public final class PostgresRateLimitStore: RateLimitStore {
    private let client: PostgresClient
    private let table: String
    private let digester: KeyedDigest
    private let logger: Logger
    /// How long a check may take before it fails with `RateLimitError.storeUnavailable`.
    public let timeout: Duration

    /// A store on `client` in table `table` (1–40 of `a–z 0–9 _`, starting with a letter).
    /// `keyDigestSecret` keys the digest of stored keys; every instance must use the same one.
    /// A check that has not finished after `timeout` (default 2 s: the pool keeps retrying an
    /// unreachable server for much longer) fails, so an outage is answered promptly.
    public init(
        client: PostgresClient, table: String = "phiguard_rate_limits", keyDigestSecret: DigestSecret,
        timeout: Duration = .seconds(2), logger: Logger = Logger(label: "phiguard.ratelimit.postgres")
    ) throws(RateLimitError) {
        guard isValidTableName(table) else {
            throw .invalidLimit("table name must be 1-40 of a-z 0-9 _ starting with a letter")
        }
        digester = KeyedDigest(secret: keyDigestSecret)
        self.client = client
        self.table = table
        self.logger = logger
        self.timeout = timeout
    }

    /// A store as ``init(client:table:keyDigestSecret:timeout:logger:)`` makes, with the secret's 32
    /// bytes given as an array, which is zeroed.
    @available(*, deprecated, message: "pass a DigestSecret (the store owns it; your array is left alone)")
    public convenience init(
        client: PostgresClient, table: String = "phiguard_rate_limits", keyDigestSecret: inout [UInt8],
        timeout: Duration = .seconds(2), logger: Logger = Logger(label: "phiguard.ratelimit.postgres")
    ) throws(RateLimitError) {
        defer { Sodium.zero(&keyDigestSecret) }
        guard keyDigestSecret.count == 32 else { throw .invalidLimit("keyDigestSecret must be 32 bytes") }
        let secret: DigestSecret
        do { secret = try DigestSecret(copying: keyDigestSecret) } catch {
            throw .storeUnavailable("secure memory: \(error)")
        }
        try self.init(client: client, table: table, keyDigestSecret: secret, timeout: timeout, logger: logger)
    }

    /// Creates the table if it does not exist (`key BYTEA PRIMARY KEY, tat BIGINT`).
    public func migrate() async throws(RateLimitError) {
        do {
            try await client.query(
                PostgresQuery(
                    unsafeSQL: "CREATE TABLE IF NOT EXISTS \(table) (key BYTEA PRIMARY KEY, tat BIGINT NOT NULL)"),
                logger: logger)
        } catch {
            throw .storeUnavailable("could not create the rate-limit table")
        }
    }

    /// Checks and charges `checks` atomically on the server's clock.
    public func check(_ checks: [RateLimitCheck], cost: Int) async throws(RateLimitError) -> RateLimitDecision {
        try RateLimitError.validate(checks, cost: cost)
        // More than the burst can never fit: refuse without a round trip.
        if let tooBig = checks.first(where: { cost > $0.limit.burst }) {
            return RateLimitDecision(allowed: false, remaining: 0, retryAfter: .zero, refusedBy: [tooBig.limit.name])
        }
        let digests = checks.map(digest)
        do {
            return try await withDeadline(timeout) { [self] in
                if checks.count == 1 {
                    return try await checkOne(checks[0], digest: digests[0], cost: cost)
                }
                return try await checkMany(checks, digests: digests, cost: cost)
            }
        } catch let error as RateLimitError {
            throw error
        } catch is DeadlineExceeded {
            throw .storeUnavailable("timed out")
        } catch {
            throw .storeUnavailable("PostgreSQL query failed")
        }
    }

    private func checkOne(_ check: RateLimitCheck, digest: [UInt8], cost: Int) async throws -> RateLimitDecision {
        let limit = check.limit
        let (product, overflow) = limit.intervalNanoseconds.multipliedReportingOverflow(by: Int64(cost))
        let increment = overflow ? Int64.max : product  // past the bigint range: the server refuses it
        let tolerance = limit.toleranceNanoseconds
        let key = ByteBuffer(bytes: digest)
        // `statement_timestamp()` is the server's clock, fixed for the statement. A statement that
        // waited for the row lock decides with the time it started: that can only admit less.
        let now = "(EXTRACT(EPOCH FROM statement_timestamp()) * 1000000000)::BIGINT"
        let charge: PostgresQuery = """
            INSERT INTO \(unescaped: table) AS r (key, tat) VALUES (\(key), \(unescaped: now) + \(increment))
            ON CONFLICT (key) DO UPDATE SET tat = GREATEST(r.tat, \(unescaped: now)) + \(increment)
            WHERE GREATEST(r.tat, \(unescaped: now)) + \(increment) - \(tolerance) <= \(unescaped: now)
            RETURNING r.tat, \(unescaped: now)
            """
        for try await (newTAT, now) in try await client.query(charge, logger: logger).decode((Int64, Int64).self) {
            let remaining = Int((now - (newTAT - tolerance)) / limit.intervalNanoseconds)
            return RateLimitDecision(allowed: true, remaining: max(0, remaining), retryAfter: .zero, refusedBy: [])
        }
        // Refused (the conflicting row's TAT is too far ahead): read it for the retry delay.
        let refused: PostgresQuery = """
            SELECT (SELECT tat FROM \(unescaped: table) WHERE key = \(key)), \(unescaped: now)
            """
        for try await (stored, now) in try await client.query(refused, logger: logger).decode((Int64?, Int64).self) {
            if let stored, !GCRA.isValid(storedTAT: stored) {
                throw RateLimitError.storeUnavailable("corrupt rate-limit row")
            }
            let tat = max(stored ?? now, now)
            let wait = max(
                0,
                tat.addingSaturated(limit.intervalNanoseconds).subtractingSaturated(tolerance).subtractingSaturated(now)
            )
            return RateLimitDecision(
                allowed: false, remaining: 0, retryAfter: .nanoseconds(wait), refusedBy: [limit.name])
        }
        throw RateLimitError.storeUnavailable("no result row")
    }

    private func checkMany(_ checks: [RateLimitCheck], digests: [[UInt8]], cost: Int) async throws -> RateLimitDecision
    {
        let keys = digests.map { ByteBuffer(bytes: $0) }
        return try await client.withTransaction(logger: logger) { connection in
            // Make sure every row exists (TAT 0 = long ago = full allowance, the same as absent),
            // then lock them all in key order so concurrent multi-limit checks cannot deadlock.
            for key in keys {
                try await connection.query(
                    "INSERT INTO \(unescaped: table) (key, tat) VALUES (\(key), 0) ON CONFLICT (key) DO NOTHING",
                    logger: logger)
            }
            var stored: [Int: Int64] = [:]
            var now: Int64 = 0
            for (index, key) in keys.enumerated() {
                let rows = try await connection.query(
                    """
                    SELECT tat, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000000)::BIGINT
                    FROM \(unescaped: table) WHERE key = \(key) FOR UPDATE
                    """, logger: logger)
                for try await (tat, serverNow) in rows.decode((Int64, Int64).self) {
                    guard GCRA.isValid(storedTAT: tat) else {
                        throw RateLimitError.storeUnavailable("corrupt rate-limit row")
                    }
                    stored[index] = tat
                    now = max(now, serverNow)
                }
            }
            let outcomes = checks.enumerated().map { index, check in
                GCRA.evaluate(storedTAT: stored[index], now: now, limit: check.limit, cost: cost)
            }
            let decision = RateLimitDecision.combining(checks, outcomes)
            if decision.allowed {
                for (outcome, key) in zip(outcomes, keys) {
                    try await connection.query(
                        "UPDATE \(unescaped: table) SET tat = \(outcome.newTAT) WHERE key = \(key)", logger: logger)
                }
            }
            return decision
        }
    }

    /// BLAKE2b-128 keyed with the store's secret, over the limit name, a zero byte and the key.
    private func digest(_ check: RateLimitCheck) -> [UInt8] {
        digester.digest(check.limit.name, check.key)
    }
}
