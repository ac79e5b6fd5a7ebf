import Foundation
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardErrors
import PHIGuardPasswords
import PHIGuardSQLite
import PHIGuardTOTP
import Testing

@testable import PortalCore

/// The account lifecycle on a real SQLite file: registration links a server-created patient, staff
/// creation with TOTP, staff without a second factor, password change, recovery, recovery codes.
@Suite("PortalCore account lifecycle (SQLite file)", .serialized)
struct PortalAccountTests {
    static let newPassword = "Quartz-lantern-Meadow-5519-ochre"

    /// Registers `name` without an authenticator (TOTP is optional for patients).
    static func registerPasswordOnly(_ portal: Portal, _ name: String, address: String) async throws {
        let token = try await portal.beginRegistration()
        try await portal.completeRegistration(
            token: token, loginName: name, password: try PasswordSecret(newPassword), clientAddress: address)
    }

    /// Signs a password-only account in (single factor).
    static func signInPasswordOnly(_ portal: Portal, _ name: String, address: String) async throws -> String {
        guard
            case .signedIn(let token, _) = try await portal.signIn(
                loginName: name, password: try PasswordSecret(newPassword), clientAddress: address)
        else { throw PortalError.notSignedIn }
        return token
    }

    @Test("registration gives the patient role and a server-created patient; a claimed id has nowhere to go")
    func registrationLinksServerAssignedPatient() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        try await Self.registerPasswordOnly(portal, "erin", address: "ws-erin")
        try await Self.registerPasswordOnly(portal, "finn", address: "ws-finn")
        let erin = try await portal.whoami(token: try await Self.signInPasswordOnly(portal, "erin", address: "ws-erin"))
        let finnToken = try await Self.signInPasswordOnly(portal, "finn", address: "ws-finn")
        let finn = try await portal.whoami(token: finnToken)
        #expect(erin.roles == ["patient"] && finn.roles == ["patient"])
        let erinPatient = try #require(erin.patientID)
        let finnPatient = try #require(finn.patientID)
        for id in [erinPatient, finnPatient] {
            #expect(id.wholeMatch(of: /p-[0-9a-f]{20}/) != nil, "\(id)")
        }
        #expect(erinPatient != finnPatient)
        #expect(erin.strength == "single-factor")
        // The record exists (empty until staff fill it in) and is finn's own; erin's is not finn's.
        let own = try await portal.chart(token: finnToken, patientID: finnPatient)
        #expect(own.patientID == finnPatient && own.fields.isEmpty)
        for other in [erinPatient, "p-1", "p-2"] {
            await #expect(throws: ResourceNotFound.self) {
                _ = try await portal.chart(token: finnToken, patientID: other)
            }
        }
    }

    @Test("a staff role without a passed second factor reaches no PHI, and staff roles need an authenticator")
    func staffWithoutSecondFactorReadsNothing() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        try await Self.registerPasswordOnly(portal, "gil", address: "ws-gil")
        let account = try #require(try await portal.accounts.account(loginName: try LoginName("gil")))
        #expect(account.totp == nil)

        // The admin path refuses to make a password-only account staff.
        let admin = try await fixture.signIn("admin.al")
        await #expect(throws: PortalError.invalidInput("second factor")) {
            try await portal.setRoles(token: admin, loginName: "gil", roles: ["physician"])
        }
        // Even if the row says physician (changed behind the portal's back) with a care team, a
        // password-only session reads, lists, updates and breaks the glass for nothing.
        try await portal.accounts.setRoles(["physician"], accountID: account.id)
        try await portal.careTeams.add(memberID: account.id, patientID: "p-1")
        let token = try await Self.signInPasswordOnly(portal, "gil", address: "ws-gil")
        await #expect(throws: PortalError.notSignedIn) { _ = try await portal.chart(token: token, patientID: "p-1") }
        await #expect(throws: PortalError.notSignedIn) { _ = try await portal.listPatients(token: token) }
        await #expect(throws: PortalError.notSignedIn) {
            try await portal.updateChart(token: token, patientID: "p-1", field: "medications", value: "x")
        }
        await #expect(throws: PortalError.notSignedIn) {
            _ = try await portal.breakGlass(
                token: token, patientID: "p-1", reasonCode: "ETREAT", justification: "crash cart in bay 3")
        }
        await #expect(throws: PortalError.notSignedIn) { _ = try await portal.whoami(token: token) }
        let refusals = try await fixture.auditRecords().filter { $0.event.reason == "staff-without-second-factor" }
        #expect(refusals.count == 4)
        #expect(refusals.allSatisfy { $0.event.outcome == .deny })
    }

    @Test("staff add: admins only; a temporary password and an enrolled TOTP, so sign-in always asks for a code")
    func staffAdd() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let physician = try await fixture.signIn("dr.grey")
        await #expect(throws: PortalError.notPermitted("staff-add")) {
            _ = try await portal.addStaff(token: physician, loginName: "nurse.new", roles: ["nurse"])
        }
        let admin = try await fixture.signIn("admin.al")
        await #expect(throws: PortalError.invalidInput("roles")) {
            _ = try await portal.addStaff(token: admin, loginName: "pat.new", roles: ["patient"])
        }
        await #expect(throws: PortalError.invalidInput("login name taken")) {
            _ = try await portal.addStaff(token: admin, loginName: "NURSE.JOY", roles: ["nurse"])
        }
        let created = try await portal.addStaff(token: admin, loginName: "nurse.new", roles: ["nurse"])
        #expect(created.temporaryPassword.wholeMatch(of: /([2-9A-HJ-NP-Z]{5}-){3}[2-9A-HJ-NP-Z]{5}/) != nil)
        #expect(try created.enrollment.uri.revealString().hasPrefix("otpauth://totp/PHIGuard%20Portal:nurse.new?"))
        guard
            case .needsSecondFactor(let pending) = try await portal.signIn(
                loginName: "nurse.new", password: try PasswordSecret(created.temporaryPassword),
                clientAddress: "ws-new")
        else {
            Issue.record("a staff sign-in must ask for the second factor")
            return
        }
        let signedIn = try await portal.verifySecondFactor(
            token: pending, code: try created.enrollment.totp.code(at: Date()), clientAddress: "ws-new")
        #expect(signedIn.identity.roles == ["nurse"] && signedIn.identity.strength == "multi-factor")
    }

    @Test("password change: the old password stops working and the account's other sessions end")
    func passwordChangeEndsOtherSessions() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let first = try await fixture.signIn("alice")
        let second = try await fixture.signIn("alice")
        let bob = try await fixture.signIn("bob")
        await #expect(throws: AuthenticationError.rejected) {
            _ = try await portal.changePassword(
                token: first, current: try PasswordSecret("not the password"),
                new: try PasswordSecret(Self.newPassword))
        }
        let rotated = try await portal.changePassword(
            token: first, current: try PasswordSecret(PortalFixture.password),
            new: try PasswordSecret(Self.newPassword))
        #expect(rotated != first)
        #expect(try await portal.whoami(token: rotated).patientID == "p-1")
        for ended in [first, second] {
            await #expect(throws: PortalError.notSignedIn) {
                _ = try await portal.chart(token: ended, patientID: "p-1")
            }
        }
        #expect(try await portal.whoami(token: bob).patientID == "p-2")  // another account is untouched
        await #expect(throws: AuthenticationError.rejected) {
            _ = try await portal.signIn(
                loginName: "alice", password: try PasswordSecret(PortalFixture.password), clientAddress: "ws-old")
        }
        guard
            case .needsSecondFactor = try await portal.signIn(
                loginName: "alice", password: try PasswordSecret(Self.newPassword), clientAddress: "ws-new")
        else {
            Issue.record("the new password must lead to the second factor")
            return
        }
    }

    @Test("recovery: the same (empty) answer for known, unknown and disabled names; the link works once")
    func recoveryIsEnumerationSafe() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let admin = try await fixture.signIn("admin.al")
        try await portal.setDisabled(token: admin, loginName: "carol", disabled: true)
        let session = try await fixture.signIn("alice")
        let outbox = Outbox()
        // Every name gets the same answer: the call returns nothing and throws nothing.
        for name in ["alice", "nobody-at-all", "carol", " ALICE ", "a\u{200B}lice"] {
            try await portal.requestPasswordRecovery(loginName: name, clientAddress: "ws-recover") {
                await outbox.add($0)
            }
        }
        let sent = await outbox.messages
        // Only the active accounts' owners get a link (out of band): alice, twice (two spellings).
        let alice = try #require(try await portal.accounts.account(loginName: try LoginName("alice")))
        #expect(sent.map(\.accountID) == [alice.id, alice.id])
        let link = try #require(sent.first?.link)

        // The recovery session reads nothing.
        await #expect(throws: PortalError.notSignedIn) { _ = try await portal.chart(token: link, patientID: "p-1") }
        try await portal.completeRecovery(link: link, newPassword: try PasswordSecret(Self.newPassword))
        // Every session of the account ended; the link is spent.
        await #expect(throws: PortalError.notSignedIn) { _ = try await portal.whoami(token: session) }
        await #expect(throws: AuthenticationError.sessionEnded) {
            try await portal.completeRecovery(link: link, newPassword: try PasswordSecret("Another-Long-pass-9931-x"))
        }
        // Recovery never signs in: the new password leads to the second factor.
        guard
            case .needsSecondFactor = try await portal.signIn(
                loginName: "alice", password: try PasswordSecret(Self.newPassword), clientAddress: "ws-after")
        else {
            Issue.record("the recovered password must lead to the second factor")
            return
        }
    }

    @Test("recovery codes: each works once, a new set voids the old one, a password-only session gets none")
    func recoveryCodesSingleUse() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let codes = try await portal.newRecoveryCodes(token: try await fixture.signIn("bob"))
        #expect(codes.count == 10 && Set(codes).count == 10)

        func secondFactor(_ code: String, _ address: String) async throws -> String {
            guard
                case .needsSecondFactor(let pending) = try await portal.signIn(
                    loginName: "bob", password: try PasswordSecret(PortalFixture.password), clientAddress: address)
            else { throw PortalError.notSignedIn }
            return try await portal.verifySecondFactor(token: pending, code: code, clientAddress: address).token
        }
        let token = try await secondFactor(codes[0], "ws-1")
        #expect(try await portal.whoami(token: token).strength == "multi-factor")
        await #expect(throws: AuthenticationError.rejected) { _ = try await secondFactor(codes[0], "ws-2") }
        _ = try await secondFactor(codes[1], "ws-3")
        // A new set: the unused old codes stop working.
        let renewed = try await portal.newRecoveryCodes(token: token)
        await #expect(throws: AuthenticationError.rejected) { _ = try await secondFactor(codes[2], "ws-4") }
        _ = try await secondFactor(renewed[0], "ws-5")

        // A password-only account has no second factor to back up.
        try await Self.registerPasswordOnly(portal, "hana", address: "ws-hana")
        let single = try await Self.signInPasswordOnly(portal, "hana", address: "ws-hana")
        await #expect(throws: AuthenticationError.rejected) { _ = try await portal.newRecoveryCodes(token: single) }
    }
}

/// The out-of-band channel of a test: collects the recovery messages the portal hands over.
actor Outbox {
    private(set) var messages: [PortalRecoveryMessage] = []
    func add(_ message: PortalRecoveryMessage) { messages.append(message) }
}
