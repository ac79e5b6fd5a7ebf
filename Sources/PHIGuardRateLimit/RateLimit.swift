/// A rate with a burst: `count` events per `period`, of which up to `burst` may arrive at once.
///
/// PHIGuard limits with the generic cell rate algorithm (GCRA): each key stores one number, its
/// *theoretical arrival time* (TAT). An event at time `t` is allowed when
/// `max(TAT, t) + interval − burst × interval ≤ t`, and then moves the TAT forward by one
/// `interval` (= `period / count`). A key whose TAT is in the past has its full allowance, exactly
/// as if it had never been seen, which is what makes eviction safe (see ``InMemoryRateLimitStore``).
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    /// A short name for logs and audit events, such as `login-per-account`.
    public let name: String
    /// Nanoseconds between events at the sustained rate.
    public let intervalNanoseconds: Int64
    /// The number of events allowed at once after a quiet period.
    public let burst: Int
    /// The name's hash (this process's seed), computed once so a check hashes only its key.
    package let nameHash: Int

    /// `count` events per `period`, with `burst` at once (default: `count`).
    ///
    /// Throws ``RateLimitError/invalidLimit(_:)`` unless `count ≥ 1`, `period` is positive and under a
    /// year, and `1 ≤ burst ≤ 1,000,000`.
    public init(_ name: String, count: Int, per period: Duration, burst: Int? = nil) throws(RateLimitError) {
        let burst = burst ?? count
        let periodNanoseconds = period.nanoseconds
        guard count >= 1, periodNanoseconds > 0, periodNanoseconds <= 366 * 86_400 * 1_000_000_000 else {
            throw .invalidLimit("count must be at least 1 and the period positive and at most a year")
        }
        guard (1...1_000_000).contains(burst) else { throw .invalidLimit("burst must be 1...1000000") }
        guard !name.isEmpty, name.utf8.count <= 64 else { throw .invalidLimit("name must be 1-64 bytes") }
        self.name = name
        self.intervalNanoseconds = max(1, periodNanoseconds / Int64(count))
        self.burst = burst
        self.nameHash = name.hashValue
    }

    /// `name: burst B, one per N ns`.
    public var description: String { "\(name): burst \(burst), one per \(intervalNanoseconds) ns" }

    /// How far ahead of now a key's TAT may be before the next event is refused.
    package var toleranceNanoseconds: Int64 {
        // Saturating: one per 366 days with a burst of 1,000,000 is past the Int64 range.
        let (tolerance, overflow) = intervalNanoseconds.multipliedReportingOverflow(by: Int64(burst))
        return overflow ? .max : tolerance
    }
}
