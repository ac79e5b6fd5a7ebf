import Foundation
import PHIGuardAccess
import PHIGuardAuthentication
import PHIGuardPasswords
import PHIGuardTestSupport
import Testing

/// Issue #15, finding 8: a typed password given to the login flow as a `PasswordSecret` is not left
/// in process memory (the test scans `/proc/self/mem` for it; see `MaskedSecret`).
@Suite("Password in process memory through the login flow", .serialized)
struct PasswordMemoryTests {
    static let alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

    /// The clear bytes of `secret` in a new array, moved into guarded memory (the array is zeroed).
    static func passwordSecret(_ secret: MaskedSecret) throws -> PasswordSecret {
        var clear = secret.masked.map { $0 ^ MaskedSecret.mask }
        let password = try PasswordSecret(consuming: &clear)
        #expect(clear.allSatisfy { $0 == 0 }, "PasswordSecret(consuming:) zeroes the caller's bytes")
        return password
    }

    @Test("a password given to signIn as a PasswordSecret is nowhere in readable memory after the call")
    func signInLeavesNoCopy() async throws {
        // 24 random ASCII letters and digits (the ASCII path: no NFKC string).
        let password = MaskedSecret(randomFrom: Self.alphabet, count: 24)
        let harness = try Harness(configuration: LoginConfiguration(requireSecondFactor: false))
        do {
            let hash = try await harness.hasher.hash(secret: try Self.passwordSecret(password))
            harness.accounts.add(
                loginName: "scan.user",
                account: Account(id: "acct-scan", passwordHash: hash, totp: nil, roles: ["patient"], patientID: "p-7"))
        }
        // The scanner works: a copy planted in an ordinary array is found.
        var planted = password.masked.map { $0 ^ MaskedSecret.mask }
        #expect(try password.occurrencesInProcessMemory() > 0)
        memset(&planted, 0, planted.count)

        // The secret really was the password: another one is refused (first,
        // so that the right sign-in is the last thing before the scan).
        await #expect(throws: AuthenticationError.rejected) {
            _ = try await harness.flow.signIn(
                loginName: "scan.user", passwordSecret: try PasswordSecret("not the password at all"),
                clientAddress: "203.0.113.9")
        }
        do {
            let progress = try await harness.flow.signIn(
                loginName: "scan.user", passwordSecret: try Self.passwordSecret(password),
                clientAddress: "203.0.113.9")
            guard case .authenticated(let session) = progress else {
                Issue.record("the right password did not sign in")
                return
            }
            #expect(session.principal.subject.id == "acct-scan")
        }
        let hits = try password.occurrencesInProcessMemory()
        #expect(hits == 0, "the signed-in password was found \(hits) times in readable memory")
    }

    @Test("registration, password change and recovery take PasswordSecret too, and leave no copy")
    func registrationChangeAndRecoveryLeaveNoCopy() async throws {
        let first = MaskedSecret(randomFrom: Self.alphabet, count: 20)
        let second = MaskedSecret(randomFrom: Self.alphabet, count: 20)
        let third = MaskedSecret(randomFrom: Self.alphabet, count: 20)
        let harness = try Harness(
            configuration: LoginConfiguration(requireSecondFactor: false),
            rateLimits: LoginFlow.RateLimits(
                perAddress: nil, global: nil, registrationPerAddress: nil, registrationGlobal: nil))
        do {
            let registering = try await harness.flow.beginRegistration()
            let id = try await harness.flow.completeRegistration(
                registering, loginName: "memory.user", passwordSecret: try Self.passwordSecret(first),
                clientAddress: "203.0.113.9")
            #expect(id != nil)
            guard
                case .authenticated(let session) = try await harness.flow.signIn(
                    loginName: "memory.user", passwordSecret: try Self.passwordSecret(first),
                    clientAddress: "203.0.113.9")
            else {
                Issue.record("the registered password did not sign in")
                return
            }
            _ = try await harness.flow.changePassword(
                session, currentPasswordSecret: try Self.passwordSecret(first),
                newPasswordSecret: try Self.passwordSecret(second), clientAddress: "203.0.113.9")
            let delivery = try #require(
                try await harness.flow.requestPasswordRecovery(loginName: "memory.user", clientAddress: "203.0.113.9"))
            guard case .recovering(let recovering) = try await harness.flow.resume(delivery.token.cookieValue) else {
                Issue.record("the recovery link did not open a recovery session")
                return
            }
            try await harness.flow.completeRecovery(recovering, newPasswordSecret: try Self.passwordSecret(third))
            guard
                case .authenticated = try await harness.flow.signIn(
                    loginName: "memory.user", passwordSecret: try Self.passwordSecret(third),
                    clientAddress: "203.0.113.9")
            else {
                Issue.record("the recovered password did not sign in")
                return
            }
        }
        for (name, secret) in [("registered", first), ("changed", second), ("recovered", third)] {
            let hits = try secret.occurrencesInProcessMemory()
            #expect(hits == 0, "the \(name) password was found \(hits) times in readable memory")
        }
    }

    @Test("PasswordPolicy gives the same answer for a PasswordSecret as for the same String")
    func policyAgreesOnSecretAndString() throws {
        let policy = PasswordPolicy(blocklist: ["password1234", "Correct Horse", "ＬＥＴＭＥＩＮ１２３", "ﬁnal-answer"])
        let words = ["alice", "PHIGuard", "ab", "Ünïcode"]
        var candidates = [
            "", "short", "password1234", "PASSWORD1234", "letmein123", "LetMeIn123", "final-answer", "correct horse",
            "my alice password", "xxPHIGUARDxx", "ab-ab-ab-ab-ab-ab", "ünïcodeünïcode", "Ünïcode and more letters",
            String(repeating: "a", count: 1_024), String(repeating: "a", count: 1_025),
        ]
        var generator = SystemRandomNumberGenerator()
        let pool = Array("abcALICEphiguard 0123-_ÄéﬁＡ")
        for _ in 0..<300 {
            let length = Int.random(in: 1...24, using: &generator)
            candidates.append(String((0..<length).map { _ in pool.randomElement(using: &generator) ?? "a" }))
        }
        for candidate in candidates {
            for usage in [PasswordPolicy.Usage.singleFactor, .withMultiFactor] {
                let fromString = policy.violations(of: candidate, usage: usage, contextWords: words)
                let fromSecret = policy.violations(
                    ofSecret: try PasswordSecret(candidate), usage: usage, contextWords: words)
                #expect(fromString == fromSecret, "\(candidate.debugDescription)")
            }
        }
        // Bytes that are not UTF-8 cannot be a String; as a PasswordSecret they are refused as such.
        var invalid: [UInt8] = [0x61, 0xFF, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68]
        #expect(
            policy.violations(ofSecret: try PasswordSecret(consuming: &invalid), usage: .withMultiFactor)
                == [.invalidEncoding])
    }
}
