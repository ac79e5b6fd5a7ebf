internal import Logging
public import PHIGuardErrors

/// The refusals of PHIGuard's Hummingbird middleware and route helpers. Each maps to a fixed
/// `PublicProblem` (``errorMapping``); the internal reason goes to the log only.
public enum PHIGuardWebError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The route needs a signed-in principal and the request has none (401, the uniform
    /// `authentication_failed`). The session cookie is left as it is.
    case signInRequired
    /// A sign-in step was asked for from a session in another state (for example a second factor
    /// with no password step before it): 401, cookie left as it is.
    case wrongSessionState
    /// A state-changing request failed the cross-site check (`Sec-Fetch-Site`, `Origin`) or carried no
    /// valid synchronizer token: 403 `access_denied`.
    case crossSiteRequestRefused(CrossSiteRefusal)
    /// A state-changing call was made while handling a safe method (GET, HEAD, OPTIONS, TRACE): 400.
    case stateChangeOnSafeMethod
    /// The request body or a parameter could not be read: 400 `invalid_request`.
    case invalidRequest
    /// A route asked for the session and no ``SessionMiddleware`` ran for it (a wiring mistake): 500.
    case sessionMiddlewareMissing
    /// Break-the-glass was asked for and no active grant of this principal opens that patient: 403
    /// `break_glass_refused`.
    case noActiveEmergencyGrant

    /// Why a state-changing request was refused as cross-site (for the log; the client sees 403 only).
    public enum CrossSiteRefusal: String, Sendable, Hashable {
        /// `Sec-Fetch-Site` named another site or origin.
        case fetchSiteNotSameOrigin = "sec-fetch-site"
        /// `Origin` named an origin that is not allowed (or `null`).
        case originNotAllowed = "origin"
        /// A form post with neither `Origin` nor `Sec-Fetch-Site`.
        case noOriginOnFormPost = "no-origin"
        /// The synchronizer token was missing.
        case tokenMissing = "token-missing"
        /// The synchronizer token did not match the session.
        case tokenMismatch = "token-mismatch"
    }

    /// A description for the log (no token, no header value).
    public var description: String {
        switch self {
        case .signInRequired: "sign-in required"
        case .wrongSessionState: "sign-in step not possible in this session state"
        case .crossSiteRequestRefused(let reason): "cross-site request refused (\(reason.rawValue))"
        case .stateChangeOnSafeMethod: "state change attempted on a safe method"
        case .invalidRequest: "invalid request"
        case .noActiveEmergencyGrant: "no active emergency grant for the requested patient"
        case .sessionMiddlewareMissing: "no SessionMiddleware ran for this route"
        }
    }
}

extension PHIGuardWebError: PublicErrorMappable {
    /// 401 for missing sign-in, 403 for cross-site refusals and missing grants, 400 otherwise.
    public var errorMapping: MappedError {
        let message = description
        return switch self {
        case .signInRequired:
            MappedError(
                .authenticationFailed, internalCode: "web.sign_in_required", logMessage: message, logLevel: .info)
        case .wrongSessionState:
            MappedError(
                .authenticationFailed, internalCode: "web.wrong_session_state", logMessage: message, logLevel: .info)
        case .crossSiteRequestRefused:
            MappedError(.accessDenied, internalCode: "web.csrf_refused", logMessage: message, logLevel: .notice)
        case .stateChangeOnSafeMethod:
            MappedError(.invalidRequest, internalCode: "web.safe_method_state_change", logMessage: message)
        case .invalidRequest:
            MappedError(.invalidRequest, internalCode: "web.invalid_request", logMessage: message, logLevel: .info)
        case .sessionMiddlewareMissing:
            MappedError(.internalError, internalCode: "web.session_middleware_missing", logMessage: message)
        case .noActiveEmergencyGrant:
            MappedError(.breakGlassRefused, internalCode: "web.no_emergency_grant", logMessage: message)
        }
    }
}
