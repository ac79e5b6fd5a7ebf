public import Hummingbird
public import PHIGuardAuthentication

/// Resumes the request's session from the ``SessionCookie`` through `LoginFlow.resume` and puts a
/// ``PHIGuardSession`` in ``PHIGuardRequestState/session``; after the handler, writes the cookie.
///
/// - A new or rotated token (sign-in, second factor, step-up) is sent as a new cookie.
/// - The cookie is deleted only when the session is really gone: signed out or ended, or the
///   presented value does not name a live session (never issued, rotated away, expired — strict mode).
/// - Anything else — a refused route, a wrong code, "sign in first" while the second factor is due —
///   leaves the cookie alone.
/// - Idle and absolute expiry are the library's (checked in `resume` on every request); the cookie
///   has no lifetime of its own.
///
/// Put it after ``ClientAddressMiddleware`` (the flow counts attempts per client address) and
/// before ``ProblemMiddleware``, so a cookie decided before an error still reaches the client.
public struct SessionMiddleware<Context: PHIGuardRequestContext>: RouterMiddleware {
    let flow: LoginFlow
    let cookie: SessionCookie

    /// Sessions of `flow`, carried in `cookie`.
    public init(flow: LoginFlow, cookie: SessionCookie = SessionCookie()) {
        self.flow = flow
        self.cookie = cookie
    }

    /// Resumes, runs the rest, writes the cookie.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let presented = cookie.value(in: request)
        let resumed = try await flow.resume(presented)
        // A presented value that names no live session: delete it, whatever the handler does.
        let initial: PHIGuardSession.CookieAction =
            if presented != nil, case .anonymous = resumed { .clear } else { .keep }
        let session = PHIGuardSession(
            flow: flow, resumed: resumed, clientAddress: context.phiGuard.clientAddress,
            mayChangeState: !request.method.isSafe, cookie: initial)
        var context = context
        context.phiGuard.session = session
        var response = try await next(request, context)
        switch session.cookieAction {
        case .keep: break
        case .set(let value): response.setCookie(cookie.setting(value))
        case .clear: response.setCookie(cookie.clearing())
        }
        return response
    }
}

extension HTTPRequest.Method {
    /// GET, HEAD, OPTIONS and TRACE: methods that must never change state (RFC 9110 §9.2.1).
    var isSafe: Bool { self == .get || self == .head || self == .options || self == .trace }
}
