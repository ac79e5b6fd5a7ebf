import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PHIGuardAccess
import PHIGuardAuthentication
import PHIGuardHummingbird
import PHIGuardRateLimit
import PHIGuardRecords

struct LoginForm: Decodable {
    let name: String
    let password: String
}

struct CodeForm: Decodable {
    let code: String
}

struct BreakGlassForm: Decodable {
    let patient: String
    let justification: String
}

/// The app the middleware tests drive: sign-in, second factor, sign-out, the chart routes, a
/// browser page, a rate-limited group and a few probes.
enum TestApp {
    /// HummingbirdTesting sends every request with authority `localhost`.
    static let origin = "https://localhost"

    static func make(
        _ harness: WebHarness, trustedProxies: TrustedProxies = TrustedProxies(),
        limits: RateLimitMiddleware<BasicPHIGuardRequestContext>? = nil
    ) throws -> some ApplicationProtocol {
        let web = try PHIGuardWeb(flow: harness.flow, trustedProxies: trustedProxies)
        let router = Router(context: BasicPHIGuardRequestContext.self)
        web.install(on: router)
        router.post("/login") { request, context -> String in
            let form = try await URLEncodedFormDecoder().decode(LoginForm.self, from: request, context: context)
            switch try await context.phiGuard.requireSession().signIn(loginName: form.name, password: form.password) {
            case .awaitingSecondFactor: return "second-factor"
            case .authenticated: return "signed-in"
            }
        }
        router.post("/login/code") { request, context -> String in
            let form = try await URLEncodedFormDecoder().decode(CodeForm.self, from: request, context: context)
            _ = try await context.phiGuard.requireSession().verifySecondFactor(.totp(form.code))
            return "signed-in"
        }
        router.post("/logout") { _, context -> String in
            try await context.phiGuard.requireSession().signOut()
            return "signed-out"
        }
        router.get("/me") { _, context -> String in
            try context.phiGuard.requirePrincipal().subject.id
        }
        router.get("/state") { _, context -> String in
            try context.phiGuard.requireSession().current.state?.rawValue ?? "anonymous"
        }
        router.get("/csrf") { _, context -> String in web.csrfToken(for: context) ?? "" }
        router.get("/address") { _, context -> String in context.phiGuard.clientAddress }
        router.post("/echo") { _, _ -> String in "changed" }
        // A handler that breaks the rule "safe methods never change state": the session refuses.
        router.get("/logout-by-get") { _, context -> String in
            try await context.phiGuard.requireSession().signOut()
            return "signed-out"
        }
        router.get("/crash") { _, _ -> String in throw InternalFailure(path: "/var/lib/portal/secret.sqlite") }
        let charts = GuardedRecordRoutes(records: harness.records, emergency: harness.emergency)
        charts.register(on: router.group("charts"))
        router.post("/break-glass") { request, context -> String in
            let form = try await URLEncodedFormDecoder().decode(BreakGlassForm.self, from: request, context: context)
            let grant = try await harness.emergency.invoke(
                try context.phiGuard.requirePrincipal(), scope: BreakGlassScope(patient: form.patient),
                reason: BreakGlassReason(category: .emergencyTreatment, justification: form.justification))
            return grant.grant.id
        }
        let pages = router.group("portal").add(middleware: ProblemMiddleware(format: .html))
        pages.get("chart/{id}") { request, context -> Response in
            let record = try await charts.read(try context.parameters.require("id"), request: request, context: context)
            var response = Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: ResponseBody(
                    byteBuffer: ByteBuffer(string: "<p>\(HTMLText.escape(record["name"] ?? ""))</p>")))
            response.headers[.cacheControl] = "no-store"
            return response
        }
        if let limits {
            router.group("limited").add(middleware: limits).get("ping") { _, _ -> String in "pong" }
        }
        return Application(router: router)
    }
}

/// An error whose text must never reach a client.
struct InternalFailure: Error, CustomStringConvertible {
    let path: String
    var description: String { "could not open \(path)" }
}

/// A cookie jar of one: the session cookie, as a browser would keep it.
struct Browser {
    static let cookieName = "__Host-phiguard-session"
    var cookie: String?
    /// Send `Origin` and `Sec-Fetch-Site: same-origin` like a same-origin browser form.
    var sameOrigin = true

    /// Sends a request; applies the response's `Set-Cookie` for the session cookie.
    mutating func send(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, form: [String: String]? = nil,
        json: String? = nil, headers extra: HTTPFields = [:], csrf: String? = nil
    ) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if sameOrigin, method != .get {
            headers[.origin] = TestApp.origin
            headers.append(HTTPField(name: try Self.name("Sec-Fetch-Site"), value: "same-origin"))
        }
        if let cookie { headers[.cookie] = "\(Self.cookieName)=\(cookie)" }
        var body: ByteBuffer?
        if var form {
            if let csrf { form["_csrf"] = csrf }
            headers[.contentType] = "application/x-www-form-urlencoded"
            body = ByteBuffer(string: Self.encode(form))
        } else if let json {
            headers[.contentType] = "application/json"
            body = ByteBuffer(string: json)
        }
        headers.append(contentsOf: extra)
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
        for line in response.headers[values: .setCookie] where line.hasPrefix(Self.cookieName + "=") {
            let value = line.dropFirst(Self.cookieName.count + 1).prefix { $0 != ";" }
            cookie = value.isEmpty ? nil : String(value)
        }
        return response
    }

    /// Password, then TOTP, through HTTP; returns the CSRF token of the session.
    mutating func signIn(_ client: some TestClientProtocol, _ harness: WebHarness, as name: String) async throws
        -> String
    {
        let first = try await send(client, .post, "/login", form: ["name": name, "password": WebHarness.password])
        guard String(buffer: first.body) == "second-factor" else { throw HarnessError.setup }
        let token = String(buffer: try await send(client, .get, "/csrf").body)
        let second = try await send(client, .post, "/login/code", form: ["code": try harness.code(name)], csrf: token)
        guard String(buffer: second.body) == "signed-in" else { throw HarnessError.setup }
        harness.clock.advance(by: .seconds(30))
        return token
    }

    static func name(_ text: String) throws -> HTTPField.Name {
        guard let name = HTTPField.Name(text) else { throw HarnessError.setup }
        return name
    }

    static func encode(_ form: [String: String]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return form.sorted { $0.key < $1.key }.map { key, value in
            "\(key.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")="
                + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        }.joined(separator: "&")
    }
}

/// Every `Set-Cookie` line of `response` for the session cookie.
func sessionCookies(_ response: TestResponse) -> [String] {
    response.headers[values: .setCookie].filter { $0.hasPrefix(Browser.cookieName + "=") }
}
