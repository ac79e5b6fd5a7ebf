import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardPasswords
import PHIGuardTOTP
import PHIGuardTesting
import Testing

/// `LoginFlow.enrollSecondFactor`: a TOTP authenticator enrolled on an existing account (issue #16).
@Suite("Second-factor enrolment")
struct SecondFactorEnrollmentTests {
    struct World {
        let clock = ManualClock()
        let directory = InMemoryAccountDirectory()
        let sink: RecordingAuditSink
        let log: AuditLog
        let flow: LoginFlow

        init() async throws {
            sink = RecordingAuditSink()
            log = try await AuditLog(
                sink: sink, chainKey: try AuditChainKey.generate(), signingKey: try AuditSigningKey.generate())
            let hasher = try PasswordHasher(
                configuration: .init(parameters: try Argon2Parameters(memoryKiB: 4_096, iterations: 1, parallelism: 1)))
            flow = try LoginFlow(
                accounts: directory, sessions: InMemorySessionStore(), passwords: hasher,
                totp: try TOTPVerifier(replayStore: InMemoryTOTPReplayStore(), lockout: nil), audit: log, clock: clock,
                configuration: LoginConfiguration(requireSecondFactor: false))
            let hash = try await hasher.hash(Harness.password)
            _ = try directory.createAccount(loginName: try LoginName("nina"), passwordHash: hash, totp: nil)
        }

        var accountID: String { get throws { try #require(directory.account(loginName: try LoginName("nina"))).id } }

        /// The stored authenticator's secret.
        func storedSecret() throws -> TOTPSecret? { directory.account(id: try accountID)?.totp?.secret }

        /// Signs in with the password, and with `code` when the account asks for one.
        func signIn(code: String? = nil) async throws -> AuthenticatedSession {
            switch try await flow.signIn(loginName: "nina", password: Harness.password, clientAddress: "198.51.100.4") {
            case .authenticated(let session): return session
            case .awaitingSecondFactor(let pending):
                return try await flow.verifySecondFactor(pending, .totp(code ?? ""), clientAddress: "198.51.100.4")
            }
        }

        /// The recorded events of `kind` (failures are queued: flushed first).
        func events(_ kind: AuditEventKind) async throws -> [AuditEvent] {
            try await log.flush()
            return try await sink.entries(from: 0, limit: 10_000).compactMap { entry -> AuditEvent? in
                if case .record(let record) = entry, record.event.kind == kind { record.event } else { nil }
            }
        }
    }

    @Test("A password-only session enrols the first authenticator; the session stays single-factor")
    func firstEnrolment() async throws {
        let world = try await World()
        let session = try await world.signIn()
        #expect(session.principal.strength == .singleFactor)
        let authenticator = TOTP(secret: try TOTPSecret())

        // A wrong code stores nothing.
        await #expect(throws: AuthenticationError.rejected) {
            try await world.flow.enrollSecondFactor(session, authenticator: authenticator, confirmationCode: "000000")
        }
        #expect(try world.storedSecret() == nil)

        let code = try authenticator.code(at: world.clock.now)
        try await world.flow.enrollSecondFactor(session, authenticator: authenticator, confirmationCode: code)
        #expect(try world.storedSecret() == authenticator.secret)
        let enrolled = try await world.events(.mfaEnrolled)
        let accountID = try world.accountID
        #expect(enrolled.count == 1 && enrolled.first?.actorID == accountID)
        // Nothing was upgraded: the session still reads single-factor.
        let resumed = try await world.flow.resume(session.token.cookieValue)
        #expect(resumed.principal?.strength == .singleFactor)

        // The confirmation code is spent: it cannot complete a sign-in.
        await #expect(throws: AuthenticationError.rejected) { _ = try await world.signIn(code: code) }
        // The next code signs in with both factors.
        world.clock.advance(by: .seconds(30))
        let full = try await world.signIn(code: try authenticator.code(at: world.clock.now))
        #expect(full.principal.strength == .multiFactor)
    }

    @Test("Replacing an authenticator needs a multi-factor session; then other sessions end")
    func reEnrolmentNeedsSecondFactor() async throws {
        let world = try await World()
        let passwordOnly = try await world.signIn()
        let first = TOTP(secret: try TOTPSecret())
        try await world.flow.enrollSecondFactor(
            passwordOnly, authenticator: first, confirmationCode: try first.code(at: world.clock.now))

        // A stolen password's session cannot swap the second factor, even with a valid code.
        world.clock.advance(by: .seconds(30))
        let attacker = TOTP(secret: try TOTPSecret())
        await #expect(throws: AuthenticationError.rejected) {
            try await world.flow.enrollSecondFactor(
                passwordOnly, authenticator: attacker, confirmationCode: try attacker.code(at: world.clock.now))
        }
        #expect(try world.storedSecret() == first.secret)
        let refused = try await world.events(.mfaFailed)
        #expect(refused.contains { $0.reason == "second-factor-replacement-needs-second-factor" })

        // The owner, signed in with both factors, replaces it; the password-only session ends.
        let owner = try await world.signIn(code: try first.code(at: world.clock.now))
        world.clock.advance(by: .seconds(30))
        let second = TOTP(secret: try TOTPSecret())
        try await world.flow.enrollSecondFactor(
            owner, authenticator: second, confirmationCode: try second.code(at: world.clock.now))
        #expect(try world.storedSecret() == second.secret)
        #expect(try await world.flow.resume(owner.token.cookieValue).principal?.strength == .multiFactor)
        #expect(try await world.flow.resume(passwordOnly.token.cookieValue).principal == nil)
        world.clock.advance(by: .seconds(30))
        await #expect(throws: AuthenticationError.rejected) {
            _ = try await world.signIn(code: try first.code(at: world.clock.now))
        }
    }
}
