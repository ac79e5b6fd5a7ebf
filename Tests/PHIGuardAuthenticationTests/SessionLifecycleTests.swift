import Foundation
import PHIGuardAccess
import PHIGuardAuthentication
import PHIGuardPasswords
import PHIGuardTesting
import Testing

@Suite("Sessions: fixation, rotation, expiry, revocation")
struct SessionLifecycleTests {
    let chart = Resource(type: "chart", id: "c-7", patientID: "p-7")

    @Test("the in-memory store passes the store conformance suite")
    func inMemoryConformance() async throws {
        try await SessionStoreConformance.check(InMemorySessionStore())
    }

    @Test("a token the server did not issue is refused and never adopted (session fixation)")
    func fixation() async throws {
        let store = InMemorySessionStore()
        let harness = try Harness(store: store)
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        // Attacker-chosen, well-formed value: refused, and nothing is stored under it.
        let planted = String(repeating: "A", count: 43)
        #expect(SessionToken(cookieValue: planted) != nil)
        guard case .anonymous = try await harness.flow.resume(planted) else {
            Issue.record("planted token accepted"); return
        }
        for malformed in ["", "short", String(repeating: "A", count: 44), String(repeating: "*", count: 43)] {
            #expect(SessionToken(cookieValue: malformed) == nil)
            guard case .anonymous = try await harness.flow.resume(malformed) else {
                Issue.record("malformed token accepted"); return
            }
        }
        // Non-canonical base64url (last character with unused bits set) is refused too.
        #expect(SessionToken(cookieValue: String(repeating: "A", count: 42) + "B") == nil)

        // An attacker's issued session planted in the victim's browser dies at sign-in: every step
        // issues a new token and destroys the old one.
        let attackerSession = try await harness.flow.beginRegistration()
        let planted2 = try await harness.flow.resume(attackerSession.token.cookieValue)
        guard
            case .awaitingSecondFactor(let pending) = try await harness.flow.signIn(
                loginName: "pat@example.org", password: Harness.password, clientAddress: "203.0.113.5",
                replacing: planted2)
        else { Issue.record("expected second factor"); return }
        #expect(pending.token.cookieValue != attackerSession.token.cookieValue)
        guard case .anonymous = try await harness.flow.resume(attackerSession.token.cookieValue) else {
            Issue.record("planted session survived sign-in"); return
        }
        let session = try await harness.flow.verifySecondFactor(
            pending, .totp(try harness.code(for: account)), clientAddress: "203.0.113.5")
        #expect(session.token.cookieValue != pending.token.cookieValue)
        #expect(session.record.handle == pending.record.handle)  // same session, new token
        #expect(store.count == 1)
    }

    @Test("a stored row claiming to be signed in without an account is never honoured")
    func incompleteAuthenticatedRecord() async throws {
        let store = InMemorySessionStore()
        let harness = try Harness(store: store)
        let cookie = "q" + String(repeating: "A", count: 42)
        let token = try #require(SessionToken(cookieValue: cookie))
        var forged = SessionStoreConformance.record(accountID: nil, state: .authenticated, now: harness.clock.now)
        forged.tokenHash = token.hash
        try store.insert(forged)
        let resumed = try await harness.flow.resume(cookie)
        #expect(resumed.principal == nil)
        #expect(store.count == 0)
    }

    @Test("only hashes of tokens are stored")
    func storedValuesAreHashes() async throws {
        let store = InMemorySessionStore()
        let harness = try Harness(store: store)
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let session = try await harness.signIn("pat@example.org", account)
        let cookie = session.token.cookieValue
        let records = store.allRecords
        #expect(records.count == 1)
        #expect(records[0].tokenHash == session.token.hash)
        let dumped = records.map { "\($0)" }.joined()
        #expect(!dumped.contains(cookie))
        // The hash is BLAKE2b-256 of the decoded token: not the token, and not reversible to it.
        #expect(records[0].tokenHash.hex.count == 64)
        #expect("\(session.token)" == "SessionToken(<redacted>)")
    }

