internal import HTTPTypes
public import Hummingbird
public import PHIGuardHummingbird

/// The API's CSRF rule, on top of the adapter's `CSRFMiddleware` (which checks `Origin` and
/// `Sec-Fetch-Site` and the token of form-like posts only): **every** state-changing request from a
/// client that holds a session — whatever its content type — must carry the session's token in
/// `X-CSRF-Token` (from `GET /session` or the sign-in answer), compared in constant time. Without a
/// session (the first sign-in step) there is nothing to bind a token to, and the origin checks alone apply.
///
/// Refusals are the adapter's `PHIGuardWebError.crossSiteRequestRefused` (403 `access_denied`).
public struct APICSRFMiddleware<Context: PHIGuardRequestContext>: RouterMiddleware {
    let protection: CSRFProtection

    /// Checks tokens made by `protection` (the one the adapter's middleware uses).
    public init(protection: CSRFProtection) {
        self.protection = protection
    }

    /// Checks a state-changing request's token, then runs the rest.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let safe = [.get, .head, .options, .trace].contains(request.method)
        if !safe, let session = context.phiGuard.session, session.handle != nil {
            guard let name = HTTPField.Name(CSRFProtection.headerName), let presented = request.headers[name] else {
                throw PHIGuardWebError.crossSiteRequestRefused(.tokenMissing)
            }
            guard protection.verify(presented, for: session) else {
                throw PHIGuardWebError.crossSiteRequestRefused(.tokenMismatch)
            }
        }
        return try await next(request, context)
    }
}
