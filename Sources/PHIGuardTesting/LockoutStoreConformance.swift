public import PHIGuardRateLimit
import Testing

/// The behaviour every `LockoutStore` must show, checked the same way for the in-memory, SQLite
/// and PostgreSQL stores. The store must be empty, use ``policy`` and run on the clock given.
public enum LockoutStoreConformance {
    /// 2 free failures, delays 1 s doubling to 8 s, lock for 60 s after 10 consecutive failures.
    public static let policy = try! LockoutPolicy(
        freeFailures: 2, initialDelay: .seconds(1), maximumDelay: .seconds(8), maximumConsecutiveFailures: 10,
        lockoutDuration: .seconds(60))

    /// Runs every check against `store`, whose clock is `clock`.
    public static func check(_ store: any LockoutStore, clock: ManualClock) async throws {
        // Free failures, then doubling per-address delays up to the maximum; another address is not delayed.
        #expect(try await store.gate(account: "alice", address: "198.51.100.1") == .open)
        #expect(
            try await store.recordFailure(account: "alice", address: "198.51.100.1")
                == .failureCounted(consecutive: 1, delay: .zero))
        #expect(
            try await store.recordFailure(account: "alice", address: "198.51.100.1")
                == .failureCounted(consecutive: 2, delay: .zero))
        #expect(try await store.gate(account: "alice", address: "198.51.100.1") == .open)
        for (index, seconds) in [1, 2, 4, 8, 8].enumerated() {
            #expect(
                try await store.recordFailure(account: "alice", address: "198.51.100.1")
                    == .failureCounted(consecutive: 3 + index, delay: .seconds(seconds)))
            #expect(
                try await store.gate(account: "alice", address: "198.51.100.1")
                    == .delayed(retryAfter: .seconds(seconds)))
            #expect(try await store.gate(account: "alice", address: "203.0.113.9") == .open)
            clock.advance(by: .seconds(seconds))
        }
        #expect(try await store.gate(account: "alice", address: "198.51.100.1") == .open)
        // Accounts are independent.
        #expect(try await store.gate(account: "alice2", address: "198.51.100.1") == .open)
        #expect(
            try await store.recordFailure(account: "alice2", address: "198.51.100.1")
                == .failureCounted(consecutive: 1, delay: .zero))

        // A success forgets every failure of the account.
        try await store.recordSuccess(account: "alice")
        #expect(try await store.gate(account: "alice", address: "198.51.100.1") == .open)
        #expect(
            try await store.recordFailure(account: "alice", address: "198.51.100.1")
                == .failureCounted(consecutive: 1, delay: .zero))

        // Ten consecutive failures (two of them from 192.0.2.1) lock the account for every address, for
        // the policy's duration only; after it the counters start over, the addresses' too.
        for index in 1...9 {
            #expect(
                try await store.recordFailure(account: "bob", address: "192.0.2.\(max(1, index - 1))")
                    == .failureCounted(consecutive: index, delay: .zero))
        }
        #expect(
            try await store.recordFailure(account: "bob", address: "192.0.2.10")
                == .accountLocked(consecutive: 10, duration: .seconds(60)))
        #expect(try await store.gate(account: "bob", address: "192.0.2.200") == .lockedOut(retryAfter: .seconds(60)))
        clock.advance(by: .seconds(59))
        #expect(try await store.gate(account: "bob", address: "192.0.2.1") == .lockedOut(retryAfter: .seconds(1)))
        clock.advance(by: .seconds(1))
        #expect(try await store.gate(account: "bob", address: "192.0.2.1") == .open)
        #expect(
            try await store.recordFailure(account: "bob", address: "192.0.2.1")
                == .failureCounted(consecutive: 1, delay: .zero))

        // Concurrent failures are all counted: each consecutive number appears exactly once, and the
        // lock starts exactly at the tenth.
        let events = try await withThrowingTaskGroup(of: LockoutEvent.self) { group in
            for index in 0..<25 {
                group.addTask { try await store.recordFailure(account: "carol", address: "10.0.0.\(index)") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let counts = events.map { event -> Int in
            switch event {
            case .failureCounted(let consecutive, _), .accountLocked(let consecutive, _): consecutive
            }
        }
        #expect(counts.sorted() == Array(1...25))
        #expect(events.filter { if case .accountLocked = $0 { true } else { false } }.count == 16)
        #expect(try await store.gate(account: "carol", address: "10.0.0.99") == .lockedOut(retryAfter: .seconds(60)))

        // admitAttempt: the gate and the count in one step. Concurrent attempts are admitted up to
        // the cap and no further; a success erases what they counted.
        let admissions = try await withThrowingTaskGroup(of: LockoutAdmission.self) { group in
            for index in 0..<25 {
                group.addTask { try await store.admitAttempt(account: "dave", address: "10.1.0.\(index)") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let admitted = admissions.compactMap { admission -> LockoutEvent? in
            if case .admitted(let event) = admission { event } else { nil }
        }
        #expect(admitted.count == 10)
        #expect(admitted.filter { if case .accountLocked = $0 { true } else { false } }.count == 1)
        #expect(admissions.filter { $0 == .refused(.lockedOut(retryAfter: .seconds(60))) }.count == 15)
        try await store.recordSuccess(account: "dave")
        #expect(
            try await store.admitAttempt(account: "dave", address: "10.1.0.1")
                == .admitted(.failureCounted(consecutive: 1, delay: .zero)))
        // A delayed address is refused without being counted.
        for _ in 1...2 { _ = try await store.admitAttempt(account: "erin", address: "10.2.0.1") }
        #expect(
            try await store.admitAttempt(account: "erin", address: "10.2.0.1")
                == .admitted(.failureCounted(consecutive: 3, delay: .seconds(1))))
        #expect(
            try await store.admitAttempt(account: "erin", address: "10.2.0.1")
                == .refused(.delayed(retryAfter: .seconds(1))))
        #expect(
            try await store.admitAttempt(account: "erin", address: "10.2.0.2")
                == .admitted(.failureCounted(consecutive: 4, delay: .zero)))

        // Distinct keys never share counters: 40 accounts each with its own count, and 20 addresses of
        // one account, 3 of them delayed (9 failures, under the cap), the rest not (a store keyed by a
        // hash that collides would merge them).
        for index in 0..<40 {
            for _ in 0...(index % 3) { _ = try await store.recordFailure(account: "many-\(index)", address: "a") }
        }
        for index in 0..<40 {
            #expect(
                try await store.recordFailure(account: "many-\(index)", address: "b")
                    == .failureCounted(consecutive: index % 3 + 2, delay: .zero), "many-\(index)")
        }
        for index in [3, 9, 15] {
            for _ in 0..<3 { _ = try await store.recordFailure(account: "frank", address: "10.3.0.\(index)") }
        }
        for index in 0..<20 {
            let expected: LoginGate = [3, 9, 15].contains(index) ? .delayed(retryAfter: .seconds(1)) : .open
            #expect(try await store.gate(account: "frank", address: "10.3.0.\(index)") == expected, "10.3.0.\(index)")
        }
    }
}
