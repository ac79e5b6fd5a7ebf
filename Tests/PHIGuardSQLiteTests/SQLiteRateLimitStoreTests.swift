import Foundation
import PHIGuardRateLimit
import PHIGuardSQLite
import PHIGuardTesting
import SQLiteNIO
import Testing

@Suite("SQLite rate-limit store")
struct SQLiteRateLimitStoreTests {
    static let secret = (0..<32).map { UInt8($0) }

    func withDatabase(_ body: (String) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("limits-\(UUID()).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        try await body(path)
    }

    /// Exactness and contention tests wait long for the lock: thousands of checks queue on it, and
    /// the default 2 s (meant for a stuck process) could refuse the last of them.
    func open(_ path: String, clock: ManualClock, secret: [UInt8] = Self.secret) async throws -> SQLiteRateLimitStore {
        try await SQLiteRateLimitStore.open(
            path: path, keyDigestSecret: try DigestSecret(copying: secret), clock: clock, busyTimeout: .seconds(120))
    }

    @Test("Burst then refusal; the retry delay follows the rate")
    func semantics() async throws {
        try await withDatabase { path in
            let clock = ManualClock()
            let store = try await open(path, clock: clock)
            let limit = try RateLimit("login", count: 10, per: .seconds(3_600), burst: 3)
            let check = [RateLimitCheck(limit, key: "203.0.113.77")]
            #expect(try await store.check(check, cost: 1).remaining == 2)
            #expect(try await store.check(check, cost: 1).remaining == 1)
            #expect(try await store.check(check, cost: 1).remaining == 0)
            let refused = try await store.check(check, cost: 1)
            #expect(!refused.allowed)
            #expect(refused.refusedBy == ["login"])
            #expect(refused.retryAfter == .seconds(360))
            #expect(try await !store.check(check, cost: 4).allowed)  // over the burst
            clock.advance(by: .seconds(360))
            #expect(try await store.check(check, cost: 1).allowed)
            #expect(try await !store.check(check, cost: 1).allowed)
            await #expect(throws: RateLimitError.self) { try await store.check([], cost: 1) }
            try await store.close()
        }
    }

    @Test("A stored TAT near Int64.max refuses (no wrap to an admission); a negative one is a corrupt row")
    func corruptTAT() async throws {
        try await withDatabase { path in
            let clock = ManualClock()
            let limit = try RateLimit("login", count: 10, per: .seconds(3_600), burst: 3)
            let check = [RateLimitCheck(limit, key: "203.0.113.77")]
            let store = try await open(path, clock: clock)
            #expect(try await store.check(check, cost: 1).allowed)
            try await store.close()
            func tamper(_ sql: String) async throws {
                let connection = try await SQLiteConnection.open(storage: .file(path: path))
                _ = try await connection.query(sql, [])
                try await connection.close()
            }
            for tat in [Int64.max, Int64.max - 1, Int64.max - 360_000_000_000] {
                try await tamper("UPDATE phiguard_rate_limits SET tat = \(tat)")
                let saturated = try await open(path, clock: clock)
                let decision = try await saturated.check(check, cost: 1)
                #expect(!decision.allowed, "TAT \(tat) admitted a request")
                #expect(decision.retryAfter > .seconds(86_400 * 365))
                try await saturated.close()
            }
            try await tamper("UPDATE phiguard_rate_limits SET tat = -1")
            let negative = try await open(path, clock: clock)
            await #expect(throws: RateLimitError.storeUnavailable("corrupt rate-limit row")) {
                try await negative.check(check, cost: 1)
            }
            try await negative.close()
        }
    }

    @Test("Conformance, in a file")
    func conformance() async throws {
        try await withDatabase { path in
            let clock = ManualClock()
            let store = try await open(path, clock: clock)
            try await RateLimitStoreConformance.check(store, clock: clock)
            try await store.close()
        }
    }

    @Test("Keys are stored only as 16-byte keyed digests")
    func digestsAtRest() async throws {
        try await withDatabase { path in
            let store = try await open(path, clock: ManualClock())
            let limit = try RateLimit("per-address", count: 5, per: .seconds(60))
            _ = try await store.check([RateLimitCheck(limit, key: "203.0.113.77")], cost: 1)
            try await store.close()

            let connection = try await SQLiteConnection.open(storage: .file(path: path))
            let rows = try await connection.query("SELECT key FROM phiguard_rate_limits", [])
            try await connection.close()
            #expect(rows.count == 1)
            for row in rows { #expect(row.column("key")?.blob?.readableBytes == 16) }
            var onDisk = Data()
            for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: path + suffix) {
                onDisk += try Data(contentsOf: URL(fileURLWithPath: path + suffix))
            }
            #expect(onDisk.range(of: Data("203.0.113.77".utf8)) == nil)
            #expect(onDisk.range(of: Data("phiguard_rate_limits".utf8)) != nil)  // the scan can find text
        }
    }

