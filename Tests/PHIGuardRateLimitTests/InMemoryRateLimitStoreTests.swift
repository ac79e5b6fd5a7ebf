import PHIGuardTesting
import Synchronization
import Testing

@testable import PHIGuardRateLimit

@Suite("GCRA limits in memory")
struct InMemoryRateLimitStoreTests {
    let clock = ManualClock()

    @Test("GCRA saturates: a TAT near Int64.max refuses for ever instead of wrapping round to an admission")
    func saturatingGCRA() throws {
        let limit = try RateLimit("login", count: 10, per: .seconds(60), burst: 5)
        let now: Int64 = 1_800_000_000 * 1_000_000_000
        for tat in [Int64.max, Int64.max - 1, Int64.max - 5_000_000_000] {
            let outcome = GCRA.evaluate(storedTAT: tat, now: now, limit: limit, cost: 1)
            #expect(!outcome.allowed, "TAT \(tat)")
            #expect(outcome.retryAfter > 1 << 62, "TAT \(tat): retry after \(outcome.retryAfter)")
        }
        // Cost times interval past Int64, and a TAT at Int64.min: no trap, a refusal or an admission.
        #expect(!GCRA.evaluate(storedTAT: nil, now: .max, limit: limit, cost: Int.max).allowed)
        #expect(GCRA.evaluate(storedTAT: .min, now: now, limit: limit, cost: 1).allowed)
        // One per 366 days with a burst of 1,000,000: the tolerance saturates instead of trapping.
        let yearly = try RateLimit("yearly", count: 1, per: .seconds(366 * 86_400), burst: 1_000_000)
        #expect(yearly.toleranceNanoseconds == .max)
        let store = try InMemoryRateLimitStore(clock: clock)
        #expect(try store.checkNow([RateLimitCheck(yearly, key: "k")]).allowed)
    }

    @Test("a burst, then one event per interval; remaining and retry-after are exact")
    func burstThenRate() throws {
        let store = try InMemoryRateLimitStore(clock: clock)
        let limit = try RateLimit("login", count: 10, per: .seconds(60), burst: 5)  // one per 6 s
        let check = [RateLimitCheck(limit, key: "alice")]
        for expected in [4, 3, 2, 1, 0] {
            let decision = try store.checkNow(check)
            #expect(decision.allowed)
            #expect(decision.remaining == expected)
        }
        let refused = try store.checkNow(check)
        #expect(!refused.allowed)
        #expect(refused.retryAfter == .seconds(6))
        #expect(refused.refusedBy == ["login"])
        clock.advance(by: .seconds(5))
        #expect(try !store.checkNow(check).allowed)
        #expect(try store.checkNow(check).retryAfter == .seconds(1))
        clock.advance(by: .seconds(1))
        #expect(try store.checkNow(check).allowed)
        #expect(try !store.checkNow(check).allowed)
        // A long quiet period restores the full burst, not more.
        clock.advance(by: .seconds(3_600))
        #expect(try store.checkNow(check).remaining == 4)
        // Keys and limits are independent.
        #expect(try store.checkNow([RateLimitCheck(limit, key: "bob")]).remaining == 4)
        let other = try RateLimit("mfa", count: 10, per: .seconds(60), burst: 5)
        #expect(try store.checkNow([RateLimitCheck(other, key: "alice")]).remaining == 4)
    }

    @Test("several limits are checked atomically: a refusal charges none of them")
    func atomicMultiLimit() throws {
        let store = try InMemoryRateLimitStore(clock: clock)
        let perAccount = try RateLimit("per-account", count: 1, per: .seconds(60), burst: 2)
        let perAddress = try RateLimit("per-address", count: 1, per: .seconds(60), burst: 3)
        let request = [RateLimitCheck(perAccount, key: "alice"), RateLimitCheck(perAddress, key: "198.51.100.7")]
        #expect(try store.checkNow(request).allowed)
        #expect(try store.checkNow(request).allowed)
        let refused = try store.checkNow(request)
        #expect(!refused.allowed)
        #expect(refused.refusedBy == ["per-account"])
        // The address was not charged by the refused request: it still has exactly one left.
        let addressOnly = [RateLimitCheck(perAddress, key: "198.51.100.7")]
        #expect(try store.checkNow(addressOnly).allowed)
        #expect(try !store.checkNow(addressOnly).allowed)
    }

