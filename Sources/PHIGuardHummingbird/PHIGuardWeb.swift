public import Hummingbird
public import PHIGuardAuthentication

/// PHIGuard's middleware stack for a Hummingbird router, in the one order that works, with safe
/// defaults for everything but the `LoginFlow`.
///
/// ```swift
/// let web = try PHIGuardWeb(flow: flow)
/// let router = Router(context: BasicPHIGuardRequestContext.self)
/// web.install(on: router)
/// ```
///
/// ``install(on:)`` adds, outermost first: ``SecurityHeadersMiddleware`` (every response, errors
/// too), ``ClientAddressMiddleware``, ``SessionMiddleware``, ``ProblemMiddleware`` (negotiated: HTML
/// for browsers, problem+json otherwise)
/// and ``CSRFMiddleware``. Add a ``RateLimitMiddleware`` to any group, and a `ProblemMiddleware`
/// with `.html` to groups of browser pages.
public struct PHIGuardWeb: Sendable {
    /// The login flow sessions are resumed and changed through.
    public let flow: LoginFlow
    /// The session cookie.
    public var cookie: SessionCookie
    /// The proxies whose forwarding headers are believed (none by default).
    public var trustedProxies: TrustedProxies
    /// The CSRF checks and form tokens.
    public var csrf: CSRFProtection
    /// The security headers.
    public var securityHeaders: SecurityHeaders
    /// How errors are rendered and logged.
    public var problems: ProblemResponder

    /// The stack over `flow`; every other part has its safe default (a random CSRF key: pass
    /// `csrf` with a shared key when several instances serve one site).
    public init(
        flow: LoginFlow, cookie: SessionCookie = SessionCookie(), trustedProxies: TrustedProxies = TrustedProxies(),
        csrf: CSRFProtection? = nil, securityHeaders: SecurityHeaders = SecurityHeaders(),
        problems: ProblemResponder = ProblemResponder()
    ) throws(PHIGuardWebConfigurationError) {
        self.flow = flow
        self.cookie = cookie
        self.trustedProxies = trustedProxies
        if let csrf { self.csrf = csrf } else { self.csrf = try CSRFProtection() }
        self.securityHeaders = securityHeaders
        self.problems = problems
    }

    /// Adds the stack to `router` (before any route is added to it).
    public func install<Context: PHIGuardRequestContext>(on router: Router<Context>) {
        router.add(middleware: SecurityHeadersMiddleware(headers: securityHeaders, fallback: problems))
        router.add(middleware: ClientAddressMiddleware(trustedProxies: trustedProxies))
        router.add(middleware: SessionMiddleware(flow: flow, cookie: cookie))
        router.add(middleware: ProblemMiddleware(responder: problems, format: .negotiated))
        router.add(middleware: CSRFMiddleware(protection: csrf))
    }

    /// The form token of the request's session (render it as a hidden `_csrf` field), or `nil` when anonymous.
    public func csrfToken(for context: some PHIGuardRequestContext) -> String? {
        csrf.token(for: context.phiGuard.session)
    }
}
