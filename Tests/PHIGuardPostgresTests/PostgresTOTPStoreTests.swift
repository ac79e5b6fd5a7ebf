import Foundation
import PHIGuardPostgres
import PHIGuardTOTP
import PHIGuardTesting
import PostgresNIO
import Testing

// The PostgreSQL sample of the article "Keeping replay steps and recovery codes in SQLite or
// PostgreSQL" (Sources/PHIGuardTOTP/PHIGuardTOTP.docc/DurableSecondFactorStores.md); `SecondFactor` is the
// article's SQLite sample's type. Keep the two in step.

/// The second factor of a portal: TOTP codes with replay protection, and recovery codes.
struct SecondFactor {
    let verifier: TOTPVerifier
    let recoveryCodes: any RecoveryCodeStore
    let hasher: RecoveryCodeHasher
}

// MARK: Article sample (begin)

func openSecondFactor(client: PostgresClient, recoveryKey: [UInt8]) async throws -> SecondFactor {
    let replay = try PostgresTOTPReplayStore(client: client, timeout: .seconds(10))
    let codes = try PostgresRecoveryCodeStore(client: client, timeout: .seconds(10))
    try await replay.migrate()
    try await codes.migrate()
    return SecondFactor(
        verifier: try TOTPVerifier(replayStore: replay), recoveryCodes: codes,
        hasher: try RecoveryCodeHasher(key: recoveryKey))
}

// MARK: Article sample (end)

/// Runs over verified TLS against the throwaway server `scripts/with-test-postgres.sh` starts
/// (see ``TestDatabase``).
@Suite("PostgreSQL TOTP replay and recovery-code stores", .enabled(if: TestDatabase.enabled))
struct PostgresTOTPStoreTests {
    func replayStore(_ client: PostgresClient, table: String, fresh: Bool) async throws -> PostgresTOTPReplayStore {
        let store = try PostgresTOTPReplayStore(client: client, table: table, timeout: .seconds(60))
        if fresh {
            try await store.migrate()
            try await client.query(PostgresQuery(unsafeSQL: "TRUNCATE \(table)"))
        }
        return store
    }

    func codeStore(_ client: PostgresClient, table: String, fresh: Bool) async throws -> PostgresRecoveryCodeStore {
        let store = try PostgresRecoveryCodeStore(client: client, table: table, timeout: .seconds(60))
        if fresh {
            try await store.migrate()
            try await client.query(PostgresQuery(unsafeSQL: "TRUNCATE \(table)"))
        }
        return store
    }

    @Test("replay store conformance across two clients (two instances): a code is accepted once")
    func replayConformance() async throws {
        try await TestDatabase.withClient { first in
            try await TestDatabase.withClient { second in
                let instanceA = try await replayStore(first, table: "totp_replay_conformance", fresh: true)
                let instanceB = try await replayStore(second, table: "totp_replay_conformance", fresh: false)
                try await TOTPReplayStoreConformance.check(instanceA, other: instanceB)
            }
        }
    }

    @Test("recovery-code store conformance across two clients (two instances): a code is redeemed once")
    func recoveryConformance() async throws {
        try await TestDatabase.withClient { first in
            try await TestDatabase.withClient { second in
                let instanceA = try await codeStore(first, table: "recovery_conformance", fresh: true)
                let instanceB = try await codeStore(second, table: "recovery_conformance", fresh: false)
                try await RecoveryCodeStoreConformance.check(instanceA, other: instanceB)
            }
        }
    }

    @Test("a negative stored step is a typed corrupt-record error and is never overwritten")
    func corruptStep() async throws {
        try await TestDatabase.withClient { client in
            let store = try await replayStore(client, table: "totp_replay_corrupt", fresh: true)
            #expect(try await store.advance(accountID: "u-neg", to: 10))
            try await client.query("UPDATE totp_replay_corrupt SET last_step = -1 WHERE account_id = 'u-neg'")
            await #expect(throws: TOTPStoreError.corruptRecord("last_step")) {
                _ = try await store.lastAcceptedStep(accountID: "u-neg")
            }
            #expect(try await store.advance(accountID: "u-neg", to: 11) == false)
            await #expect(throws: TOTPStoreError.stepOutOfRange) {
                _ = try await store.advance(accountID: "u-big", to: UInt64(Int64.max) + 1)
            }
            // Only hashes at rest.
            let codes = try await codeStore(client, table: "recovery_at_rest", fresh: true)
            let generated = try RecoveryCodeHasher().generate(count: 2)
            try await codes.replaceCodes(generated.map(\.hash), accountID: "u-1")
            let rows = try await client.query("SELECT length(hash) FROM recovery_at_rest")
            var count = 0
            for try await length in rows.decode(Int.self) {
                #expect(length == 32)
                count += 1
            }
            #expect(count == 2)
        }
    }

    @Test("the article's sample: one code accepted once across two instances")
    func articleSample() async throws {
        try await TestDatabase.withClient { first in
            try await TestDatabase.withClient { second in
                // Connect both pools first: TLS connection set-up on a loaded test machine is slow.
                try await first.query("SELECT 1")
                try await second.query("SELECT 1")
                let key = [UInt8](repeating: 9, count: 32)
                let instanceA = try await openSecondFactor(client: first, recoveryKey: key)
                let instanceB = try await openSecondFactor(client: second, recoveryKey: key)
                let totp = TOTP(secret: try TOTPSecret())
                let account = "doc-\(UUID())"
                let code = try totp.code(at: Date())
                #expect(try await instanceA.verifier.verify(code, accountID: account, totp: totp).isAccepted)
                #expect(try await instanceB.verifier.verify(code, accountID: account, totp: totp) == .replayed)
                let codes = try instanceA.hasher.generate(count: 2)
                try await instanceA.recoveryCodes.replaceCodes(codes.map(\.hash), accountID: account)
                #expect(
                    try await instanceB.hasher.redeem(
                        codes[0].reveal(), accountID: account, in: instanceB.recoveryCodes))
                #expect(
                    try await instanceA.hasher.redeem(
                        codes[0].reveal(), accountID: account, in: instanceA.recoveryCodes)
                        == false)
            }
        }
    }

    @Test("table names are validated; an unreachable server is a typed error")
    func validationAndOutage() async throws {
        try await TestDatabase.withClient(connections: 1, port: 1) { client in
            #expect(throws: TOTPStoreError.invalidTableName) {
                _ = try PostgresTOTPReplayStore(client: client, table: "totp; DROP TABLE x")
            }
            #expect(throws: TOTPStoreError.invalidTableName) {
                _ = try PostgresRecoveryCodeStore(client: client, table: "Codes")
            }
            let store = try PostgresTOTPReplayStore(client: client, timeout: .milliseconds(500))
            await #expect(throws: TOTPStoreError.self) { _ = try await store.advance(accountID: "u-1", to: 1) }
            let codes = try PostgresRecoveryCodeStore(client: client, timeout: .milliseconds(500))
            await #expect(throws: TOTPStoreError.self) { _ = try await codes.remainingCount(accountID: "u-1") }
        }
    }
}
