public import Logging

/// The front door for rate limiting: a store plus an explicit policy for when the store fails.
///
/// ```swift
/// let perAccount = try RateLimit("login-per-account", count: 10, per: .seconds(60), burst: 5)
/// let perAddress = try RateLimit("login-per-address", count: 30, per: .seconds(60))
/// let limiter = RateLimiter(store: try InMemoryRateLimitStore())
/// let decision = try await limiter.check([
///     RateLimitCheck(perAccount, key: accountID), RateLimitCheck(perAddress, key: clientAddress),
/// ])
/// guard decision.allowed else { return tooManyRequests(retryAfter: decision.retryAfter) }
/// ```
public struct RateLimiter: Sendable {
    /// What a check answers when the store fails (for example, PostgreSQL is unreachable).
    public enum FailureMode: Sendable, Hashable {
        /// Refuse the request (the default): an outage must not switch brute-force protection off.
        case failClosed
        /// Admit the request: availability over protection. Choose only with another limit in front.
        case failOpen
    }

    /// The store.
    public let store: any RateLimitStore
    /// The policy for store failures.
    public let failureMode: FailureMode
    private let logger: Logger

    /// A limiter over `store`; failures are logged to `logger` (keys are never logged).
    public init(
        store: any RateLimitStore, failureMode: FailureMode = .failClosed,
        logger: Logger = Logger(label: "phiguard.ratelimit")
    ) {
        self.store = store
        self.failureMode = failureMode
        self.logger = logger
    }

    /// Checks and charges `checks`; a store failure becomes a decision according to ``failureMode``.
    /// - Throws: ``RateLimitError/invalidCheck(_:)`` for malformed checks (never for store failures).
    public func check(_ checks: [RateLimitCheck], cost: Int = 1) async throws(RateLimitError) -> RateLimitDecision {
        try RateLimitError.validate(checks, cost: cost)
        do {
            return try await store.check(checks, cost: cost)
        } catch {
            if case .invalidCheck = error { throw error }
            logger.error(
                "rate-limit store failed; applying failure mode",
                metadata: [
                    "error": "\(error)", "failureMode": "\(failureMode)",
                    "limits": "\(checks.map(\.limit.name))",
                ])
            return RateLimitDecision(
                allowed: failureMode == .failOpen, remaining: 0, retryAfter: .seconds(1),
                refusedBy: failureMode == .failOpen ? [] : checks.map(\.limit.name), storeCondition: .unavailable)
        }
    }
}
