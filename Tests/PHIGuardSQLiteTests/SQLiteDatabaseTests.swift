import Foundation
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardRateLimit
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTOTP
import PHIGuardTesting
import Testing

@Suite("SQLiteDatabase: every store on one file, one connection")
struct SQLiteDatabaseTests {
    func withDatabase(_ body: (String) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("shared-\(UUID()).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        try await body(path)
    }

    @Test("seven stores built from one database share its connection; used all at once, each stays exact")
    func sharedConnection() async throws {
        try await withDatabase { path in
            let database = try await SQLiteDatabase.open(path: path, busyTimeout: .seconds(60))
            let clock = ManualClock()
            let secret = try DigestSecret()
            let sessions = try await SQLiteSessionStore.open(in: database)
            let lockout = try await SQLiteLockoutStore.open(
                in: database, policy: LockoutStoreConformance.policy, keyDigestSecret: secret, clock: clock)
            let limits = try await SQLiteRateLimitStore.open(in: database, keyDigestSecret: secret, clock: clock)
            let replay = try await SQLiteTOTPReplayStore.open(in: database)
            let codes = try await SQLiteRecoveryCodeStore.open(in: database)
            let sink = try await SQLiteAuditSink.open(in: database)
            let schema = try RecordSchema(resourceType: "chart", table: "charts", fields: [.encrypted("notes")])
            let records = try await SQLiteRecordStore.open(in: database, schemas: [schema])
            // One connection (so one thread) for all of them.
            let identities = [
                sessions.connectionIdentity, lockout.connectionIdentity, limits.connectionIdentity,
                replay.connectionIdentity, codes.connectionIdentity, sink.connectionIdentity,
                records.connectionIdentity,
            ]
            #expect(identities.allSatisfy { $0 == database.connectionIdentity })

            var chainKeyBytes = [UInt8](repeating: 3, count: 32)
            var seed = [UInt8](repeating: 4, count: 32)
            let chainKey = try AuditChainKey(bytes: &chainKeyBytes)
            let signingKey = try AuditSigningKey(seed: &seed)
            let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
            let hasher = RecoveryCodeHasher()
            let generated = try hasher.generate(count: 3)
            try await codes.replaceCodes(generated.map(\.hash), accountID: "u-1")
            let limit = try RateLimit("shared", count: 10, per: .seconds(86_400), burst: 10)
            let sessionRecords = (0..<20).map { _ in SessionStoreConformance.record(accountID: "u-1") }

            // Every store at once, each with its own contention.
            async let failureCounts = withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<25 {
                    group.addTask {
                        switch try await lockout.recordFailure(account: "carol", address: "10.0.0.\(index)") {
                        case .failureCounted(let consecutive, _), .accountLocked(let consecutive, _): consecutive
                        }
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            async let admitted = withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<60 {
                    group.addTask { try await limits.check([RateLimitCheck(limit, key: "k")], cost: 1).allowed }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            async let stepWinners = withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<32 { group.addTask { try await replay.advance(accountID: "u-1", to: 60_000_000) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            async let codeWinners = withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<16 { group.addTask { try await codes.consume(generated[0].hash, accountID: "u-1") } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            async let sessionsInserted: Void = withThrowingTaskGroup(of: Void.self) { group in
                for record in sessionRecords { group.addTask { try await sessions.insert(record) } }
                try await group.waitForAll()
            }
            async let audited: Void = withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        try await log.append(
                            try .accessDecision(
                                actorID: "user:\(index)", role: "nurse", action: "read", resourceType: "chart",
                                resourceID: "c-\(index)", patientID: "p-\(index)", fieldsReturned: ["notes"],
                                allowed: true, ruleIDs: ["r1"]))
                    }
                }
                try await group.waitForAll()
            }
            async let recordsInserted = withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        try await records.insert(
                            StoredRecord(id: "c-\(index)", patientID: "p-1", columns: ["notes": .bytes([1, 2, 3])]),
                            schema: schema)
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(try await failureCounts.sorted() == Array(1...25))
            #expect(try await admitted == 10)
            #expect(try await stepWinners == 1)
            #expect(try await codeWinners == 1)
            try await sessionsInserted
            try await audited
            #expect(try await recordsInserted == 20)
            #expect(try await sessions.sessions(accountID: "u-1").count == 20)
            try await log.close()
            let verification = try await AuditVerifier(chainKey: chainKey, checkpointKey: signingKey.publicKey)
                .verify(sink)
            guard case .intact(let count, _, _) = verification else {
                Issue.record("audit chain not intact: \(verification)")
                return
            }
            #expect(count == 40)

            // A shared store's close() leaves the database (and the other stores) open.
            try await sessions.close()
            try await replay.close()
            #expect(try await replay.advance(accountID: "u-1", to: 60_000_001))
            #expect(try await codes.remainingCount(accountID: "u-1") == 2)
            // Closing the database ends every store built from it, with each store's typed error.
            try await database.close()
            await #expect(throws: TOTPStoreError.self) {
                _ = try await replay.advance(accountID: "u-1", to: 60_000_002)
            }
            await #expect(throws: SessionStoreError.self) { _ = try await sessions.sessions(accountID: "u-1") }
            await #expect(throws: RateLimitError.self) { _ = try await lockout.gate(account: "carol", address: "a") }

            // Everything was written to the file: a store opened on its own connection sees it.
            let reopened = try await SQLiteTOTPReplayStore.open(path: path)
            #expect(try await reopened.lastAcceptedStep(accountID: "u-1") == 60_000_001)
            try await reopened.close()
            let readOnly = try await SQLiteAuditSink.openReadOnly(path: path)
            #expect(try await readOnly.entries(from: 0, limit: 100).count == 40)
            try await readOnly.close()
        }
    }

    @Test("an in-memory database is one database for every store built from it")
    func inMemoryShared() async throws {
        let database = try await SQLiteDatabase.inMemory()
        let first = try await SQLiteRecoveryCodeStore.open(in: database)
        let codes = try RecoveryCodeHasher().generate(count: 2)
        try await first.replaceCodes(codes.map(\.hash), accountID: "u-1")
        // A second store object made later sees the first one's rows: same connection, same memory.
        let second = try await SQLiteRecoveryCodeStore.open(in: database)
        #expect(try await second.remainingCount(accountID: "u-1") == 2)
        #expect(try await second.consume(codes[1].hash, accountID: "u-1"))
        #expect(try await first.consume(codes[1].hash, accountID: "u-1") == false)
        try await database.close()
    }
}
