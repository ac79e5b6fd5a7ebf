// The SQLite sample of the article "Keeping replay steps and recovery codes in SQLite or PostgreSQL"
// (Sources/PHIGuardTOTP/PHIGuardTOTP.docc/DurableSecondFactorStores.md), compiled and run here: keep
// the two in step.
import Foundation
import PHIGuardSQLite
import PHIGuardTOTP
import Testing

// MARK: Article sample (begin)

/// The second factor of a portal: TOTP codes with replay protection, and recovery codes.
struct SecondFactor {
    let verifier: TOTPVerifier
    let recoveryCodes: any RecoveryCodeStore
    let hasher: RecoveryCodeHasher
}

/// Builds the second factor on the app's SQLite database (the stores share its connection).
func openSecondFactor(database: SQLiteDatabase, recoveryKey: [UInt8]) async throws -> SecondFactor {
    SecondFactor(
        verifier: try TOTPVerifier(replayStore: try await SQLiteTOTPReplayStore.open(in: database)),
        recoveryCodes: try await SQLiteRecoveryCodeStore.open(in: database),
        hasher: try RecoveryCodeHasher(key: recoveryKey))
}

/// After enrolment: ten new recovery codes, to show once; any earlier set stops working.
func issueRecoveryCodes(_ factor: SecondFactor, accountID: String) async throws -> [String] {
    let codes = try factor.hasher.generate()
    try await factor.recoveryCodes.replaceCodes(codes.map(\.hash), accountID: accountID)
    return codes.map { $0.reveal() }
}

/// Sign-in, second step: six digits from the authenticator app, or a recovery code.
func checkSecondFactor(_ factor: SecondFactor, typed: String, accountID: String, totp: TOTP) async throws -> Bool {
    if typed.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
        return try await factor.verifier.verify(typed, accountID: accountID, totp: totp).isAccepted
    }
    return try await factor.hasher.redeem(typed, accountID: accountID, in: factor.recoveryCodes)
}

// MARK: Article sample (end)

@Suite("TOTP article sample (SQLite)")
struct TOTPDocSampleTests {
    @Test("the sample accepts a code once and a recovery code once; a new set replaces the old")
    func sample() async throws {
        let database = try await SQLiteDatabase.inMemory()
        let factor = try await openSecondFactor(database: database, recoveryKey: Array(repeating: 9, count: 32))
        let totp = TOTP(secret: try TOTPSecret())
        let code = try totp.code(at: Date())
        #expect(try await checkSecondFactor(factor, typed: code, accountID: "u-1", totp: totp))
        #expect(try await checkSecondFactor(factor, typed: code, accountID: "u-1", totp: totp) == false)

        let first = try await issueRecoveryCodes(factor, accountID: "u-1")
        #expect(first.count == 10)
        #expect(try await checkSecondFactor(factor, typed: first[0].lowercased(), accountID: "u-1", totp: totp))
        #expect(try await checkSecondFactor(factor, typed: first[0], accountID: "u-1", totp: totp) == false)
        let second = try await issueRecoveryCodes(factor, accountID: "u-1")
        #expect(try await checkSecondFactor(factor, typed: first[1], accountID: "u-1", totp: totp) == false)
        #expect(try await checkSecondFactor(factor, typed: second[1], accountID: "u-1", totp: totp))
        try await database.close()
    }
}
