import Foundation
import PHIGuardCrypto
import PHIGuardPostgres
import PHIGuardRateLimit
import PHIGuardTesting
import PostgresNIO
import Testing

/// The lockout store runs in the rate-limit suite: same server, same client set-up.
extension PostgresRateLimitStoreTests {
    func makeLockoutStore(_ client: PostgresClient, table: String, clock: ManualClock) async throws
        -> PostgresLockoutStore
    {
        let store = try PostgresLockoutStore(
            client: client, table: table, policy: LockoutStoreConformance.policy,
            keyDigestSecret: try DigestSecret(copying: Self.secret),
            clock: clock, timeout: .seconds(60))
        try await store.migrate()
        try await client.query(PostgresQuery(unsafeSQL: "TRUNCATE \(table)_accounts, \(table)_addresses"))
        return store
    }

    @Test("lockout store: conformance over 8 connections; names and addresses stored only as digests")
    func lockoutConformance() async throws {
        try await withClient { client in
            let clock = ManualClock()
            let store = try await makeLockoutStore(client, table: "lockout_conformance", clock: clock)
            try await LockoutStoreConformance.check(store, clock: clock)
            let rows = try await client.query(
                "SELECT length(account), length(address) FROM lockout_conformance_addresses")
            var count = 0
            for try await (account, address) in rows.decode((Int, Int).self) {
                #expect(account == 16 && address == 16)
                count += 1
            }
            #expect(count > 0)
        }
    }

    @Test("lockout store: two instances share one account's count; settled accounts can be removed")
    func lockoutSharedAcrossInstances() async throws {
        try await withClient { first in
            try await withClient { second in
                let clock = ManualClock()
                let instanceA = try await makeLockoutStore(first, table: "lockout_shared", clock: clock)
                let instanceB = try PostgresLockoutStore(
                    client: second, table: "lockout_shared", policy: LockoutStoreConformance.policy,
                    keyDigestSecret: try DigestSecret(copying: Self.secret), clock: clock, timeout: .seconds(60))
                for index in 0..<9 {
                    let store = index % 2 == 0 ? instanceA : instanceB
                    _ = try await store.recordFailure(account: "login:alice", address: "198.51.100.\(index)")
                }
                #expect(
                    try await instanceB.recordFailure(account: "login:alice", address: "192.0.2.1")
                        == .accountLocked(consecutive: 10, duration: .seconds(60)))
                #expect(
                    try await instanceA.gate(account: "login:alice", address: "192.0.2.99")
                        == .lockedOut(retryAfter: .seconds(60)))
                _ = try await instanceA.recordFailure(account: "login:typo", address: "192.0.2.5")
                #expect(try await instanceB.removeSettled() == 1)
                #expect(
                    try await instanceA.gate(account: "login:alice", address: "192.0.2.99")
                        == .lockedOut(retryAfter: .seconds(60)))
            }
        }
    }

    @Test("lockout store: at most 64 addresses per account; the address just counted is never the one dropped")
    func lockoutAddressBound() async throws {
        try await withClient { client in
            let store = try await makeLockoutStore(client, table: "lockout_bound", clock: ManualClock())
            for index in 0..<64 {
                for _ in 1...3 { _ = try await store.recordFailure(account: "spray", address: "10.0.0.\(index)") }
            }
            _ = try await store.recordFailure(account: "spray", address: "192.0.2.200")
            let late = ByteBuffer(
                bytes: KeyedDigest(secret: try DigestSecret(copying: Self.secret)).digest(
                    "lockout-address", "192.0.2.200"))
            let rows = try await client.query(
                "SELECT count(*)::BIGINT, count(*) FILTER (WHERE address = \(late))::BIGINT FROM lockout_bound_addresses"
            )
            for try await (total, kept) in rows.decode((Int64, Int64).self) {
                #expect(total == 64)
                #expect(kept == 1)
            }
        }
    }

    @Test("lockout store: an unreachable server is a typed error")
    func lockoutUnreachable() async throws {
        try await withClient(connections: 1, port: 1) { client in
            let store = try PostgresLockoutStore(
                client: client, keyDigestSecret: try DigestSecret(copying: Self.secret), timeout: .milliseconds(500))
            await #expect(throws: RateLimitError.self) {
                _ = try await store.recordFailure(account: "login:alice", address: "192.0.2.1")
            }
            await #expect(throws: RateLimitError.self) {
                _ = try await store.gate(account: "login:alice", address: "192.0.2.1")
            }
        }
    }
}
