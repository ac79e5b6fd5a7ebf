import Foundation
import PHIGuardAuthentication
import PHIGuardSQLite
import PHIGuardTesting
import SQLiteNIO
import Testing

@Suite("SQLite session store")
struct SQLiteSessionStoreTests {
    func withDatabase(_ body: (String) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sessions-\(UUID()).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        try await body(path)
    }

    /// Runs raw SQL against the database file, as someone with file access would.
    func execute(_ path: String, _ sql: String) async throws {
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        _ = try await connection.query(sql, [])
        try await connection.close()
    }

    /// A token made through the public API: unpadded base64url of 32 random bytes.
    static func token() throws -> (token: SessionToken, bytes: [UInt8]) {
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let cookie = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return (try #require(SessionToken(cookieValue: cookie)), bytes)
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { start in
            haystack[start] == needle[0] && Array(haystack[start..<start + needle.count]) == needle
        }
    }

    @Test("The in-memory database passes the session store conformance suite")
    func conformanceInMemory() async throws {
        let store = try await SQLiteSessionStore.inMemory()
        try await SessionStoreConformance.check(store)
        try await store.close()
    }

    @Test("A database file passes the session store conformance suite")
    func conformanceFile() async throws {
        try await withDatabase { path in
            let store = try await SQLiteSessionStore.open(path: path)
            try await SessionStoreConformance.check(store)
            try await store.close()
        }
    }

    @Test("The file holds the token hash, never the token or its cookie value")
    func noTokenAtRest() async throws {
        try await withDatabase { path in
            let (token, tokenBytes) = try Self.token()
            var record = SessionStoreConformance.record(accountID: "acct-1")
            record.tokenHash = token.hash
            let store = try await SQLiteSessionStore.open(path: path)
            try await store.insert(record)
            #expect(try await store.session(tokenHash: token.hash) == record)
            try await store.close()

            var onDisk: [UInt8] = []
            for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: path + suffix) {
                onDisk += try [UInt8](Data(contentsOf: URL(fileURLWithPath: path + suffix)))
            }
            #expect(Self.contains(onDisk, token.hash.bytes))  // the scan can find what is there
            #expect(Self.contains(onDisk, Array(record.handle.utf8)))
            #expect(!Self.contains(onDisk, tokenBytes))
            #expect(!Self.contains(onDisk, Array(token.cookieValue.utf8)))
        }
    }

    @Test("Sessions survive closing and reopening the file")
    func survivesReopen() async throws {
        try await withDatabase { path in
            let record = SessionStoreConformance.record(accountID: "acct-1")
            let store = try await SQLiteSessionStore.open(path: path)
            try await store.insert(record)
            try await store.close()
            let reopened = try await SQLiteSessionStore.open(path: path)
            #expect(try await reopened.session(tokenHash: record.tokenHash) == record)
            #expect(try await reopened.sessions(accountID: "acct-1") == [record])
            try await reopened.close()
        }
    }

    @Test("Dates keep their microseconds")
    func microsecondDates() async throws {
        let store = try await SQLiteSessionStore.inMemory()
        let now = Date(timeIntervalSince1970: 1_800_000_000.123456)
        let record = SessionStoreConformance.record(accountID: "acct-1", now: now)
        try await store.insert(record)
        let read = try #require(try await store.session(tokenHash: record.tokenHash))
        #expect(abs(read.createdAt.timeIntervalSince(now)) < 0.000_001)
        #expect(abs(read.absoluteExpiresAt.timeIntervalSince(record.absoluteExpiresAt)) < 0.000_001)
        try await store.close()
    }

    @Test("A rotation that clashes with another session changes nothing")
    func replaceClash() async throws {
        let store = try await SQLiteSessionStore.inMemory()
        let first = SessionStoreConformance.record(accountID: "acct-1")
        let second = SessionStoreConformance.record(accountID: "acct-1")
        try await store.insert(first)
        try await store.insert(second)
        var clash = SessionStoreConformance.record(accountID: "acct-1")
        clash.tokenHash = second.tokenHash
        clash.handle = first.handle
        await #expect(throws: SessionStoreError.duplicate) { try await store.replace(first.tokenHash, with: clash) }
        #expect(try await store.session(tokenHash: first.tokenHash) == first)
        #expect(try await store.session(tokenHash: second.tokenHash) == second)
        try await store.close()
    }

