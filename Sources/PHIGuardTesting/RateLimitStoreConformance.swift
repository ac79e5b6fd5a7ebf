public import PHIGuardRateLimit
import Testing

/// The behaviour every `RateLimitStore` must show, checked the same way for the in-memory, SQLite
/// and PostgreSQL stores, and for an app's own store.
///
/// ```swift
/// @Test func myStoreConforms() async throws {
///     let clock = ManualClock()
///     try await RateLimitStoreConformance.check(try MyRedisRateLimitStore(clock: clock), clock: clock)
/// }
/// ```
///
/// The store must be empty. Pass the clock it reads when that is a `ManualClock`; a store that
/// reads its database server's clock (`PostgresRateLimitStore`) passes `nil`, and the checks that
/// need time to move are skipped (the others allow for the server's clock moving a little).
public enum RateLimitStoreConformance {
    /// Runs every check against `store`.
    public static func check(_ store: any RateLimitStore, clock: ManualClock?) async throws {
        // Burst, then refusal by name, with the retry delay of one interval (360 s for 10 per hour).
        let login = try RateLimit("login", count: 10, per: .seconds(3_600), burst: 3)
        let address = [RateLimitCheck(login, key: "203.0.113.77")]
        for remaining in [2, 1, 0] {
            let decision = try await store.check(address, cost: 1)
            #expect(decision.allowed && decision.remaining == remaining && decision.refusedBy.isEmpty)
        }
        let refused = try await store.check(address, cost: 1)
        #expect(!refused.allowed && refused.remaining == 0 && refused.refusedBy == ["login"])
        #expect(refused.retryAfter > .seconds(300) && refused.retryAfter <= .seconds(360))
        #expect(refused.storeCondition == nil)

        // Keys, and limits of other names on the same key, are independent.
        #expect(try await store.check([RateLimitCheck(login, key: "203.0.113.78")], cost: 1).allowed)
        let other = try RateLimit("login-other", count: 10, per: .seconds(3_600), burst: 3)
        #expect(try await store.check([RateLimitCheck(other, key: "203.0.113.77")], cost: 1).allowed)

        // A cost over the burst is refused without charging; a cost takes that many events.
        let costly = [RateLimitCheck(login, key: "203.0.113.79")]
        #expect(try await !store.check(costly, cost: 4).allowed)
        #expect(try await store.check(costly, cost: 2).remaining == 1)
        #expect(try await store.check(costly, cost: 1).remaining == 0)
        #expect(try await !store.check(costly, cost: 1).allowed)

        // Several limits at once: all are charged, or none.
        let wide = try RateLimit("wide", count: 3, per: .seconds(3_600), burst: 3)
        let narrow = try RateLimit("narrow", count: 1, per: .seconds(3_600), burst: 1)
        let both = [RateLimitCheck(wide, key: "acct-1"), RateLimitCheck(narrow, key: "acct-1")]
        #expect(try await store.check(both, cost: 1).allowed)
        let second = try await store.check(both, cost: 1)
        #expect(!second.allowed && second.refusedBy == ["narrow"])
        let wideOnly = [RateLimitCheck(wide, key: "acct-1")]
        #expect(try await store.check(wideOnly, cost: 1).remaining == 1)  // the refusal charged nothing
        #expect(try await store.check(wideOnly, cost: 1).remaining == 0)

        // Bad checks are typed errors, never a decision.
        await #expect(throws: RateLimitError.self) { try await store.check([], cost: 1) }
        await #expect(throws: RateLimitError.self) { try await store.check(address, cost: 0) }
        await #expect(throws: RateLimitError.self) { try await store.check([RateLimitCheck(login, key: "")], cost: 1) }
        await #expect(throws: RateLimitError.self) { try await store.check(address + address, cost: 1) }

        // Concurrent checks of one key admit exactly the burst.
        let contended = try RateLimit("contended", count: 40, per: .seconds(86_400), burst: 40)
        let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<400 {
                group.addTask { try await store.check([RateLimitCheck(contended, key: "victim")], cost: 1).allowed }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 40)

        // Time gives the allowance back: one interval for one event, the whole period for the burst.
        guard let clock else { return }
        clock.advance(by: .seconds(360))
        #expect(try await store.check(address, cost: 1).allowed)
        #expect(try await !store.check(address, cost: 1).allowed)
        clock.advance(by: .seconds(3_600))
        for remaining in [2, 1, 0] {
            #expect(try await store.check(address, cost: 1).remaining == remaining)
        }
    }
}
