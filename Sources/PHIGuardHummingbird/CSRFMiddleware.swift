internal import Foundation
public import Hummingbird

/// Refuses cross-site state-changing requests (403 `access_denied`, ``PHIGuardWebError/crossSiteRequestRefused(_:)``).
///
/// Safe methods (GET, HEAD, OPTIONS, TRACE) pass untouched — and never change state: the session
/// steps refuse to run on them. Every other request must pass, in order:
///
/// 1. **Fetch metadata**: a `Sec-Fetch-Site` header, when present, must be `same-origin`.
/// 2. **Origin**: an `Origin` header, when present, must be one of
///    ``CSRFProtection/allowedOrigins`` (by default: the request's own host). `null` is accepted only
///    together with `Sec-Fetch-Site: same-origin` — browsers send `null` on a same-origin form post
///    when the page's `Referrer-Policy` is `no-referrer`, as ``SecurityHeaders`` sets it — and refused
///    otherwise. A request that could come from a plain HTML form (no content type, form-encoded,
///    multipart or `text/plain`) and carries neither header is refused.
/// 3. **Synchronizer token**: a form-like request from a session must carry the session's token
///    (``CSRFProtection/token(for:)``) in the `_csrf` field of a form-encoded body or in the
///    `X-CSRF-Token` header. (Multipart and `text/plain` bodies are not parsed: send the header.)
///
/// Put it after ``SessionMiddleware`` (the token is bound to the session).
public struct CSRFMiddleware<Context: PHIGuardRequestContext>: RouterMiddleware {
    let protection: CSRFProtection

    /// Checks requests with `protection`.
    public init(protection: CSRFProtection) {
        self.protection = protection
    }

    /// Checks a state-changing request, then runs the rest.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard !request.method.isSafe else { return try await next(request, context) }
        var request = request
        try await check(&request, context: context)
        return try await next(request, context)
    }

    func check(_ request: inout Request, context: Context) async throws {
        let fetchSite = request.headers.values(named: "Sec-Fetch-Site").first?.lowercased()
        if let fetchSite, fetchSite != "same-origin" {
            throw PHIGuardWebError.crossSiteRequestRefused(.fetchSiteNotSameOrigin)
        }
        let formLike = Self.isFormLike(request.headers[.contentType])
        if let origin = request.headers[.origin] {
            let vouchedNull = origin.lowercased() == "null" && fetchSite == "same-origin"
            guard vouchedNull || isAllowed(origin: origin, request: request) else {
                throw PHIGuardWebError.crossSiteRequestRefused(.originNotAllowed)
            }
        } else if fetchSite == nil, formLike {
            throw PHIGuardWebError.crossSiteRequestRefused(.noOriginOnFormPost)
        }
        guard formLike, let handle = context.phiGuard.session?.handle else { return }
        var presented = request.headers.values(named: CSRFProtection.headerName).first
        if presented == nil, Self.isFormEncoded(request.headers[.contentType]) {
            let body = try await request.collectBody(upTo: context.maxUploadSize)
            presented = Self.formValue(CSRFProtection.formField, in: String(buffer: body))
        }
        guard let presented else { throw PHIGuardWebError.crossSiteRequestRefused(.tokenMissing) }
        guard protection.verify(presented, handle: handle) else {
            throw PHIGuardWebError.crossSiteRequestRefused(.tokenMismatch)
        }
    }

    func isAllowed(origin: String, request: Request) -> Bool {
        let origin = origin.lowercased()
        guard origin != "null" else { return false }
        if !protection.allowedOrigins.isEmpty { return protection.allowedOrigins.contains(origin) }
        guard let separator = origin.range(of: "://"),
            let host = request.head.authority ?? request.headers.values(named: "Host").first
        else { return false }
        return origin[separator.upperBound...] == host.lowercased()
    }

    /// Content types a cross-site HTML form can send without a CORS preflight (and no content type).
    static func isFormLike(_ contentType: String?) -> Bool {
        guard let contentType else { return true }
        let essence = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain", ""]
            .contains(essence.lowercased())
    }

    static func isFormEncoded(_ contentType: String?) -> Bool {
        contentType?.lowercased().hasPrefix("application/x-www-form-urlencoded") ?? false
    }

    /// The first value of `name` in a form-encoded body.
    static func formValue(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, decode(parts[0]) == name else { continue }
            return decode(parts[1])
        }
        return nil
    }

    static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