    @Test("idle timeout (15 min) ends a session; use keeps it alive until the absolute limit (8 h)")
    func idleAndAbsoluteExpiry() async throws {
        let harness = try Harness()
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let idle = try await harness.signIn("pat@example.org", account)
        harness.clock.advance(by: .seconds(14 * 60))
        guard case .authenticated = try await harness.flow.resume(idle.token.cookieValue) else {
            Issue.record("session ended before its idle timeout"); return
        }
        harness.clock.advance(by: .seconds(15 * 60))
        guard case .anonymous = try await harness.flow.resume(idle.token.cookieValue) else {
            Issue.record("idle session still works"); return
        }

        harness.clock.advance(by: .seconds(60))
        let busy = try await harness.signIn("pat@example.org", account)
        var principal = busy.principal
        for _ in 0..<47 {  // every 10 minutes for 7 h 50 min
            harness.clock.advance(by: .seconds(600))
            guard case .authenticated(let resumed) = try await harness.flow.resume(busy.token.cookieValue) else {
                Issue.record("active session ended early"); return
            }
            principal = resumed.principal
        }
        #expect(harness.engine.decide(principal, .read, chart).isAllowed)
        harness.clock.advance(by: .seconds(600))  // 8 h after sign-in
        guard case .anonymous = try await harness.flow.resume(busy.token.cookieValue) else {
            Issue.record("session outlived its absolute lifetime"); return
        }
        // Defence in depth: a principal kept past its limit is refused by the engine itself.
        let stale = harness.engine.decide(principal, .read, chart)
        #expect(!stale.isAllowed)
        #expect(stale.reason == .authenticationExpired)
    }