    @Test("Concurrent rotations through two connections to one file: exactly one wins")
    func concurrentReplaceAcrossConnections() async throws {
        try await withDatabase { path in
            let storeA = try await SQLiteSessionStore.open(path: path)
            let storeB = try await SQLiteSessionStore.open(path: path)
            let original = SessionStoreConformance.record(accountID: "acct-1")
            try await storeA.insert(original)
            let candidates = (0..<40).map { _ in
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
            let stored = try await storeB.sessions(accountID: "acct-1")
            #expect(stored == winners)
            try await storeA.close()
            try await storeB.close()
        }
    }

    @Test("An unreadable row is reported by column, without values")
    func corruptRow() async throws {
        try await withDatabase { path in
            let record = SessionStoreConformance.record(accountID: "acct-1")
            let store = try await SQLiteSessionStore.open(path: path)
            try await store.insert(record)
            try await store.close()
            let cases = [
                ("UPDATE phiguard_sessions SET state = 'administrator'", "state"),
                ("UPDATE phiguard_sessions SET state = 'authenticated', roles = 'not json'", "roles"),
                ("UPDATE phiguard_sessions SET roles = '[]', created_at = 'yesterday'", "created_at"),
                ("UPDATE phiguard_sessions SET created_at = 0, strength = 'three-factor'", "strength"),
            ]
            for (sql, column) in cases {
                try await execute(path, sql)
                let reopened = try await SQLiteSessionStore.open(path: path)
                await #expect(throws: SessionStoreError.corruptRecord(column), "\(sql)") {
                    try await reopened.session(tokenHash: record.tokenHash)
                }
                try await reopened.close()
            }
        }
    }

    @Test("A stored time no clock reading maps to is a corrupt row (finding 5 sweep)")
    func outOfRangeTimes() async throws {
        try await withDatabase { path in
            let record = SessionStoreConformance.record(accountID: "acct-1")
            let store = try await SQLiteSessionStore.open(path: path)
            try await store.insert(record)
            try await store.close()
            // ±(2^63 − 1) ns is ±9,223,372,036,854,775 µs: one past it is refused, the bound is read.
            let cases = [
                ("UPDATE phiguard_sessions SET idle_expires_at = 9223372036854775807", "idle_expires_at"),
                ("UPDATE phiguard_sessions SET idle_expires_at = 0, created_at = -9223372036854776", "created_at"),
                (
                    "UPDATE phiguard_sessions SET created_at = 0, authenticated_at = 9223372036854776",
                    "authenticated_at"
                ),
                (
                    "UPDATE phiguard_sessions SET authenticated_at = NULL, recently_authenticated_at = -9223372036854775808",
                    "recently_authenticated_at"
                ),
            ]
            for (sql, column) in cases {
                try await execute(path, sql)
                let reopened = try await SQLiteSessionStore.open(path: path)
                await #expect(throws: SessionStoreError.corruptRecord(column), "\(sql)") {
                    try await reopened.session(tokenHash: record.tokenHash)
                }
                try await reopened.close()
            }
            try await execute(
                path,
                "UPDATE phiguard_sessions SET recently_authenticated_at = NULL, absolute_expires_at = 9223372036854775")
            let reopened = try await SQLiteSessionStore.open(path: path)
            let read = try #require(try await reopened.session(tokenHash: record.tokenHash))
            #expect(read.absoluteExpiresAt == Date(microsecondsSince1970: 9_223_372_036_854_775))
            try await reopened.close()
        }
    }

    @Test("A store used after close reports the store unavailable")
    func closedStore() async throws {
        let store = try await SQLiteSessionStore.inMemory()
        try await store.close()
        do {
            _ = try await store.session(tokenHash: SessionStoreConformance.record(accountID: nil).tokenHash)
            Issue.record("a closed store answered")
        } catch {
            guard case .unavailable(let type) = error else { throw error }
            #expect(!type.isEmpty)
        }
    }
}