    @Test("cost above the burst is refused; cost counts as that many events")
    func cost() throws {
        let store = try InMemoryRateLimitStore(clock: clock)
        let limit = try RateLimit("bulk", count: 10, per: .seconds(10), burst: 10)
        let check = [RateLimitCheck(limit, key: "export")]
        #expect(try !store.checkNow(check, cost: 11).allowed)
        #expect(try store.checkNow(check, cost: 7).remaining == 3)
        #expect(try !store.checkNow(check, cost: 4).allowed)
        #expect(try store.checkNow(check, cost: 3).allowed)
    }

    @Test("10,000 concurrent attempts against a limit of 25 admit exactly 25")
    func exactnessUnderContention() async throws {
        let store = try InMemoryRateLimitStore()  // the real monotonic clock
        let limit = try RateLimit("contended", count: 25, per: .seconds(86_400), burst: 25)
        let admitted = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<10_000 {
                group.addTask {
                    let account = RateLimitCheck(limit, key: "victim")
                    let address = RateLimitCheck(limit, key: "address-\(index % 7)")
                    return (try? store.checkNow(index % 2 == 0 ? [account] : [account, address]).allowed) ?? false
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 25)
    }

    @Test("eviction drops only keys with a full allowance; a full store of limited keys refuses new keys")
    func eviction() throws {
        let store = try InMemoryRateLimitStore(maximumKeys: 64, shardCount: 1, clock: clock)
        let limit = try RateLimit("tight", count: 1, per: .seconds(60), burst: 1)
        for index in 0..<64 { #expect(try store.checkNow([RateLimitCheck(limit, key: "k\(index)")]).allowed) }
        #expect(store.trackedKeys == 64)
        // Full of limited keys: a new key is refused, and no limited key was freed to make room.
        let newcomer = try store.checkNow([RateLimitCheck(limit, key: "new")])
        #expect(!newcomer.allowed)
        #expect(newcomer.storeCondition == .full)
        for index in 0..<64 { #expect(try !store.checkNow([RateLimitCheck(limit, key: "k\(index)")]).allowed) }
        #expect(store.trackedKeys == 64)
        // Once their allowance has recovered, they are evictable and the newcomer gets in.
        clock.advance(by: .seconds(61))
        #expect(try store.checkNow([RateLimitCheck(limit, key: "new")]).allowed)
        #expect(store.trackedKeys == 1)
        // An evicted key behaves exactly like one never seen: full allowance.
        #expect(try store.checkNow([RateLimitCheck(limit, key: "k0")]).allowed)
    }

    @Test("every key keeps its own state while the table grows and sweeps (20,000 keys in one shard)")
    func tableGrowthKeepsEveryKey() throws {
        let store = try InMemoryRateLimitStore(maximumKeys: 20_000, shardCount: 1, clock: clock)
        let limit = try RateLimit("pair", count: 2, per: .seconds(60), burst: 2)
        let keys = (0..<20_000).map { "key-\($0)" }
        for key in keys { #expect(try store.checkNow(RateLimitCheck(limit, key: key)).remaining == 1) }
        #expect(store.trackedKeys == 20_000)
        for key in keys { #expect(try store.checkNow(RateLimitCheck(limit, key: key)).remaining == 0) }
        for key in keys { #expect(try !store.checkNow(RateLimitCheck(limit, key: key)).allowed) }
        // A minute later every key has its full allowance again. Charge half of them, then a newcomer
        // finds the store full: the sweep drops exactly the untouched half, which then behave as new.
        clock.advance(by: .seconds(61))
        for key in keys.prefix(10_000) { #expect(try store.checkNow(RateLimitCheck(limit, key: key)).allowed) }
        #expect(try store.checkNow(RateLimitCheck(limit, key: "newcomer")).allowed)
        #expect(store.trackedKeys == 10_001)
        for key in keys.prefix(10_000) { #expect(try store.checkNow(RateLimitCheck(limit, key: key)).remaining == 0) }
        for key in keys[10_000..<19_999] {
            #expect(try store.checkNow(RateLimitCheck(limit, key: key)).remaining == 1)
        }
        // That filled the store again with limited keys: the last one finds no room (fail closed).
        #expect(try store.checkNow(RateLimitCheck(limit, key: keys[19_999])).storeCondition == .full)
    }

    @Test("eviction under pressure keeps every limited key limited")
    func evictionKeepsLimitedKeys() throws {
        let store = try InMemoryRateLimitStore(maximumKeys: 100, shardCount: 4, clock: clock)
        let slow = try RateLimit("slow", count: 1, per: .seconds(3_600), burst: 1)
        let fast = try RateLimit("fast", count: 1, per: .milliseconds(1), burst: 1)
        for index in 0..<20 { _ = try store.checkNow([RateLimitCheck(slow, key: "attacker-\(index)")]) }
        for round in 0..<50 {
            clock.advance(by: .milliseconds(2))
            for index in 0..<20 { _ = try store.checkNow([RateLimitCheck(fast, key: "churn-\(round)-\(index)")]) }
            #expect(store.trackedKeys <= 100)
        }
        for index in 0..<20 {
            #expect(try !store.checkNow([RateLimitCheck(slow, key: "attacker-\(index)")]).allowed)
        }
    }

    @Test("malformed checks and limits are typed errors")
    func validation() throws {
        let store = try InMemoryRateLimitStore(clock: clock)
        let limit = try RateLimit("x", count: 1, per: .seconds(1))
        #expect(throws: RateLimitError.self) { try store.checkNow([]) }
        #expect(throws: RateLimitError.self) { try store.checkNow([RateLimitCheck(limit, key: "a")], cost: 0) }
        #expect(throws: RateLimitError.self) { try store.checkNow([RateLimitCheck(limit, key: "")]) }
        #expect(throws: RateLimitError.self) {
            try store.checkNow([RateLimitCheck(limit, key: String(repeating: "k", count: 257))])
        }
        #expect(throws: RateLimitError.self) {
            try store.checkNow([RateLimitCheck(limit, key: "a"), RateLimitCheck(limit, key: "a")])
        }
        #expect(throws: RateLimitError.self) { try RateLimit("x", count: 0, per: .seconds(1)) }
        #expect(throws: RateLimitError.self) { try RateLimit("x", count: 1, per: .zero) }
        #expect(throws: RateLimitError.self) { try RateLimit("x", count: 1, per: .seconds(1), burst: 0) }
        #expect(throws: RateLimitError.self) { try RateLimit("", count: 1, per: .seconds(1)) }
    }
}

@Suite("RateLimiter failure modes")
struct RateLimiterTests {
    struct BrokenStore: RateLimitStore {
        func check(_ checks: [RateLimitCheck], cost: Int) async throws(RateLimitError) -> RateLimitDecision {
            throw .storeUnavailable("connection refused")
        }
    }

    @Test("a failing store fails closed by default, open only when configured")
    func failureModes() async throws {
        let limit = try RateLimit("login", count: 5, per: .seconds(60))
        let check = [RateLimitCheck(limit, key: "alice")]
        let closed = try await RateLimiter(store: BrokenStore()).check(check)
        #expect(!closed.allowed)
        #expect(closed.storeCondition == .unavailable)
        let open = try await RateLimiter(store: BrokenStore(), failureMode: .failOpen).check(check)
        #expect(open.allowed)
        #expect(open.storeCondition == .unavailable)
        await #expect(throws: RateLimitError.self) { try await RateLimiter(store: BrokenStore()).check([]) }
    }
}

@Suite("Lockout policy")
struct InMemoryLockoutStoreTests {
    let clock = ManualClock()

    @Test("five free failures, then doubling delays for that address only")
    func progressiveDelays() throws {
        let throttle = InMemoryLockoutStore(clock: clock)
        for attempt in 1...5 {
            #expect(throttle.gate(account: "alice", address: "bot") == .open)
            #expect(
                throttle.recordFailure(account: "alice", address: "bot")
                    == .failureCounted(consecutive: attempt, delay: .zero))
        }
        #expect(
            throttle.recordFailure(account: "alice", address: "bot")
                == .failureCounted(consecutive: 6, delay: .seconds(1)))
        #expect(throttle.gate(account: "alice", address: "bot") == .delayed(retryAfter: .seconds(1)))
        // The owner, elsewhere, is not delayed by the bot.
        #expect(throttle.gate(account: "alice", address: "home") == .open)
        clock.advance(by: .seconds(1))
        #expect(throttle.gate(account: "alice", address: "bot") == .open)
        #expect(
            throttle.recordFailure(account: "alice", address: "bot")
                == .failureCounted(consecutive: 7, delay: .seconds(2)))
        #expect(
            throttle.recordFailure(account: "alice", address: "bot")
                == .failureCounted(consecutive: 8, delay: .seconds(4)))
        // Delays are capped.
        for _ in 0..<30 { throttle.recordFailure(account: "alice", address: "bot") }
        #expect(throttle.gate(account: "alice", address: "bot") == .delayed(retryAfter: .seconds(900)))
        // Success resets everything.
        throttle.recordSuccess(account: "alice")
        #expect(throttle.gate(account: "alice", address: "bot") == .open)
    }

    @Test("100 consecutive failures from many addresses lock the account, temporarily")
    func cap() throws {
        let throttle = InMemoryLockoutStore(clock: clock)
        var last: LockoutEvent?
        for attempt in 0..<100 { last = throttle.recordFailure(account: "bob", address: "bot-\(attempt % 25)") }
        #expect(last == .accountLocked(consecutive: 100, duration: .seconds(3_600)))
        #expect(throttle.gate(account: "bob", address: "home") == .lockedOut(retryAfter: .seconds(3_600)))
        clock.advance(by: .seconds(3_599))
        #expect(!throttle.gate(account: "bob", address: "home").isOpen)
        clock.advance(by: .seconds(1))
        #expect(throttle.gate(account: "bob", address: "home") == .open)
        // The lock served its time: counting starts over.
        #expect(
            throttle.recordFailure(account: "bob", address: "home") == .failureCounted(consecutive: 1, delay: .zero))
    }

    @Test("policy values are validated (SP 800-63B: at most 100)")
    func validation() {
        #expect(throws: RateLimitError.self) { try LockoutPolicy(maximumConsecutiveFailures: 101) }
        #expect(throws: RateLimitError.self) { try LockoutPolicy(freeFailures: 10, maximumConsecutiveFailures: 10) }
        #expect(throws: RateLimitError.self) { try LockoutPolicy(initialDelay: .zero) }
    }

    @Test("accounts and addresses are stored under the key itself, not a hash of it")
    func storageKeyIsTheKey() {
        #expect(InMemoryLockoutStore.StorageKey.self == String.self)
    }

    @Test("500 accounts keep 500 separate counters")
    func accountsNeverShareCounters() {
        let throttle = InMemoryLockoutStore(clock: clock)
        let accounts = (0..<500).map { "account-\($0)" }
        for (index, account) in accounts.enumerated() {
            for _ in 0...(index % 7) { throttle.recordFailure(account: account, address: "a") }
        }
        for (index, account) in accounts.enumerated() {
            // One more failure: the count goes on from this account's own failures, and no one else's.
            let event = throttle.recordFailure(account: account, address: "b")
            #expect(event == .failureCounted(consecutive: index % 7 + 2, delay: .zero), "\(account)")
        }
    }

    @Test("30 addresses on one account keep 30 separate delays")
    func addressesNeverShareCounters() throws {
        // No free failures: an address's n-th failure makes it wait 2^(n-1) s.
        let policy = try LockoutPolicy(
            freeFailures: 0, initialDelay: .seconds(1), maximumDelay: .seconds(64), maximumConsecutiveFailures: 100,
            lockoutDuration: .seconds(60))
        let throttle = InMemoryLockoutStore(policy: policy, clock: clock)
        let addresses = (0..<30).map { "198.51.100.\($0)" }
        for (index, address) in addresses.enumerated() {
            for _ in 0...(index % 3) { throttle.recordFailure(account: "carol", address: address) }
        }
        for (index, address) in addresses.enumerated() {
            #expect(
                throttle.gate(account: "carol", address: address) == .delayed(retryAfter: .seconds(1 << (index % 3))),
                "\(address)")
        }
        #expect(throttle.gate(account: "carol", address: "203.0.113.1") == .open)
    }

    @Test("memory pressure never forgets a delayed or locked account")
    func boundedMemory() {
        let throttle = InMemoryLockoutStore(clock: clock, maximumAccounts: 10)
        for _ in 0..<7 { throttle.recordFailure(account: "target", address: "bot") }
        for index in 0..<100 { throttle.recordFailure(account: "noise-\(index)", address: "x") }
        #expect(!throttle.gate(account: "target", address: "bot").isOpen)
    }
}

@Suite("Lockout store conformance (in memory)")
struct InMemoryLockoutStoreConformanceTests {
    @Test("InMemoryLockoutStore passes the lockout store conformance suite")
    func conformance() async throws {
        let clock = ManualClock()
        try await LockoutStoreConformance.check(
            InMemoryLockoutStore(policy: LockoutStoreConformance.policy, clock: clock), clock: clock)
    }
}

@Suite("Rate-limit store conformance (in memory)")
struct InMemoryRateLimitStoreConformanceTests {
    @Test("InMemoryRateLimitStore passes the rate-limit store conformance suite")
    func conformance() async throws {
        let clock = ManualClock()
        try await RateLimitStoreConformance.check(try InMemoryRateLimitStore(clock: clock), clock: clock)
    }
}