    @Test("lifetimes over 12 hours or not positive are refused")
    func configurationLimits() {
        #expect(throws: LoginConfigurationError.absoluteLifetimeOverTwelveHours) {
            try LoginConfiguration(absoluteLifetime: .seconds(12 * 3600 + 1)).validate()
        }
        #expect(throws: LoginConfigurationError.notPositive("idleTimeout")) {
            try LoginConfiguration(idleTimeout: .zero).validate()
        }
        #expect(throws: LoginConfigurationError.idleTimeoutExceedsAbsoluteLifetime) {
            try LoginConfiguration(idleTimeout: .seconds(7200), absoluteLifetime: .seconds(3600)).validate()
        }
        #expect(throws: Never.self) { try LoginConfiguration(absoluteLifetime: .seconds(12 * 3600)).validate() }
    }

    @Test(
        "a password change revokes the account's other sessions and rotates the current one; the same password again is refused"
    )
    func passwordChangeRevokes() async throws {
        let harness = try Harness()
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let laptop = try await harness.signIn("pat@example.org", account)
        harness.clock.advance(by: .seconds(31))  // the next TOTP step (codes are single-use)
        let phone = try await harness.signIn("pat@example.org", account, address: "203.0.113.6")
        await #expect(throws: AuthenticationError.rejected) {
            try await harness.flow.changePassword(
                laptop, currentPassword: "wrong", newPassword: "another long passphrase", clientAddress: "203.0.113.5")
        }
        // The current password again is no change (a temporary or leaked password would stay
        // known): refused, nothing revoked.
        await #expect(throws: AuthenticationError.passwordNotAccepted([.sameAsCurrent])) {
            try await harness.flow.changePassword(
                laptop, currentPassword: Harness.password, newPassword: Harness.password, clientAddress: "203.0.113.5")
        }
        guard case .authenticated = try await harness.flow.resume(phone.token.cookieValue) else {
            Issue.record("a refused change ended another session"); return
        }
        let changed = try await harness.flow.changePassword(
            laptop, currentPassword: Harness.password, newPassword: "another long passphrase",
            clientAddress: "203.0.113.5")
        #expect(changed.record.handle == laptop.record.handle)
        guard case .anonymous = try await harness.flow.resume(phone.token.cookieValue) else {
            Issue.record("other session survived the password change"); return
        }
        guard case .anonymous = try await harness.flow.resume(laptop.token.cookieValue) else {
            Issue.record("the pre-change token still works"); return
        }
        guard case .authenticated = try await harness.flow.resume(changed.token.cookieValue) else {
            Issue.record("the rotated session does not work"); return
        }
    }

    @Test("a role change revokes other sessions and rotates the current one with the new roles")
    func roleChangeRevokes() async throws {
        let harness = try Harness()
        let account = try await harness.addAccount(
            "doc@example.org", id: "acct-doc", roles: ["patient"], patientID: "p-1")
        let first = try await harness.signIn("doc@example.org", account)
        harness.clock.advance(by: .seconds(31))
        let second = try await harness.signIn("doc@example.org", account)
        #expect(!harness.engine.decide(first.principal, .read, chart).isAllowed)
        harness.accounts.update("acct-doc") { $0.roles = ["physician"] }
        let rotated = try #require(
            try await harness.flow.accountPrivilegesChanged(accountID: "acct-doc", current: first))
        #expect(rotated.principal.subject.roles == ["physician"])
        #expect(harness.engine.decide(rotated.principal, .read, chart).isAllowed)
        guard case .anonymous = try await harness.flow.resume(second.token.cookieValue) else {
            Issue.record("other session kept the old roles"); return
        }
        guard case .anonymous = try await harness.flow.resume(first.token.cookieValue) else {
            Issue.record("pre-change token still works"); return
        }
        // An administrator's change (no current session) revokes everything.
        #expect(try await harness.flow.accountPrivilegesChanged(accountID: "acct-doc") == nil)
        guard case .anonymous = try await harness.flow.resume(rotated.token.cookieValue) else {
            Issue.record("session survived an administrator's role change"); return
        }
    }

    @Test("users list and end their own sessions, never someone else's")
    func listAndEnd() async throws {
        let harness = try Harness()
        let pat = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let other = try await harness.addAccount("other@example.org", id: "acct-other", patientID: "p-8")
        let one = try await harness.signIn("pat@example.org", pat)
        harness.clock.advance(by: .seconds(31))
        let two = try await harness.signIn("pat@example.org", pat)
        let stranger = try await harness.signIn("other@example.org", other)
        let listed = try await harness.flow.sessions(of: one)
        #expect(listed.count == 2)
        #expect(listed.filter(\.isCurrent).map(\.handle) == [one.record.handle])
        #expect(!listed.map(\.handle).contains(stranger.record.handle))
        #expect(try await harness.flow.endSession(handle: stranger.record.handle, of: one) == false)
        guard case .authenticated = try await harness.flow.resume(stranger.token.cookieValue) else {
            Issue.record("a user ended someone else's session"); return
        }
        #expect(try await harness.flow.endSession(handle: two.record.handle, of: one))
        guard case .anonymous = try await harness.flow.resume(two.token.cookieValue) else {
            Issue.record("ended session still works"); return
        }
        try await harness.flow.signOut(one)
        guard case .anonymous = try await harness.flow.resume(one.token.cookieValue) else {
            Issue.record("signed-out session still works"); return
        }
    }

    @Test("sensitive actions need a recent step-up; stepping up rotates the token")
    func stepUp() async throws {
        let harness = try Harness()
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let session = try await harness.signIn("pat@example.org", account)
        let window = Duration.seconds(300)
        #expect(harness.engine.decide(session.principal, .export, chart, recentAuthentication: window).isAllowed)
        harness.clock.advance(by: .seconds(600))
        guard case .authenticated(let resumed) = try await harness.flow.resume(session.token.cookieValue) else {
            Issue.record("session ended"); return
        }
        let stale = harness.engine.decide(resumed.principal, .export, chart, recentAuthentication: window)
        #expect(stale.reason == .recentAuthenticationRequired)
        #expect(harness.engine.decide(resumed.principal, .read, chart).isAllowed)  // ordinary reads still fine
        await #expect(throws: AuthenticationError.rejected) {
            try await harness.flow.stepUp(
                resumed, password: Harness.password, secondFactor: .totp("000000x"), clientAddress: "203.0.113.5")
        }
        let stepped = try await harness.flow.stepUp(
            resumed, password: Harness.password, secondFactor: .totp(try harness.code(for: account)),
            clientAddress: "203.0.113.5")
        #expect(stepped.token.cookieValue != resumed.token.cookieValue)
        #expect(harness.engine.decide(stepped.principal, .export, chart, recentAuthentication: window).isAllowed)
    }

    @Test("expired sessions are purged from the store")
    func purge() async throws {
        let store = InMemorySessionStore()
        let harness = try Harness(store: store)
        _ = try await harness.flow.beginRegistration()
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        _ = try await harness.signIn("pat@example.org", account)
        #expect(store.count == 2)
        harness.clock.advance(by: .seconds(16 * 60))  // past the idle timeout, within the registration lifetime
        #expect(try await harness.flow.purgeExpiredSessions() == 1)
        harness.clock.advance(by: .seconds(15 * 60))
        #expect(try await harness.flow.purgeExpiredSessions() == 1)
        #expect(store.count == 0)
    }
}
