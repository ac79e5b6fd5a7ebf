import Foundation
import NIOCore
import PHIGuardSQLite
import PHIGuardTOTP
import PHIGuardTesting
import SQLiteNIO
import Testing

@Suite("SQLite TOTP replay and recovery-code stores")
struct SQLiteTOTPStoreTests {
    func withDatabase(_ body: (String) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("totp-\(UUID()).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        try await body(path)
    }

    /// Runs `statement` on a connection of its own (a writer other than the stores).
    func tamper(_ path: String, _ statement: String) async throws {
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        _ = try await connection.query(statement, [])
        try await connection.close()
    }

    @Test("replay store conformance: two store objects on one in-memory database share it")
    func replayConformanceInMemory() async throws {
        let database = try await SQLiteDatabase.inMemory()
        // An in-memory database is private to its connection: the second object sees the first one's
        // steps only because both run on the database's one connection.
        try await TOTPReplayStoreConformance.check(
            try await SQLiteTOTPReplayStore.open(in: database),
            other: try await SQLiteTOTPReplayStore.open(in: database))
        try await database.close()
    }

    @Test("replay store conformance across two connections to one file (a code accepted once)")
    func replayConformanceTwoConnections() async throws {
        try await withDatabase { path in
            let first = try await SQLiteTOTPReplayStore.open(path: path, busyTimeout: .seconds(60))
            let second = try await SQLiteDatabase.open(path: path, busyTimeout: .seconds(60))
            try await TOTPReplayStoreConformance.check(first, other: try await SQLiteTOTPReplayStore.open(in: second))
            try await first.close()
            try await second.close()
        }
    }

    @Test("recovery-code store conformance: in memory, and across two connections to one file")
    func recoveryConformance() async throws {
        let database = try await SQLiteDatabase.inMemory()
        try await RecoveryCodeStoreConformance.check(
            try await SQLiteRecoveryCodeStore.open(in: database),
            other: try await SQLiteRecoveryCodeStore.open(in: database))
        try await database.close()
        try await withDatabase { path in
            let first = try await SQLiteRecoveryCodeStore.open(path: path, busyTimeout: .seconds(60))
            let second = try await SQLiteRecoveryCodeStore.open(path: path, busyTimeout: .seconds(60))
            try await RecoveryCodeStoreConformance.check(first, other: second)
            try await first.close()
            try await second.close()
        }
    }

    @Test("steps and codes survive a restart; the file holds 32-byte hashes, never a code")
    func survivesRestart() async throws {
        try await withDatabase { path in
            let hasher = RecoveryCodeHasher()
            let codes = try hasher.generate(count: 3)
            var database = try await SQLiteDatabase.open(path: path)
            #expect(try await SQLiteTOTPReplayStore.open(in: database).advance(accountID: "u-1", to: 60_000_000))
            try await SQLiteRecoveryCodeStore.open(in: database).replaceCodes(codes.map(\.hash), accountID: "u-1")
            try await database.close()

            database = try await SQLiteDatabase.open(path: path)
            let replay = try await SQLiteTOTPReplayStore.open(in: database)
            #expect(try await replay.advance(accountID: "u-1", to: 60_000_000) == false)
            let store = try await SQLiteRecoveryCodeStore.open(in: database)
            #expect(try await hasher.redeem(codes[2].reveal(), accountID: "u-1", in: store))
            #expect(try await store.remainingCount(accountID: "u-1") == 2)
            try await database.close()

            let raw = try await SQLiteConnection.open(storage: .file(path: path))
            let rows = try await raw.query("SELECT hash FROM phiguard_recovery_codes", [])
            #expect(rows.count == 2)
            for row in rows {
                guard case .blob(let hash) = row.column("hash") ?? .null else {
                    Issue.record("hash is not a blob")
                    continue
                }
                #expect(hash.readableBytes == 32)
            }
            let file = try Data(contentsOf: URL(fileURLWithPath: path))
            for code in codes {
                let text = code.reveal().replacingOccurrences(of: "-", with: "")
                #expect(file.range(of: Data(text.utf8)) == nil)
                #expect(file.range(of: Data(code.reveal().utf8)) == nil)
            }
            try await raw.close()
        }
    }

    @Test("a negative, fractional or text step in the file is a typed corrupt-record error, never a trap or a reset")
    func corruptSteps() async throws {
        try await withDatabase { path in
            let replay = try await SQLiteTOTPReplayStore.open(path: path)
            #expect(try await replay.advance(accountID: "u-neg", to: 10))
            #expect(try await replay.advance(accountID: "u-text", to: 10))
            #expect(try await replay.advance(accountID: "u-real", to: 10))
            try await tamper(path, "UPDATE phiguard_totp_replay SET last_step = -1 WHERE account_id = 'u-neg'")
            try await tamper(path, "UPDATE phiguard_totp_replay SET last_step = 'soon' WHERE account_id = 'u-text'")
            try await tamper(path, "UPDATE phiguard_totp_replay SET last_step = 10.5 WHERE account_id = 'u-real'")
            for account in ["u-neg", "u-text", "u-real"] {
                await #expect(throws: TOTPStoreError.corruptRecord("last_step")) {
                    _ = try await replay.lastAcceptedStep(accountID: account)
                }
                // A corrupt row is never overwritten (which would accept any code again): refused.
                #expect(try await replay.advance(accountID: account, to: 11) == false)
                await #expect(throws: TOTPStoreError.corruptRecord("last_step")) {
                    _ = try await replay.lastAcceptedStep(accountID: account)
                }
            }
            // The verifier fails closed on it.
            let totp = TOTP(secret: try TOTPSecret(bytes: Array("12345678901234567890".utf8)))
            let verifier = try TOTPVerifier(replayStore: replay, lockout: nil)
            let date = Date(timeIntervalSince1970: 1_800_000_000)
            await #expect(throws: TOTPVerifierError.replayStore("TOTPStoreError")) {
                _ = try await verifier.verify(try totp.code(at: date), accountID: "u-neg", totp: totp, at: date)
            }
            // A step no signed 64-bit column holds is refused before the database.
            await #expect(throws: TOTPStoreError.stepOutOfRange) {
                _ = try await replay.advance(accountID: "u-big", to: UInt64(Int64.max) + 1)
            }
            #expect(try await replay.lastAcceptedStep(accountID: "u-big") == nil)
            try await replay.close()
        }
    }

    @Test("a closed store or database is a typed error")
    func closed() async throws {
        let database = try await SQLiteDatabase.inMemory()
        let replay = try await SQLiteTOTPReplayStore.open(in: database)
        let codes = try await SQLiteRecoveryCodeStore.open(in: database)
        try await replay.close()  // does not close the shared database
        #expect(try await replay.advance(accountID: "u-1", to: 1))
        try await database.close()
        await #expect(throws: TOTPStoreError.self) { _ = try await replay.advance(accountID: "u-1", to: 2) }
        await #expect(throws: TOTPStoreError.self) { _ = try await codes.remainingCount(accountID: "u-1") }
    }
}
