public import PHIGuardRateLimit

// PHIGuardRateLimit → public problems. Exhaustive on purpose: a new RateLimitError case does not
// compile until it is mapped here (and the leak scan test lists it).
//
// A refused RateLimitDecision is not an error: answer it with PublicProblem.rateLimited (429), or,
// on a sign-in route, with ErrorReporter.reportAuthenticationFailure so throttling looks like any
// other failed sign-in.

extension RateLimitError: PublicErrorMappable {
    /// A store outage is 503; invalid limits and checks are configuration or programming errors, 500.
    public var errorMapping: MappedError {
        // RateLimitError's descriptions never include a key.
        let message = description
        return switch self {
        case .invalidLimit:
            MappedError(.internalError, internalCode: "rate_limit.invalid_limit", logMessage: message)
        case .invalidCheck:
            MappedError(.internalError, internalCode: "rate_limit.invalid_check", logMessage: message)
        case .storeUnavailable:
            MappedError(.serviceUnavailable, internalCode: "rate_limit.store_unavailable", logMessage: message)
        }
    }
}
