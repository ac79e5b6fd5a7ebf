import Foundation
import Logging
import PHIGuardPostgres
import PHIGuardRateLimit
import PHIGuardTesting
import PostgresNIO
import Testing

/// Runs over verified TLS against the throwaway server `scripts/with-test-postgres.sh` starts
/// (see ``TestDatabase``).
@Suite(
    "PostgreSQL rate-limit store",
    .enabled(if: TestDatabase.enabled)
)
struct PostgresRateLimitStoreTests {
    static let secret = (0..<32).map { UInt8($0) }

    /// A client for the test server with `connections` connections, running for the duration of `body`.
    func withClient<R>(connections: Int = 8, port: Int? = nil, _ body: (PostgresClient) async throws -> R) async throws
        -> R
    {
        try await TestDatabase.withClient(connections: connections, port: port, body)
    }

    /// Exactness is measured with a long timeout: 10,000 checks queue for 8 connections, and the
    /// default 2 s (meant for an unreachable server) would refuse the ones still waiting.
    func makeStore(_ client: PostgresClient, table: String) async throws -> PostgresRateLimitStore {
        let store = try PostgresRateLimitStore(
            client: client, table: table, keyDigestSecret: try DigestSecret(copying: Self.secret),
            timeout: .seconds(600))
        try await store.migrate()
        try await client.query(PostgresQuery(unsafeSQL: "TRUNCATE \(table)"))
        return store
    }

    @Test("conformance, on the server's clock")
    func conformance() async throws {
        try await withClient { client in
            try await RateLimitStoreConformance.check(try await makeStore(client, table: "rl_conformance"), clock: nil)
        }
    }

    @Test("burst then refusal, on the server's clock; keys are stored only as digests")
    func semantics() async throws {
        try await withClient { client in
            let store = try await makeStore(client, table: "rl_semantics")
            let limit = try RateLimit("login", count: 10, per: .seconds(3_600), burst: 3)
            let check = [RateLimitCheck(limit, key: "203.0.113.77")]
            #expect(try await store.check(check, cost: 1).remaining == 2)
            #expect(try await store.check(check, cost: 1).remaining == 1)
            #expect(try await store.check(check, cost: 1).remaining == 0)
            let refused = try await store.check(check, cost: 1)
            #expect(!refused.allowed)
            #expect(refused.refusedBy == ["login"])
            #expect(refused.retryAfter > .seconds(300) && refused.retryAfter <= .seconds(360))
            #expect(try await !store.check(check, cost: 4).allowed)  // over the burst
            // What is at rest: 16-byte digests, never the address.
            let rows = try await client.query("SELECT encode(key, 'escape'), length(key) FROM rl_semantics")
            for try await (text, length) in rows.decode((String, Int).self) {
                #expect(length == 16)
                #expect(!text.contains("203.0.113"))
            }
        }
    }

    @Test("a stored TAT near Int64.max refuses without a trap; a negative one is a corrupt row")
    func corruptTAT() async throws {
        try await withClient { client in
            let store = try await makeStore(client, table: "rl_corrupt")
            let limit = try RateLimit("login", count: 10, per: .seconds(3_600), burst: 3)
            let other = try RateLimit("global", count: 100, per: .seconds(60))
            let one = [RateLimitCheck(limit, key: "203.0.113.77")]
            let two = one + [RateLimitCheck(other, key: "all")]
            #expect(try await store.check(two, cost: 1).allowed)
            for tat in [Int64.max, Int64.max - 1, Int64.max - 360_000_000_000] {
                try await client.query(PostgresQuery(unsafeSQL: "UPDATE rl_corrupt SET tat = \(tat)"))
                do {
                    #expect(try await !store.check(one, cost: 1).allowed, "TAT \(tat)")
                } catch {
                    // The server refuses the sum past the bigint range: a typed failure, never a trap.
                    #expect(
                        error as? RateLimitError == .storeUnavailable("PostgreSQL query failed"), "TAT \(tat): \(error)"
                    )
                }
                do {
                    #expect(try await !store.check(two, cost: 1).allowed, "TAT \(tat)")
                } catch {
                    #expect(
                        error as? RateLimitError == .storeUnavailable("PostgreSQL query failed"), "TAT \(tat): \(error)"
                    )
                }
            }
            // The multi-limit path reads every TAT: a negative one is a corrupt row.
            try await client.query("UPDATE rl_corrupt SET tat = -1")
            await #expect(throws: RateLimitError.self) { try await store.check(two, cost: 1) }
        }
    }

    @Test("10,000 concurrent attempts over 8 connections and two instances admit exactly 40")
    func exactness() async throws {
        try await withClient { first in
            try await withClient { second in
                let storeA = try await makeStore(first, table: "rl_exact")
                let storeB = try PostgresRateLimitStore(
                    client: second, table: "rl_exact", keyDigestSecret: try DigestSecret(copying: Self.secret),
                    timeout: .seconds(600))
                let limit = try RateLimit("contended", count: 40, per: .seconds(86_400), burst: 40)
                let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for index in 0..<10_000 {
                        group.addTask {
                            let store = index % 2 == 0 ? storeA : storeB
                            return try await store.check([RateLimitCheck(limit, key: "victim")], cost: 1).allowed
                        }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                #expect(admitted == 40)
            }
        }
    }

    @Test("multi-limit checks are atomic and exact under contention")
    func multiLimit() async throws {
        try await withClient { client in
            let store = try await makeStore(client, table: "rl_multi")
            let perAccount = try RateLimit("per-account", count: 10, per: .seconds(86_400), burst: 10)
            let perAddress = try RateLimit("per-address", count: 3, per: .seconds(86_400), burst: 3)
            let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<400 {
                    group.addTask {
                        let checks = [
                            RateLimitCheck(perAccount, key: "alice"),
                            RateLimitCheck(perAddress, key: "addr-\(index % 5)"),
                        ]
                        return try await store.check(checks, cost: 1).allowed
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(admitted == 10)  // five addresses × 3 would allow 15; the account allows 10
            // Refused requests charged nothing: an address that got nothing through still has 3.
            let fresh = try RateLimit("per-address", count: 3, per: .seconds(86_400), burst: 3)
            var through = 0
            for _ in 0..<5 where try await store.check([RateLimitCheck(fresh, key: "addr-new")], cost: 1).allowed {
                through += 1
            }
            #expect(through == 3)
        }
    }

    @Test("an unreachable server fails closed through RateLimiter")
    func unreachable() async throws {
        // Port 1 on loopback: nothing listens there.
        try await withClient(connections: 1, port: 1) { client in
            let store = try PostgresRateLimitStore(
                client: client, keyDigestSecret: try DigestSecret(copying: Self.secret))
            let limit = try RateLimit("login", count: 5, per: .seconds(60))
            await #expect(throws: RateLimitError.self) {
                try await store.check([RateLimitCheck(limit, key: "a")], cost: 1)
            }
            let decision = try await RateLimiter(store: store).check([RateLimitCheck(limit, key: "a")])
            #expect(!decision.allowed)
            #expect(decision.storeCondition == .unavailable)
        }
    }
}
