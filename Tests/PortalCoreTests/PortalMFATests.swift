import Foundation
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardCrypto
import PHIGuardPasswords
import PHIGuardTOTP
import Testing

@testable import PortalCore

/// `mfa enroll|confirm` on a real SQLite file: a staff account without an authenticator enrols one
/// from its password-only session, then reaches PHI after signing in again with a code.
@Suite("PortalCore second-factor enrolment (SQLite file)", .serialized)
struct PortalMFATests {
    @Test("a staff account without TOTP enrols one, reaches PHI only after signing in again with a new code")
    func staffEnrolsThenSignsInWithCode() async throws {
        let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
        let fixture = try await PortalFixture.make(patients: 5, clock: clock)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        try await PortalAccountTests.registerPasswordOnly(portal, "gil", address: "ws-gil")
        let account = try #require(try await portal.accounts.account(loginName: try LoginName("gil")))
        // A physician row without an authenticator (as an older portal could leave it).
        try await portal.accounts.setRoles(["physician"], accountID: account.id)
        try await portal.careTeams.add(memberID: account.id, patientID: "p-1")
        let passwordOnly = try await PortalAccountTests.signInPasswordOnly(portal, "gil", address: "ws-gil")
        await #expect(throws: PortalError.notSignedIn) {
            _ = try await portal.chart(token: passwordOnly, patientID: "p-1")
        }

        let pending = try await portal.beginSecondFactorEnrollment(token: passwordOnly)
        #expect(try await portal.accounts.account(id: account.id)?.totp == nil)  // nothing stored yet
        // A wrong code, and an enrolment started for another account, store nothing.
        await #expect(throws: AuthenticationError.rejected) {
            try await portal.confirmSecondFactorEnrollment(token: passwordOnly, pending: pending, code: "000000")
        }
        let foreign = try TOTPEnrollment(issuer: "PHIGuard Portal", accountName: "a-someone-else")
        await #expect(throws: PortalError.invalidInput("pending-enrolment")) {
            try await portal.confirmSecondFactorEnrollment(
                token: passwordOnly, pending: foreign, code: try foreign.totp.code(at: clock.now))
        }
        #expect(try await portal.accounts.account(id: account.id)?.totp == nil)

        let confirmation = try pending.totp.code(at: clock.now)
        try await portal.confirmSecondFactorEnrollment(token: passwordOnly, pending: pending, code: confirmation)
        #expect(try await portal.accounts.account(id: account.id)?.totp?.secret == pending.totp.secret)
        #expect(
            try await fixture.auditRecords().contains {
                $0.event.kind == .mfaEnrolled && $0.event.actorID == account.id
            })
        // Not upgraded: the password-only session still reaches no PHI.
        await #expect(throws: PortalError.notSignedIn) {
            _ = try await portal.chart(token: passwordOnly, patientID: "p-1")
        }
        // Nor can it replace the authenticator it just enrolled.
        await #expect(throws: PortalError.notPermitted("mfa-replace-needs-second-factor")) {
            _ = try await portal.beginSecondFactorEnrollment(token: passwordOnly)
        }

        // Signing in again: the confirmation code is spent; the next one works and reaches the chart.
        guard
            case .needsSecondFactor(let first) = try await portal.signIn(
                loginName: "gil", password: try PasswordSecret(PortalAccountTests.newPassword), clientAddress: "ws-gil")
        else { throw PortalError.notSignedIn }
        await #expect(throws: AuthenticationError.rejected) {
            _ = try await portal.verifySecondFactor(token: first, code: confirmation, clientAddress: "ws-gil")
        }
        clock.advance(by: .seconds(30))
        guard
            case .needsSecondFactor(let second) = try await portal.signIn(
                loginName: "gil", password: try PasswordSecret(PortalAccountTests.newPassword), clientAddress: "ws-gil")
        else { throw PortalError.notSignedIn }
        let signedIn = try await portal.verifySecondFactor(
            token: second, code: try pending.totp.code(at: clock.now), clientAddress: "ws-gil")
        #expect(try await portal.whoami(token: signedIn.token).strength == "multi-factor")
        #expect(try await portal.chart(token: signedIn.token, patientID: "p-1").patientID == "p-1")
    }
}
