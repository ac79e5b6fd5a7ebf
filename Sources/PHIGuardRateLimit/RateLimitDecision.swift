/// One key checked against one limit, for example `("login-per-address", "203.0.113.9")`.
public struct RateLimitCheck: Sendable, Hashable {
    /// The limit.
    public let limit: RateLimit
    /// The key the limit applies to (an account id, a client address, `"global"`). Never put a secret here.
    public let key: String

    /// A check of `key` against `limit`.
    public init(_ limit: RateLimit, key: String) {
        self.limit = limit
        self.key = key
    }
}

/// The answer to a (multi-limit) check.
public struct RateLimitDecision: Sendable, Hashable {
    /// `true` when every limit admitted the request (and all were charged); `false` when any refused
    /// (and none was charged).
    public let allowed: Bool
    /// The smallest number of further events the checked limits allow right now.
    public let remaining: Int
    /// How long to wait before retrying: the longest wait among the refusing limits (zero when allowed).
    public let retryAfter: Duration
    /// The names of the limits that refused the request.
    public let refusedBy: [String]
    /// Why the request was refused when no limit was exceeded: the store failed or is full.
    public let storeCondition: StoreCondition?

    /// What went wrong with the store, when a decision was made without it.
    public enum StoreCondition: String, Sendable, Hashable {
        /// The store was unreachable or failed; the limiter applied its ``RateLimiter/FailureMode``.
        case unavailable
        /// The in-memory store was full of keys that are currently limited, so a new key could not be tracked.
        case full
    }

    /// Creates a decision (stores build these).
    public init(
        allowed: Bool, remaining: Int, retryAfter: Duration, refusedBy: [String], storeCondition: StoreCondition? = nil
    ) {
        self.allowed = allowed
        self.remaining = remaining
        self.retryAfter = retryAfter
        self.refusedBy = refusedBy
        self.storeCondition = storeCondition
    }

    /// Combines per-limit outcomes into one decision.
    package static func combining(_ checks: [RateLimitCheck], _ outcomes: [GCRA.Outcome]) -> RateLimitDecision {
        let allowed = outcomes.allSatisfy(\.allowed)
        let refused = zip(checks, outcomes).filter { !$0.1.allowed }
        return RateLimitDecision(
            allowed: allowed,
            remaining: allowed ? (outcomes.map(\.remaining).min() ?? 0) : 0,
            retryAfter: .nanoseconds(refused.map(\.1.retryAfter).max() ?? 0),
            refusedBy: refused.map(\.0.limit.name))
    }
}

/// Errors of the rate-limiting module. None carries a key.
public enum RateLimitError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A ``RateLimit`` with impossible values.
    case invalidLimit(String)
    /// A check with no limits, a cost below 1, a key that is empty or over 256 bytes, or a repeated limit and key.
    case invalidCheck(String)
    /// The backing store failed (connection lost, query error). The message never includes keys.
    case storeUnavailable(String)

    /// A log-safe description.
    public var description: String {
        switch self {
        case .invalidLimit(let reason): "invalid rate limit: \(reason)"
        case .invalidCheck(let reason): "invalid rate-limit check: \(reason)"
        case .storeUnavailable(let reason): "rate-limit store unavailable: \(reason)"
        }
    }

    package static func validate(_ checks: [RateLimitCheck], cost: Int) throws(RateLimitError) {
        guard !checks.isEmpty else { throw .invalidCheck("no limits to check") }
        for check in checks { try validate(check, cost: cost) }
        guard checks.count == 1 || Set(checks).count == checks.count else {
            throw .invalidCheck("the same limit and key twice")
        }
    }

    /// Validates one check (no allocation).
    package static func validate(_ check: RateLimitCheck, cost: Int) throws(RateLimitError) {
        guard cost >= 1 else { throw .invalidCheck("cost must be at least 1") }
        guard !check.key.isEmpty, check.key.utf8.count <= 256 else { throw .invalidCheck("keys must be 1-256 bytes") }
    }
}
