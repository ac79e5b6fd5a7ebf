import Foundation
import Hummingbird
import HummingbirdTesting
import PHIGuardAuthentication
import PHIGuardHummingbird
import Testing

@Suite("Problem responses and security headers")
struct ProblemAndHeaderTests {
    static func object(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]) ?? [:]
    }

    static let securityHeaders = [
        "content-security-policy", "strict-transport-security", "x-content-type-options", "referrer-policy",
        "x-frame-options", "cache-control",
    ]

    static func expectSecurityHeaders(_ response: TestResponse, _ label: String) {
        for name in securityHeaders {
            #expect(!response.headers.filter { $0.name.canonicalName == name }.isEmpty, "\(name) on \(label)")
        }
        #expect(response.headers[.xContentTypeOptions] == "nosniff", "\(label)")
        let csp = response.headers[.contentSecurityPolicy] ?? ""
        #expect(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "\(label)")
        #expect(csp.contains("frame-ancestors 'none'"), "\(label)")
        #expect(response.headers.filter { $0.name.canonicalName == "referrer-policy" }.first?.value == "no-referrer")
        #expect(response.headers.filter { $0.name.canonicalName == "x-frame-options" }.first?.value == "DENY")
    }

    @Test("every error is RFC 9457 problem+json with the request id as instance, and nothing internal")
    func problemShape() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var browser = Browser()
            let missing = try await browser.send(client, .get, "/no/such/route")
            #expect(missing.status == .notFound)
            #expect(missing.headers[.contentType] == "application/problem+json")
            let body = Self.object(missing)
            #expect(Set(body.keys) == ["type", "title", "status", "detail", "instance", "code"])
            #expect(body["code"] as? String == "not_found")
            #expect(body["status"] as? Int == 404)
            #expect((body["instance"] as? String)?.isEmpty == false)

            let crash = try await browser.send(client, .get, "/crash")
            #expect(crash.status == .internalServerError)
            let text = String(buffer: crash.body)
            #expect(!text.contains("/var/lib") && !text.contains("secret") && !text.contains("InternalFailure"))
            #expect(Self.object(crash)["code"] as? String == "internal_error")

            let unauthorized = try await browser.send(client, .get, "/me")
            #expect(unauthorized.status == .unauthorized)
            #expect(unauthorized.headers[.wwwAuthenticate] == #"Session realm="phiguard""#)
            #expect(Self.object(unauthorized)["code"] as? String == "authentication_failed")
        }
    }

    @Test("a wrong password and an unknown account get the same answer")
    func uniformSignInFailure() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var browser = Browser()
            let wrong = try await browser.send(
                client, .post, "/login", form: ["name": "alice", "password": "nope nope nope"])
            let unknown = try await browser.send(
                client, .post, "/login", form: ["name": "zed", "password": "nope nope nope"])
            #expect(wrong.status == .unauthorized && unknown.status == .unauthorized)
            var first = Self.object(wrong)
            var second = Self.object(unknown)
            first["instance"] = nil
            second["instance"] = nil
            #expect(NSDictionary(dictionary: first).isEqual(to: second))
        }
    }

    @Test("browser routes get a plain HTML error page (no script), with the reference")
    func htmlErrorPage() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var browser = Browser()
            let page = try await browser.send(client, .get, "/portal/chart/c-alice")
            #expect(page.status == .unauthorized)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            let html = String(buffer: page.body)
            #expect(html.contains("<h1>Authentication failed</h1>") && html.contains("Reference:"))
            #expect(!html.lowercased().contains("<script"))
        }
    }

    @Test("security headers on every response: success, not found, internal error, CSRF refusal, HTML error")
    func headersEverywhere() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var browser = Browser()
            Self.expectSecurityHeaders(try await browser.send(client, .get, "/state"), "200")
            Self.expectSecurityHeaders(try await browser.send(client, .get, "/nowhere"), "404")
            Self.expectSecurityHeaders(try await browser.send(client, .get, "/crash"), "500")
            Self.expectSecurityHeaders(try await browser.send(client, .get, "/portal/chart/c-alice"), "html 401")
            var evil = Browser(sameOrigin: false)
            let refused = try await evil.send(
                client, .post, "/echo", form: [:], headers: [.origin: "https://evil.test"])
            #expect(refused.status == .forbidden)
            Self.expectSecurityHeaders(refused, "403")
            // PHI: no-store on the chart.
            _ = try await browser.signIn(client, harness, as: "alice")
            let chart = try await browser.send(client, .get, "/charts/c-alice")
            #expect(chart.status == .ok)
            #expect(chart.headers[.cacheControl] == "no-store")
            Self.expectSecurityHeaders(chart, "chart")
            let page = try await browser.send(client, .get, "/portal/chart/c-alice")
            #expect(page.headers[.cacheControl] == "no-store")
        }
    }

    @Test("an error no ProblemMiddleware rendered still gets the headers and a problem+json body")
    func headersOnUnrenderedErrors() async throws {
        let router = Router(context: BasicPHIGuardRequestContext.self)
        router.add(middleware: SecurityHeadersMiddleware())
        router.get("/fail") { _, _ -> String in throw InternalFailure(path: "/etc/portal/keys") }
        try await Application(router: router).test(.router) { client async throws in
            let response = try await client.execute(uri: "/fail", method: .get)
            #expect(response.status == .internalServerError)
            #expect(response.headers[.contentType] == "application/problem+json")
            #expect(!String(buffer: response.body).contains("/etc/portal"))
            Self.expectSecurityHeaders(response, "unrendered 500")
        }
    }

    @Test("the router-wide responder answers browsers (Accept: text/html) with the HTML page, others with JSON")
    func negotiatedFormat() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var browser = Browser()
            let page = try await browser.send(
                client, .get, "/me", headers: [.accept: "text/html,application/xhtml+xml,*/*;q=0.8"])
            #expect(page.status == .unauthorized)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            let api = try await browser.send(client, .get, "/me", headers: [.accept: "*/*"])
            #expect(api.headers[.contentType] == "application/problem+json")
        }
    }
}
