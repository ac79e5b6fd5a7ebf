import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PHIGuardHummingbird
import Testing

@Suite("CSRF: origin checks and the session-bound form token")
struct CSRFTests {
    static func code(_ response: TestResponse) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
        return object?["code"] as? String
    }

    @Test("a form post from another origin is refused, with and without Sec-Fetch-Site")
    func crossSiteOrigin() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var browser = Browser(sameOrigin: false)
            let evil: HTTPFields = [.origin: "https://evil.test"]
            let refused = try await browser.send(client, .post, "/echo", form: ["a": "b"], headers: evil)
            #expect(refused.status == .forbidden)
            #expect(Self.code(refused) == "access_denied")
            let nullOrigin = try await browser.send(
                client, .post, "/echo", form: ["a": "b"], headers: [.origin: "null"])
            #expect(nullOrigin.status == .forbidden)
            // The same request from the site itself passes (the check is not refusing everything).
            let own = try await browser.send(
                client, .post, "/echo", form: ["a": "b"], headers: [.origin: TestApp.origin])
            #expect(String(buffer: own.body) == "changed")
        }
    }

    @Test("Sec-Fetch-Site other than same-origin is refused, even with a matching Origin")
    func fetchMetadata() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var browser = Browser(sameOrigin: false)
            for site in ["cross-site", "same-site", "none"] {
                let headers: HTTPFields = [.origin: TestApp.origin, try Browser.name("Sec-Fetch-Site"): site]
                let response = try await browser.send(client, .post, "/echo", json: "{}", headers: headers)
                #expect(response.status == .forbidden, "Sec-Fetch-Site: \(site)")
            }
        }
    }

    @Test("a form post with neither Origin nor Sec-Fetch-Site is refused; a JSON call without them passes")
    func noOriginHeaders() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var browser = Browser(sameOrigin: false)
            #expect(try await browser.send(client, .post, "/echo", form: ["a": "b"]).status == .forbidden)
            #expect(try await browser.send(client, .post, "/echo").status == .forbidden)
            #expect(String(buffer: try await browser.send(client, .post, "/echo", json: "{}").body) == "changed")
        }
    }

    @Test("a signed-in form post needs the session's token: missing, wrong or another session's token is refused")
    func synchronizerToken() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var alice = Browser()
            let token = try await alice.signIn(client, harness, as: "alice")
            var bob = Browser()
            let bobToken = try await bob.signIn(client, harness, as: "bob")
            #expect(token != bobToken)
            #expect(try await alice.send(client, .post, "/echo", form: ["a": "b"]).status == .forbidden)
            #expect(
                try await alice.send(client, .post, "/echo", form: ["a": "b"], csrf: "x" + token).status == .forbidden)
            #expect(try await alice.send(client, .post, "/echo", form: ["a": "b"], csrf: bobToken).status == .forbidden)
            let header: HTTPFields = [try Browser.name("X-CSRF-Token"): bobToken]
            #expect(
                try await alice.send(client, .post, "/echo", form: ["a": "b"], headers: header).status == .forbidden)
            // The right token, in the form or in the header, passes.
            #expect(
                String(buffer: try await alice.send(client, .post, "/echo", form: ["a": "b"], csrf: token).body)
                    == "changed")
            let own: HTTPFields = [try Browser.name("X-CSRF-Token"): token]
            #expect(
                String(buffer: try await alice.send(client, .post, "/echo", form: ["a": "b"], headers: own).body)
                    == "changed")
            // Refused posts changed nothing: alice is still signed in.
            #expect(try await alice.send(client, .get, "/me").status == .ok)
        }
    }

    @Test("Origin: null is accepted only when Sec-Fetch-Site vouches same-origin (Chromium under no-referrer)")
    func nullOriginUnderNoReferrer() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var browser = Browser(sameOrigin: false)
            let vouched: HTTPFields = [.origin: "null", try Browser.name("Sec-Fetch-Site"): "same-origin"]
            let accepted = try await browser.send(client, .post, "/echo", form: ["a": "b"], headers: vouched)
            #expect(String(buffer: accepted.body) == "changed")
            let crossSite: HTTPFields = [.origin: "null", try Browser.name("Sec-Fetch-Site"): "cross-site"]
            #expect(
                try await browser.send(client, .post, "/echo", form: ["a": "b"], headers: crossSite).status
                    == .forbidden)
            let alone: HTTPFields = [.origin: "null"]
            #expect(
                try await browser.send(client, .post, "/echo", form: ["a": "b"], headers: alone).status == .forbidden)
        }
    }
}
