import Foundation
import NIOCore
import PHIGuardCrypto
import PHIGuardRateLimit
import PHIGuardSQLite
import PHIGuardTesting
import SQLiteNIO
import Testing

@Suite("SQLite lockout store")
struct SQLiteLockoutStoreTests {
    static let secret = (0..<32).map { UInt8(31 - $0) }

    func withDatabase(_ body: (String) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lockout-\(UUID()).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        try await body(path)
    }

    func open(_ path: String?, clock: ManualClock) async throws -> SQLiteLockoutStore {
        return try await SQLiteLockoutStore.open(
            path: path, policy: LockoutStoreConformance.policy, keyDigestSecret: try DigestSecret(copying: Self.secret),
            clock: clock,
            busyTimeout: .seconds(60))
    }

    @Test("Conformance, in memory and in a file")
    func conformance() async throws {
        let clock = ManualClock()
        let inMemory = try await open(nil, clock: clock)
        try await LockoutStoreConformance.check(inMemory, clock: clock)
        try await inMemory.close()
        try await withDatabase { path in
            let clock = ManualClock()
            let store = try await open(path, clock: clock)
            try await LockoutStoreConformance.check(store, clock: clock)
            try await store.close()
        }
    }

    @Test("Delays and locks survive a restart; the file holds no name or address")
    func survivesRestart() async throws {
        try await withDatabase { path in
            let clock = ManualClock()
            var store = try await open(path, clock: clock)
            for index in 1...10 {
                _ = try await store.recordFailure(account: "login:alice@example.org", address: "203.0.113.\(index)")
            }
            for _ in 1...3 { _ = try await store.recordFailure(account: "login:bob", address: "198.51.100.7") }
            try await store.close()

            store = try await open(path, clock: clock)
            #expect(
                try await store.gate(account: "login:alice@example.org", address: "192.0.2.1")
                    == .lockedOut(retryAfter: .seconds(60)))
            #expect(
                try await store.gate(account: "login:bob", address: "198.51.100.7") == .delayed(retryAfter: .seconds(1))
            )
            #expect(
                try await store.recordFailure(account: "login:bob", address: "198.51.100.7")
                    == .failureCounted(consecutive: 4, delay: .seconds(2)))
            try await store.close()

            var onDisk = Data()
            for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: path + suffix) {
                onDisk += try Data(contentsOf: URL(fileURLWithPath: path + suffix))
            }
            for planted in ["alice@example.org", "login:bob", "203.0.113.1", "198.51.100.7"] {
                #expect(onDisk.range(of: Data(planted.utf8)) == nil, "\(planted) found in the database file")
            }
            #expect(onDisk.range(of: Data("phiguard_lockout_accounts".utf8)) != nil)  // the scan can find text
        }
    }

    @Test("removeSettled deletes only accounts whose counters no longer matter")
    func removeSettled() async throws {
        let clock = ManualClock()
        let store = try await open(nil, clock: clock)
        _ = try await store.recordFailure(account: "typo", address: "a")  // 1 failure: settled
        for _ in 1...3 { _ = try await store.recordFailure(account: "delayed", address: "b") }  // delayed 1 s
        for index in 1...10 { _ = try await store.recordFailure(account: "locked", address: "c\(index)") }
        #expect(try await store.removeSettled() == 1)
        #expect(try await store.gate(account: "delayed", address: "b") == .delayed(retryAfter: .seconds(1)))
        #expect(try await store.gate(account: "locked", address: "z") == .lockedOut(retryAfter: .seconds(60)))
        // A forgotten account starts from zero, as a never-seen one does.
        #expect(
            try await store.recordFailure(account: "typo", address: "a")
                == .failureCounted(consecutive: 1, delay: .zero))
        // Over free failures, the counters are kept even once the delay has passed (3 > 2 free).
        clock.advance(by: .seconds(2))
        #expect(try await store.removeSettled() == 1)  // "typo" again, not "delayed"
        #expect(
            try await store.recordFailure(account: "delayed", address: "b")
                == .failureCounted(consecutive: 4, delay: .seconds(2)))
        try await store.close()
    }

    @Test("At most 64 address entries per account; the address just counted is never the one dropped")
    func addressBound() async throws {
        try await withDatabase { path in
            let store = try await open(path, clock: ManualClock())
            // 64 addresses delayed by their third failure, then a new one that is not delayed yet.
            for index in 0..<64 {
                for _ in 1...3 { _ = try await store.recordFailure(account: "spray", address: "10.0.0.\(index)") }
            }
            _ = try await store.recordFailure(account: "spray", address: "192.0.2.200")
            try await store.close()
            let digests = KeyedDigest(secret: try DigestSecret(copying: Self.secret))
            let late = ByteBuffer(bytes: digests.digest("lockout-address", "192.0.2.200"))
            let connection = try await SQLiteConnection.open(storage: .file(path: path))
            let total = try await connection.query("SELECT count(*) AS n FROM phiguard_lockout_addresses", [])
            let kept = try await connection.query(
                "SELECT failures FROM phiguard_lockout_addresses WHERE address = ?", [.blob(late)])
            try await connection.close()
            #expect(total.first?.column("n")?.integer == 64)
            #expect(kept.first?.column("failures")?.integer == 1)
        }
    }

    @Test("Counters someone else wrote: at Int64.max the account locks (no overflow trap); negative is refused")
    func corruptCounters() async throws {
        try await withDatabase { path in
            let clock = ManualClock()
            let store = try await open(path, clock: clock)
            _ = try await store.recordFailure(account: "alice", address: "192.0.2.1")
            try await store.close()

            func tamper(_ sql: String) async throws {
                let connection = try await SQLiteConnection.open(storage: .file(path: path))
                _ = try await connection.query(sql, [])
                try await connection.close()
            }
            try await tamper("UPDATE phiguard_lockout_accounts SET consecutive = 9223372036854775807")
            try await tamper("UPDATE phiguard_lockout_addresses SET failures = 9223372036854775807")
            let saturated = try await open(path, clock: clock)
            #expect(
                try await saturated.recordFailure(account: "alice", address: "192.0.2.1")
                    == .accountLocked(consecutive: .max, duration: LockoutStoreConformance.policy.lockoutDuration))
            try await saturated.close()

            try await tamper(
                "UPDATE phiguard_lockout_accounts SET consecutive = -1, locked_until = -9223372036854775808")
            let negative = try await open(path, clock: clock)
            await #expect(throws: RateLimitError.storeUnavailable("corrupt lockout row")) {
                try await negative.recordFailure(account: "alice", address: "192.0.2.1")
            }
            await #expect(throws: RateLimitError.storeUnavailable("corrupt lockout row")) {
                try await negative.admitAttempt(account: "alice", address: "192.0.2.1")
            }
            try await negative.close()
        }
    }

    @Test("A wrong-sized secret is a typed error; the store never zeroes the caller's bytes")
    func badSecret() throws {
        #expect(throws: DigestSecretError.invalidLength(16)) {
            _ = try DigestSecret(copying: [UInt8](repeating: 1, count: 16))
        }
        #expect(throws: DigestSecretError.invalidLength(33)) {
            _ = try DigestSecret(copying: [UInt8](repeating: 1, count: 33))
        }
        let bytes = Self.secret
        let secret = try DigestSecret(copying: bytes)
        #expect(bytes == Self.secret)
        #expect(!"\(secret)".contains("31") && "\(secret)" == "DigestSecret(<redacted>)")
        #expect(String(reflecting: secret) == "DigestSecret(<redacted>)")
    }
}