    @Test("10,000 concurrent checks through two connections to one file admit exactly 40")
    func exactness() async throws {
        try await withDatabase { path in
            let clock = ManualClock()
            let storeA = try await open(path, clock: clock)
            let storeB = try await open(path, clock: clock)
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
            try await storeA.close()
            try await storeB.close()
        }
    }

    @Test("Multi-limit checks are atomic: a refusal by one limit charges none")
    func multiLimit() async throws {
        try await withDatabase { path in
            let store = try await open(path, clock: ManualClock())
            let perAccount = try RateLimit("per-account", count: 10, per: .seconds(86_400), burst: 10)
            let perAddress = try RateLimit("per-address", count: 3, per: .seconds(86_400), burst: 3)

            // Exhaust one address; a request from it for a fresh account is refused by the address
            // limit alone, and the account limit it would also have charged is untouched.
            for _ in 0..<3 {
                #expect(try await store.check([RateLimitCheck(perAddress, key: "addr-x")], cost: 1).allowed)
            }
            let refused = try await store.check(
                [RateLimitCheck(perAccount, key: "bob"), RateLimitCheck(perAddress, key: "addr-x")], cost: 1)
            #expect(!refused.allowed)
            #expect(refused.refusedBy == ["per-address"])
            #expect(try await store.check([RateLimitCheck(perAccount, key: "bob")], cost: 1).remaining == 9)

            // Under contention: five addresses × 3 would allow 15; the account allows 10.
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
            #expect(admitted == 10)
            // The refused requests charged no address: together the five still have 15 - 10 = 5 left.
            var through = 0
            for index in 0..<5 {
                for _ in 0..<3
                where try await store.check([RateLimitCheck(perAddress, key: "addr-\(index)")], cost: 1).allowed {
                    through += 1
                }
            }
            #expect(through == 5)
            try await store.close()
        }
    }

    @Test("Limits survive closing and reopening the file, and recover as the clock moves")
    func survivesRestart() async throws {
        try await withDatabase { path in
            let clock = ManualClock()
            let limit = try RateLimit("login", count: 5, per: .seconds(60), burst: 5)
            let check = [RateLimitCheck(limit, key: "acct-1")]
            let store = try await open(path, clock: clock)
            for _ in 0..<5 { #expect(try await store.check(check, cost: 1).allowed) }
            #expect(try await !store.check(check, cost: 1).allowed)
            try await store.close()

            let reopened = try await open(path, clock: clock)
            let stillLimited = try await reopened.check(check, cost: 1)
            #expect(!stillLimited.allowed)
            #expect(stillLimited.retryAfter == .seconds(12))
            clock.advance(by: .seconds(12))
            #expect(try await reopened.check(check, cost: 1).allowed)
            #expect(try await !reopened.check(check, cost: 1).allowed)
            try await reopened.close()

            // Another secret digests the key differently: the stored limit is not found.
            let rekeyed = try await open(path, clock: clock, secret: [UInt8](repeating: 9, count: 32))
            #expect(try await rekeyed.check(check, cost: 1).allowed)
            try await rekeyed.close()
        }
    }

    @Test("Recovered rows are removed; limited ones stay")
    func removeRecovered() async throws {
        try await withDatabase { path in
            let clock = ManualClock()
            let store = try await open(path, clock: clock)
            let short = try RateLimit("short", count: 1, per: .seconds(1), burst: 1)
            let long = try RateLimit("long", count: 1, per: .seconds(3_600), burst: 1)
            _ = try await store.check([RateLimitCheck(short, key: "a")], cost: 1)
            _ = try await store.check([RateLimitCheck(long, key: "a")], cost: 1)
            clock.advance(by: .seconds(2))
            #expect(try await store.removeRecovered() == 1)
            #expect(try await !store.check([RateLimitCheck(long, key: "a")], cost: 1).allowed)
            try await store.close()
        }
    }

    @Test("The wall clock counts nanoseconds since 1970")
    func wallClock() {
        let expected = Date().timeIntervalSince1970 * 1e9
        #expect(abs(Double(SystemClock().wallClockNanoseconds()) - expected) < 5e9)
    }

    @Test("A bad secret is refused and a closed store fails closed through RateLimiter")
    func failures() async throws {
        try await withDatabase { path in
            #expect(throws: DigestSecretError.invalidLength(16)) {
                try DigestSecret(copying: [UInt8](repeating: 1, count: 16))
            }
            let store = try await open(path, clock: ManualClock())
            try await store.close()
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
