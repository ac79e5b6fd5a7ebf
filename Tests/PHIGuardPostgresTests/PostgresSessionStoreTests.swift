import Foundation
import Logging
import PHIGuardAuthentication
import PHIGuardPostgres
import PHIGuardTesting
import PostgresNIO
import Testing

/// Runs over verified TLS against the throwaway server `scripts/with-test-postgres.sh` starts
/// (see ``TestDatabase``).
@Suite(
    "PostgreSQL session store",
    .enabled(if: TestDatabase.enabled)
)
struct PostgresSessionStoreTests {
    /// A client for the test server with `connections` connections, running for the duration of `body`.
    func withClient<R>(connections: Int = 8, port: Int? = nil, _ body: (PostgresClient) async throws -> R) async throws
        -> R
    {
        try await TestDatabase.withClient(connections: connections, port: port, body)
    }

    /// A migrated, empty store in `table`. The timeout is long: the tests queue many operations.
    func makeStore(_ client: PostgresClient, table: String) async throws -> PostgresSessionStore {
        let store = PostgresSessionStore(client: client, table: table, timeout: .seconds(60))
        try await store.migrate()
        try await store.migrate()  // idempotent
        try await client.query(PostgresQuery(unsafeSQL: "TRUNCATE \(table)"))
        return store
    }

    @Test("Passes the session store conformance suite")
    func conformance() async throws {
        try await withClient { client in
            let store = try await makeStore(client, table: "sess_conformance")
            try await SessionStoreConformance.check(store)
        }
    }

    @Test("Concurrent rotations from two instances over 16 connections: exactly one wins")
    func concurrentReplace() async throws {
        try await withClient { first in
            try await withClient { second in
                let storeA = try await makeStore(first, table: "sess_rotation")
                let storeB = PostgresSessionStore(client: second, table: "sess_rotation", timeout: .seconds(60))
                for _ in 0..<5 {
                    let original = SessionStoreConformance.record(accountID: "acct-1")
                    try await storeA.insert(original)
                    let candidates = (0..<64).map { _ in
                        var candidate = SessionStoreConformance.record(accountID: "acct-1")
                        candidate.handle = original.handle
                        return candidate
                    }
                    let winners = try await withThrowingTaskGroup(of: SessionRecord?.self) { group in
                        for (index, candidate) in candidates.enumerated() {
                            let store = index % 2 == 0 ? storeA : storeB
                            group.addTask {
                                try await store.replace(original.tokenHash, with: candidate) ? candidate : nil
                            }
                        }
                        return try await group.reduce(into: [SessionRecord]()) { if let won = $1 { $0.append(won) } }
                    }
                    #expect(winners.count == 1)
                    #expect(try await storeB.session(tokenHash: original.tokenHash) == nil)
                    #expect(try await storeA.sessions(accountID: "acct-1") == winners)
                    _ = try await storeA.removeSessions(accountID: "acct-1", except: nil)
                }
            }
        }
    }

    @Test("A rotation that clashes with another session changes nothing")
    func replaceClash() async throws {
        try await withClient { client in
            let store = try await makeStore(client, table: "sess_clash")
            let first = SessionStoreConformance.record(accountID: "acct-1")
            let second = SessionStoreConformance.record(accountID: "acct-1")
            try await store.insert(first)
            try await store.insert(second)
            var clashingHash = SessionStoreConformance.record(accountID: "acct-1")
            clashingHash.tokenHash = second.tokenHash
            await #expect(throws: SessionStoreError.duplicate) {
                try await store.replace(first.tokenHash, with: clashingHash)
            }
            var clashingHandle = SessionStoreConformance.record(accountID: "acct-1")
            clashingHandle.handle = second.handle
            await #expect(throws: SessionStoreError.duplicate) {
                try await store.replace(first.tokenHash, with: clashingHandle)
            }
            #expect(try await store.session(tokenHash: first.tokenHash) == first)
            #expect(try await store.session(tokenHash: second.tokenHash) == second)
        }
    }

    @Test("An unreadable row is reported by column, without values")
    func corruptRow() async throws {
        try await withClient { client in
            let store = try await makeStore(client, table: "sess_corrupt")
            let record = SessionStoreConformance.record(accountID: "acct-1")
            try await store.insert(record)
            try await client.query("UPDATE sess_corrupt SET state = 'administrator'")
            await #expect(throws: SessionStoreError.corruptRecord("state")) {
                try await store.session(tokenHash: record.tokenHash)
            }
            try await client.query("UPDATE sess_corrupt SET state = 'authenticated', strength = 'three-factor'")
            await #expect(throws: SessionStoreError.corruptRecord("strength")) {
                try await store.sessions(accountID: "acct-1")
            }
        }
    }

    @Test("A stored time no clock reading maps to is a corrupt row (finding 5 sweep)")
    func outOfRangeTimes() async throws {
        try await withClient { client in
            let store = try await makeStore(client, table: "sess_times")
            let record = SessionStoreConformance.record(accountID: "acct-1")
            try await store.insert(record)
            try await client.query("UPDATE sess_times SET idle_expires_at = 9223372036854775807")
            await #expect(throws: SessionStoreError.corruptRecord("idle_expires_at")) {
                try await store.session(tokenHash: record.tokenHash)
            }
            try await client.query(
                "UPDATE sess_times SET idle_expires_at = 0, recently_authenticated_at = -9223372036854775808")
            await #expect(throws: SessionStoreError.corruptRecord("recently_authenticated_at")) {
                try await store.sessions(accountID: "acct-1")
            }
        }
    }

    @Test("An unreachable server is reported unavailable, promptly")
    func unreachable() async throws {
        // Port 1 on loopback: nothing listens there.
        try await withClient(connections: 1, port: 1) { client in
            let store = PostgresSessionStore(client: client, timeout: .milliseconds(500))
            let started = ContinuousClock.now
            do {
                _ = try await store.session(tokenHash: SessionStoreConformance.record(accountID: nil).tokenHash)
                Issue.record("an unreachable server answered")
            } catch {
                guard case .unavailable? = error as? SessionStoreError else { throw error }
            }
            // Not a speed test: it shows the call gives up instead of hanging. The bound is generous
            // because a fully loaded 2-core machine running every suite at once can starve the timer
            // task for a minute (63 s seen with three other builds running).
            #expect(ContinuousClock.now - started < .seconds(300))
        }
    }
}
