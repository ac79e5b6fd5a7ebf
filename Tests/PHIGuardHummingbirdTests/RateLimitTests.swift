import Foundation
import Hummingbird
import HummingbirdTesting
import PHIGuardAuthentication
import PHIGuardHummingbird
import PHIGuardRateLimit
import Testing

@Suite("Rate-limit middleware: per address, per account, global, with Retry-After")
struct RateLimitTests {
    static func limits(
        _ harness: WebHarness, perAddress: Int? = nil, perAccount: Int? = nil, global: Int? = nil
    ) throws -> RateLimitMiddleware<BasicPHIGuardRequestContext> {
        func limit(_ name: String, _ burst: Int?) throws -> RateLimit? {
            try burst.map { try RateLimit(name, count: 1, per: .seconds(60), burst: $0) }
        }
        return RateLimitMiddleware(
            limiter: RateLimiter(store: try InMemoryRateLimitStore(clock: harness.clock)),
            perAddress: try limit("test-address", perAddress), perAccount: try limit("test-account", perAccount),
            global: try limit("test-global", global))
    }

    @Test("per address: the third request in a burst of two is 429 rate_limited with Retry-After")
    func perAddress() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness, limits: try Self.limits(harness, perAddress: 2)).test(.router) {
            client async throws in
            var browser = Browser()
            #expect(try await browser.send(client, .get, "/limited/ping").status == .ok)
            #expect(try await browser.send(client, .get, "/limited/ping").status == .ok)
            let refused = try await browser.send(client, .get, "/limited/ping")
            #expect(refused.status == .tooManyRequests)
            let retryAfter = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...60).contains(retryAfter))
            #expect(refused.headers[.contentType] == "application/problem+json")
            #expect(String(buffer: refused.body).contains(#""code":"rate_limited""#))
            // Routes outside the limited group are not limited.
            #expect(try await browser.send(client, .get, "/state").status == .ok)
            harness.clock.advance(by: .seconds(61))
            #expect(try await browser.send(client, .get, "/limited/ping").status == .ok)
        }
    }

    @Test("per account: one account's burst does not limit another's")
    func perAccount() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness, limits: try Self.limits(harness, perAccount: 1)).test(.router) {
            client async throws in
            var alice = Browser()
            _ = try await alice.signIn(client, harness, as: "alice")
            var bob = Browser()
            _ = try await bob.signIn(client, harness, as: "bob")
            #expect(try await alice.send(client, .get, "/limited/ping").status == .ok)
            #expect(try await alice.send(client, .get, "/limited/ping").status == .tooManyRequests)
            #expect(try await bob.send(client, .get, "/limited/ping").status == .ok)
        }
    }

    @Test("global: the limit counts every client together")
    func global() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness, limits: try Self.limits(harness, global: 2)).test(.router) {
            client async throws in
            var alice = Browser()
            _ = try await alice.signIn(client, harness, as: "alice")
            var anonymous = Browser()
            #expect(try await alice.send(client, .get, "/limited/ping").status == .ok)
            #expect(try await anonymous.send(client, .get, "/limited/ping").status == .ok)
            #expect(try await anonymous.send(client, .get, "/limited/ping").status == .tooManyRequests)
            #expect(try await alice.send(client, .get, "/limited/ping").status == .tooManyRequests)
        }
    }
}
