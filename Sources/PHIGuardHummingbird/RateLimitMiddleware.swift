public import Hummingbird
internal import PHIGuardAccess
internal import PHIGuardErrors
public import PHIGuardRateLimit

/// Rate limits for a router or a route group: per client address (``PHIGuardRequestState/clientAddress``),
/// per signed-in account, and for all requests together. A refused request is answered 429
/// `rate_limited` with `Retry-After` (`PHIGuardErrors`' `RateLimitExceeded`); a failing limiter store
/// refuses (the limiter's `failClosed` default).
///
/// Put it after ``ClientAddressMiddleware`` (and after ``SessionMiddleware`` for the per-account
/// limit). Each middleware's limits need names of their own (the store counts per name and key).
public struct RateLimitMiddleware<Context: PHIGuardRequestContext>: RouterMiddleware {
    let limiter: RateLimiter
    let perAddress: RateLimit?
    let perAccount: RateLimit?
    let global: RateLimit?

    /// Limits checked with `limiter` (give it a shared store, such as PostgreSQL's, for several instances).
    public init(limiter: RateLimiter, perAddress: RateLimit?, perAccount: RateLimit?, global: RateLimit?) {
        self.limiter = limiter
        self.perAddress = perAddress
        self.perAccount = perAccount
        self.global = global
    }

    /// The default limits in memory: 600 a minute per address (burst 120), 600 a minute per account
    /// (burst 120), 12,000 a minute in all (burst 2,000).
    public init() throws(RateLimitError) {
        self.init(
            limiter: RateLimiter(store: try InMemoryRateLimitStore()),
            perAddress: try RateLimit("web-per-address", count: 600, per: .seconds(60), burst: 120),
            perAccount: try RateLimit("web-per-account", count: 600, per: .seconds(60), burst: 120),
            global: try RateLimit("web-global", count: 12_000, per: .seconds(60), burst: 2_000))
    }

    /// Checks and charges the limits, then runs the rest.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var checks: [RateLimitCheck] = []
        if let perAddress { checks.append(RateLimitCheck(perAddress, key: context.phiGuard.clientAddress)) }
        if let perAccount, let principal = context.phiGuard.principal {
            checks.append(RateLimitCheck(perAccount, key: principal.subject.id))
        }
        if let global { checks.append(RateLimitCheck(global, key: "global")) }
        if !checks.isEmpty {
            let decision = try await limiter.check(checks)
            guard decision.allowed else { throw RateLimitExceeded(decision) }
        }
        return try await next(request, context)
    }
}
