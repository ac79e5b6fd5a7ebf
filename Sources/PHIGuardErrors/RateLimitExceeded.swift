public import PHIGuardRateLimit

/// A refused `RateLimitDecision` as an error: 429 ``PublicProblem/rateLimited`` with `Retry-After`.
///
/// ```swift
/// let decision = try await limiter.check([RateLimitCheck(perClient, key: clientAddress)])
/// guard decision.allowed else { throw RateLimitExceeded(decision) }
/// ```
///
/// On a sign-in route, report it with ``ErrorReporter/reportAuthenticationFailure(_:context:correlationID:logger:)``
/// instead, so throttling looks like any other failed sign-in.
public struct RateLimitExceeded: Error, Sendable, Hashable, CustomStringConvertible {
    /// How long the client should wait.
    public var retryAfter: Duration
    /// The names of the limits that refused (configuration names, never keys).
    public var refusedBy: [String]

    /// A refusal that lasts `retryAfter`.
    public init(retryAfter: Duration, refusedBy: [String] = []) {
        self.retryAfter = retryAfter
        self.refusedBy = refusedBy
    }

    /// The refusal `decision` describes (its delay and the limits that refused).
    public init(_ decision: RateLimitDecision) {
        self.init(retryAfter: decision.retryAfter, refusedBy: decision.refusedBy)
    }

    /// `rate limit exceeded; retry after <delay>` (internal; limit names only).
    public var description: String { "rate limit exceeded; retry after \(retryAfter)" }
}

extension RateLimitExceeded: PublicErrorMappable {
    /// Always 429 ``PublicProblem/rateLimited``, with ``PublicHeader/retryAfter(_:)``.
    public var errorMapping: MappedError {
        var context = ErrorContext()
        if !refusedBy.isEmpty { context.add("refused_by", .value(refusedBy.joined(separator: ","))) }
        return MappedError(
            .rateLimited, internalCode: "rate_limit.exceeded", logMessage: description, context: context,
            headers: [.retryAfter(retryAfter)])
    }
}
