public import Hummingbird

/// The security headers sent with every response.
public struct SecurityHeaders: Sendable, Hashable {
    /// `Content-Security-Policy`. The default allows scripts, styles and images from the site itself
    /// only — no inline script or style, no `eval`, no plugins — posts forms only to the site, and
    /// forbids framing.
    public var contentSecurityPolicy: String
    /// `Strict-Transport-Security`; `nil` sends none (only for a site that is never served over HTTPS).
    public var strictTransportSecurity: String?
    /// `Cache-Control` for responses that set none: `no-store` by default, so no page that may hold
    /// PHI is kept by the browser or a proxy (the back button after sign-out shows nothing). Route
    /// helpers that return PHI always send `no-store` themselves.
    public var defaultCacheControl: String

    /// `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`.
    public static let defaultContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'"
    /// Two years, subdomains included.
    public static let defaultStrictTransportSecurity = "max-age=63072000; includeSubDomains"

    /// The safe defaults.
    public init(
        contentSecurityPolicy: String = SecurityHeaders.defaultContentSecurityPolicy,
        strictTransportSecurity: String? = SecurityHeaders.defaultStrictTransportSecurity,
        defaultCacheControl: String = "no-store"
    ) {
        self.contentSecurityPolicy = contentSecurityPolicy
        self.strictTransportSecurity = strictTransportSecurity
        self.defaultCacheControl = defaultCacheControl
    }

    /// Adds the headers to `fields` (a route's own `Cache-Control` is kept).
    func apply(to fields: inout HTTPFields) {
        fields[.contentSecurityPolicy] = contentSecurityPolicy
        if let strictTransportSecurity { fields[.strictTransportSecurity] = strictTransportSecurity }
        fields[.xContentTypeOptions] = "nosniff"
        fields.set("Referrer-Policy", to: "no-referrer")
        fields.set("X-Frame-Options", to: "DENY")
        fields.set("Cross-Origin-Opener-Policy", to: "same-origin")
        fields[.crossOriginResourcePolicy] = "same-origin"
        if fields[.cacheControl] == nil { fields[.cacheControl] = defaultCacheControl }
    }
}

/// Adds ``SecurityHeaders`` to every response, error responses included: an error that reaches it
/// unrendered is rendered by its ``ProblemResponder`` first. Add it first (outermost).
public struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let headers: SecurityHeaders
    let fallback: ProblemResponder

    /// Sends `headers`; errors nothing else rendered become problem+json through `fallback`.
    public init(headers: SecurityHeaders = SecurityHeaders(), fallback: ProblemResponder = ProblemResponder()) {
        self.headers = headers
        self.fallback = fallback
    }

    /// Runs the rest and adds the headers.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = fallback.response(for: error, context: context)
        }
        headers.apply(to: &response.headers)
        return response
    }
}
