/// Where GCRA state lives: in memory (``InMemoryRateLimitStore``), SQLite or PostgreSQL.
///
/// A store checks several limits for one request atomically: every limit is charged, or none.
public protocol RateLimitStore: Sendable {
    /// Checks `checks` for `cost` events and charges them all if every limit admits the request.
    func check(_ checks: [RateLimitCheck], cost: Int) async throws(RateLimitError) -> RateLimitDecision
}
