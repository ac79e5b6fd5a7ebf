import Foundation
import PHIGuardAccess
import PHIGuardAuthentication
import PHIGuardTOTP
import Testing

/// OpenEMR CVE-2018-15152 and its 2022 follow-up, replayed: a registration (or recovery, or
/// second-factor-pending) session must reach no PHI and no authenticated state.
@Suite("Login bypass (OpenEMR CVE-2018-15152)")
struct BypassTests {
    let chart = Resource(type: "chart", id: "c-7", patientID: "p-7")

    /// Every PHI operation the policy offers, for a principal, if there is one.
    func phiDecisions(_ harness: Harness, _ resumed: ResumedSession) -> [AccessDecision] {
        // The engine accepts only an AuthenticatedPrincipal; a session without one has nothing to pass.
        guard let principal = resumed.principal else { return [] }
        return [AccessAction.read, .update, .export].map { harness.engine.decide(principal, $0, chart) }
    }

    @Test("a registration session reaches no PHI and no authenticated state")
    func registrationSession() async throws {
        let harness = try Harness()
        let victim = try await harness.addAccount("victim@example.org", id: "acct-victim")
        let registration = try await harness.flow.beginRegistration()

        // The attacker keeps presenting the registration cookie (the OpenEMR trick: "edit the URL").
        let resumed = try await harness.flow.resume(registration.token.cookieValue)
        guard case .registering = resumed else { Issue.record("expected registering, got \(resumed)"); return }
        #expect(resumed.principal == nil)
        #expect(phiDecisions(harness, resumed).isEmpty)

        // The registration session cannot sign anyone in: signing in as the victim from it still needs
        // the victim's password, and the attempt (wrong password) leaves no principal behind.
        await #expect(throws: AuthenticationError.rejected) {
            try await harness.flow.signIn(
                loginName: "victim@example.org", password: "guess", clientAddress: "198.51.100.9", replacing: resumed)
        }
        let afterAttempt = try await harness.flow.resume(registration.token.cookieValue)
        #expect(afterAttempt.principal == nil)
        #expect(phiDecisions(harness, afterAttempt).isEmpty)
        // Registering without enrolling a second factor is refused (the configuration requires one).
        await #expect(throws: AuthenticationError.rejected) {
            try await harness.flow.completeRegistration(
                registration, loginName: "new@example.org", password: "a long enough passphrase",
                clientAddress: "198.51.100.9")
        }
        _ = victim
    }

    @Test("completing a registration ends the session; the account must still sign in in full")
    func registrationEndsAnonymous() async throws {
        let harness = try Harness()
        let registration = try await harness.flow.beginRegistration()
        let authenticator = TOTP(secret: try TOTPSecret())
        // A wrong confirmation code: refused, and the session is still only registering.
        await #expect(throws: AuthenticationError.rejected) {
            try await harness.flow.completeRegistration(
                registration, loginName: "new@example.org", password: "a long enough passphrase",
                clientAddress: "192.0.2.1", authenticator: authenticator, confirmationCode: "000000x")
        }
        let accountID = try await harness.flow.completeRegistration(
            registration, loginName: "new@example.org", password: "a long enough passphrase",
            clientAddress: "192.0.2.1", authenticator: authenticator,
            confirmationCode: try authenticator.code(at: harness.clock.now))
        #expect(accountID?.hasPrefix("acct-") == true)
        let after = try await harness.flow.resume(registration.token.cookieValue)
        guard case .anonymous = after else { Issue.record("registration cookie still works: \(after)"); return }
        // Replaying the finished registration session is refused.
        await #expect(throws: AuthenticationError.sessionEnded) {
            try await harness.flow.completeRegistration(
                registration, loginName: "other@example.org", password: "a long enough passphrase",
                clientAddress: "192.0.2.1", authenticator: authenticator,
                confirmationCode: try authenticator.code(at: harness.clock.now))
        }
        // The new account signs in in full; the confirmation code is spent and cannot be reused for it.
        func signIn() async throws -> SecondFactorPendingSession {
            guard
                case .awaitingSecondFactor(let pending) = try await harness.flow.signIn(
                    loginName: "new@example.org", password: "a long enough passphrase", clientAddress: "192.0.2.1")
            else { throw HarnessError.unexpectedState }
            return pending
        }
        let confirmation = try authenticator.code(at: harness.clock.now)
        await #expect(throws: AuthenticationError.rejected) {
            try await harness.flow.verifySecondFactor(
                try await signIn(), .totp(confirmation), clientAddress: "192.0.2.1")
        }
        harness.clock.advance(by: .seconds(30))
        let session = try await harness.flow.verifySecondFactor(
            try await signIn(), .totp(try authenticator.code(at: harness.clock.now)), clientAddress: "192.0.2.1")
        #expect(session.principal.subject.id == accountID)
    }

    @Test("a password-recovery session reaches no PHI; recovery revokes every session and needs a full sign-in")
    func recoverySession() async throws {
        let harness = try Harness()
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let existing = try await harness.signIn("pat@example.org", account)

        // Unknown names get no link (the app answers identically).
        #expect(
            try await harness.flow.requestPasswordRecovery(
                loginName: "nobody@example.org", clientAddress: "198.51.100.1") == nil)
        let delivery = try #require(
            try await harness.flow.requestPasswordRecovery(loginName: "pat@example.org", clientAddress: "198.51.100.1"))
        let resumed = try await harness.flow.resume(delivery.token.cookieValue)
        guard case .recovering(let recovery) = resumed else { Issue.record("expected recovering"); return }
        #expect(resumed.principal == nil)
        #expect(phiDecisions(harness, resumed).isEmpty)

        await #expect(throws: AuthenticationError.self) {
            try await harness.flow.completeRecovery(recovery, newPassword: "short")
        }
        try await harness.flow.completeRecovery(recovery, newPassword: "a brand new passphrase")
        // Every session of the account is gone, including the one signed in before and the link itself.
        guard case .anonymous = try await harness.flow.resume(existing.token.cookieValue) else {
            Issue.record("pre-recovery session survived"); return
        }
        guard case .anonymous = try await harness.flow.resume(delivery.token.cookieValue) else {
            Issue.record("recovery link works twice"); return
        }
        // The new password alone leads only to the second-factor step.
        let progress = try await harness.flow.signIn(
            loginName: "pat@example.org", password: "a brand new passphrase", clientAddress: "198.51.100.1")
        guard case .awaitingSecondFactor = progress else { Issue.record("recovery skipped the second factor"); return }
    }

    @Test("a second-factor-pending session reads no PHI; wrong and replayed codes do not complete it")
    func pendingSession() async throws {
        let harness = try Harness()
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        guard
            case .awaitingSecondFactor(let pending) = try await harness.flow.signIn(
                loginName: "pat@example.org", password: Harness.password, clientAddress: "203.0.113.5")
        else { Issue.record("expected second-factor step"); return }
        let resumed = try await harness.flow.resume(pending.token.cookieValue)
        guard case .awaitingSecondFactor = resumed else { Issue.record("expected pending"); return }
        #expect(resumed.principal == nil)
        #expect(phiDecisions(harness, resumed).isEmpty)

        let current = try harness.code(for: account)
        let wrong = current == "000000" ? "111111" : "000000"
        await #expect(throws: AuthenticationError.rejected) {
            try await harness.flow.verifySecondFactor(pending, .totp(wrong), clientAddress: "203.0.113.5")
        }
        await #expect(throws: AuthenticationError.rejected) {
            try await harness.flow.verifySecondFactor(pending, .recoveryCode("ABCD-EFGH"), clientAddress: "203.0.113.5")
        }
        let session = try await harness.flow.verifySecondFactor(pending, .totp(current), clientAddress: "203.0.113.5")
        #expect(session.principal.strength == .multiFactor)
        #expect(harness.engine.decide(session.principal, .read, chart).isAllowed)
        // The pending token was rotated away; replaying the same code on it is refused.
        await #expect(throws: AuthenticationError.sessionEnded) {
            try await harness.flow.verifySecondFactor(pending, .totp(current), clientAddress: "203.0.113.5")
        }
        guard case .anonymous = try await harness.flow.resume(pending.token.cookieValue) else {
            Issue.record("pending token still works"); return
        }
    }

    @Test("a signed-in patient reads only their own chart (IDOR)")
    func ownChartOnly() async throws {
        let harness = try Harness()
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat", patientID: "p-7")
        let session = try await harness.signIn("pat@example.org", account)
        #expect(harness.engine.decide(session.principal, .read, chart).isAllowed)
        let someoneElse = Resource(type: "chart", id: "c-8", patientID: "p-8")
        #expect(!harness.engine.decide(session.principal, .read, someoneElse).isAllowed)
    }
}
