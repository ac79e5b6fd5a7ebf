import Foundation
import Hummingbird
import HummingbirdTesting
import PHIGuardAuthentication
import PHIGuardHummingbird
import Testing

@Suite("Session middleware: the __Host- cookie over LoginFlow")
struct SessionCookieTests {
    @Test("the session cookie is __Host-, Secure, HttpOnly, SameSite=Strict, Path=/, without Domain or lifetime")
    func cookieFlags() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var browser = Browser()
            let response = try await browser.send(
                client, .post, "/login", form: ["name": "alice", "password": WebHarness.password])
            #expect(response.status == .ok)
            let lines = sessionCookies(response)
            #expect(lines.count == 1)
            let attributes = Set(
                (lines.first ?? "").split(separator: ";").dropFirst().map {
                    $0.trimmingCharacters(in: .whitespaces).lowercased()
                })
            #expect(attributes == ["secure", "httponly", "samesite=strict", "path=/"])
            #expect(browser.cookie?.count == 43)
        }
    }

    @Test("a new token on sign-in, on the second factor; the old ones stop working; sign-out deletes the cookie")
    func rotation() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var browser = Browser()
            // A value planted before sign-in (session fixation) is refused and deleted.
            browser.cookie = String(repeating: "A", count: 43)
            let planted = try await browser.send(client, .get, "/state")
            #expect(String(buffer: planted.body) == "anonymous")
            #expect(sessionCookies(planted).first?.contains("Max-Age=0") == true)

            _ = try await browser.send(
                client, .post, "/login", form: ["name": "alice", "password": WebHarness.password])
            let pending = try #require(browser.cookie)
            let token = String(buffer: try await browser.send(client, .get, "/csrf").body)
            let code = try await browser.send(
                client, .post, "/login/code", form: ["code": try harness.code("alice")], csrf: token)
            #expect(String(buffer: code.body) == "signed-in")
            let signedIn = try #require(browser.cookie)
            #expect(signedIn != pending)
            let me = try await browser.send(client, .get, "/me")
            #expect(me.status == .ok)
            #expect(!String(buffer: me.body).isEmpty)

            // The pending token died at the second factor.
            var stale = Browser(cookie: pending)
            let old = try await stale.send(client, .get, "/me")
            #expect(old.status == .unauthorized)
            #expect(sessionCookies(old).first?.contains("Max-Age=0") == true)

            let out = try await browser.send(client, .post, "/logout", form: [:], csrf: token)
            #expect(String(buffer: out.body) == "signed-out")
            #expect(sessionCookies(out).first?.contains("Max-Age=0") == true)
            #expect(browser.cookie == nil)
            var after = Browser(cookie: signedIn)
            #expect(try await after.send(client, .get, "/me").status == .unauthorized)
        }
    }

    @Test("waiting for the second factor: a 401 elsewhere and a wrong code keep the cookie; the right code then works")
    func pendingSecondFactorSurvives() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var browser = Browser()
            _ = try await browser.send(
                client, .post, "/login", form: ["name": "alice", "password": WebHarness.password])
            let pending = try #require(browser.cookie)
            // A page that needs a principal answers 401 — and must not delete the pending session's cookie.
            let early = try await browser.send(client, .get, "/me")
            #expect(early.status == .unauthorized)
            #expect(sessionCookies(early).isEmpty)
            let chart = try await browser.send(client, .get, "/charts/c-alice")
            #expect(chart.status == .unauthorized)
            #expect(sessionCookies(chart).isEmpty)
            #expect(browser.cookie == pending)
            // A wrong code: refused, cookie kept.
            let token = String(buffer: try await browser.send(client, .get, "/csrf").body)
            let correct = try harness.code("alice")
            let wrong = correct == "000000" ? "111111" : "000000"
            let refused = try await browser.send(client, .post, "/login/code", form: ["code": wrong], csrf: token)
            #expect(refused.status == .unauthorized)
            #expect(sessionCookies(refused).isEmpty)
            // The TOTP step still works with the same cookie.
            let accepted = try await browser.send(client, .post, "/login/code", form: ["code": correct], csrf: token)
            #expect(String(buffer: accepted.body) == "signed-in")
            #expect(try await browser.send(client, .get, "/me").status == .ok)
        }
    }

    @Test("idle expiry comes from the library: after 15 idle minutes the session is gone and its cookie deleted")
    func idleExpiry() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var browser = Browser()
            _ = try await browser.signIn(client, harness, as: "alice")
            #expect(try await browser.send(client, .get, "/me").status == .ok)
            harness.clock.advance(by: .seconds(16 * 60))
            let expired = try await browser.send(client, .get, "/me")
            #expect(expired.status == .unauthorized)
            #expect(sessionCookies(expired).first?.contains("Max-Age=0") == true)
        }
    }

    @Test("a safe method never changes state: signing out from a GET handler is refused and the session lives on")
    func safeMethodsDoNotChangeState() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var browser = Browser()
            _ = try await browser.signIn(client, harness, as: "alice")
            let refused = try await browser.send(client, .get, "/logout-by-get")
            #expect(refused.status == .badRequest)
            #expect(sessionCookies(refused).isEmpty)
            #expect(try await browser.send(client, .get, "/me").status == .ok)
        }
    }
}
