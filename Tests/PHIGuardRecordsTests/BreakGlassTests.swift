import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardFieldEncryption
import PHIGuardPasswords
import PHIGuardRecords
import PHIGuardTOTP
import PHIGuardTesting
import Synchronization
import Testing

/// Accounts in memory (password changes stick).
final class BreakGlassAccounts: AccountDirectory {
    let accounts = Mutex<[String: (loginName: LoginName, account: Account)]>([:])
    func account(loginName: LoginName) async -> Account? {
        accounts.withLock { $0.values.first { $0.loginName == loginName }?.account }
    }
    func account(id accountID: String) async -> Account? { accounts.withLock { $0[accountID]?.account } }
    func createAccount(loginName: LoginName, passwordHash: String, totp: TOTP?) async -> String? { nil }
    func setPasswordHash(_ passwordHash: String, accountID: String) async {
        accounts.withLock { accounts in
            guard let entry = accounts[accountID] else { return }
            let old = entry.account
            accounts[accountID] = (
                entry.loginName,
                Account(id: old.id, passwordHash: passwordHash, totp: nil, roles: old.roles, patientID: old.patientID)
            )
        }
    }
}

/// The records harness (hospital policy, chart c-1 of p-1 and c-2 of p-2) with a real `LoginFlow`
/// on the same manual clock: nurse `u-nurse` (may break the glass, on no care team), auditor
/// `u-auditor` (reviews), front desk `u-desk` (may not break the glass).
struct BreakGlassWorld {
    static let password = "a long enough passphrase"
    let harness: RecordsHarness
    let flow: LoginFlow
    let accounts = BreakGlassAccounts()
    var emergency: EmergencyAccess { harness.emergency }
    var records: GuardedRecords { harness.records }

    init(grants: any BreakGlassStore = InMemoryBreakGlassStore()) async throws {
        harness = try await RecordsHarness(grants: grants)
        try await harness.seed("c-2", patient: "p-2")
        let hasher = try PasswordHasher(
            configuration: .init(parameters: try Argon2Parameters(memoryKiB: 4_096, iterations: 1, parallelism: 1)))
        for (id, role) in [("u-nurse", "nurse"), ("u-auditor", "auditor"), ("u-desk", "front-desk")] {
            let account = Account(id: id, passwordHash: try await hasher.hash(Self.password), roles: [role])
            let name = try LoginName(String(id.dropFirst(2)))
            accounts.accounts.withLock { $0[id] = (name, account) }
        }
        flow = try LoginFlow(
            accounts: accounts, sessions: InMemorySessionStore(), passwords: hasher,
            totp: try TOTPVerifier(replayStore: InMemoryTOTPReplayStore()), audit: harness.log, clock: harness.clock,
            configuration: LoginConfiguration(requireSecondFactor: false))
    }

    /// Signs `name` (`nurse`, `auditor`, `desk`) in through the real flow.
    func signIn(_ name: String) async throws -> AuthenticatedSession {
        guard
            case .authenticated(let session) = try await flow.signIn(
                loginName: name, password: Self.password, clientAddress: "192.0.2.1")
        else { throw RecordError.notFoundOrDenied }
        return session
    }

    /// The nurse's grant for `patients`.
    func invoke(_ session: AuthenticatedSession, patients: [String] = ["p-1"], duration: Duration? = nil)
        async throws -> EmergencyGrant
    {
        try await emergency.invoke(
            session.principal, scope: BreakGlassScope(patients: patients),
            reason: BreakGlassReason(category: .emergencyTreatment, justification: "unresponsive on arrival, GCS 6"),
            duration: duration)
    }

    /// Reads chart `id` under `grant`: `true` when allowed.
    func opens(_ id: String, _ principal: AuthenticatedPrincipal, _ grant: EmergencyGrant?) async throws -> Bool {
        do {
            _ = try await records.read(id, as: principal, breakGlass: grant)
            return true
        } catch .notFoundOrDenied {
            return false
        }
    }

    /// The `break-glass-status` of the last access record.
    func lastStatus() async throws -> String? {
        try await harness.auditRecords().last { $0.event.kind == .accessDecision }?.event.attributes[
            "break-glass-status"]
    }
}

@Suite("Break the glass, end to end (in memory, real LoginFlow)")
struct BreakGlassTests {
    @Test("the in-memory store passes the break-glass store conformance suite")
    func conformance() async throws {
        try await BreakGlassStoreConformance.check(InMemoryBreakGlassStore())
        let shared = InMemoryBreakGlassStore()
        try await BreakGlassStoreConformance.checkConcurrency(shared, shared)
    }

    @Test("a grant for P opens P's chart and refuses Q's; deny rules still win under it")
    func scope() async throws {
        let world = try await BreakGlassWorld()
        let nurse = try await world.signIn("nurse")
        #expect(!(try await world.opens("c-1", nurse.principal, nil)))
        let grant = try await world.invoke(nurse)
        let chart = try await world.records.read("c-1", as: nurse.principal, breakGlass: grant)
        #expect(chart["vitals"] != nil && chart["billing"] == nil)  // the field deny still applies
        #expect(try await world.lastStatus() == "active")
        #expect(!(try await world.opens("c-2", nurse.principal, grant)))
        #expect(try await world.lastStatus() == "outOfScope")
        // A grant for both opens both.
        let both = try await world.invoke(nurse, patients: ["p-1", "p-2"])
        #expect(try await world.opens("c-2", nurse.principal, both))
    }

    @Test("after sign-out the grant opens nothing; a new sign-in is a new session")
    func signOut() async throws {
        let world = try await BreakGlassWorld()
        let nurse = try await world.signIn("nurse")
        let grant = try await world.invoke(nurse)
        // Token rotation on resume keeps the session, and the grant.
        world.harness.clock.advance(by: .seconds(5))
        let resumed = try #require(try await world.flow.resume(nurse.token.cookieValue).principal)
        #expect(try await world.opens("c-1", resumed, grant))
        #expect(try await world.emergency.activeGrant(for: resumed, patientID: "p-1")?.grant.id == grant.grant.id)

        try await world.flow.signOut(nurse)
        #expect(try await world.flow.resume(nurse.token.cookieValue).principal == nil)
        let again = try await world.signIn("nurse")
        #expect(!(try await world.opens("c-1", again.principal, grant)))
        #expect(try await world.lastStatus() == "otherSession")
        #expect(try await world.emergency.activeGrant(for: again.principal, patientID: "p-1") == nil)
    }

    @Test("a password change re-issues the session and ends the grant")
    func passwordChange() async throws {
        let world = try await BreakGlassWorld()
        let nurse = try await world.signIn("nurse")
        let grant = try await world.invoke(nurse)
        world.harness.clock.advance(by: .seconds(1))
        let rotated = try await world.flow.changePassword(
            nurse, currentPassword: BreakGlassWorld.password, newPassword: "another long enough passphrase",
            clientAddress: "192.0.2.1")
        #expect(rotated.principal.sessionHandle == nurse.principal.sessionHandle)  // same session handle…
        #expect(!(try await world.opens("c-1", rotated.principal, grant)))  // …but the grant ended
        #expect(try await world.lastStatus() == "otherSession")
        #expect(try await world.emergency.activeGrant(for: rotated.principal, patientID: "p-1") == nil)
    }

    @Test("after expiry the grant opens nothing")
    func expiry() async throws {
        let world = try await BreakGlassWorld()
        let nurse = try await world.signIn("nurse")
        let grant = try await world.invoke(nurse, duration: .seconds(60))
        world.harness.clock.advance(by: .seconds(59))
        let principal = try #require(try await world.flow.resume(nurse.token.cookieValue).principal)
        #expect(try await world.opens("c-1", principal, grant))
        world.harness.clock.advance(by: .seconds(1))
        let later = try #require(try await world.flow.resume(nurse.token.cookieValue).principal)
        #expect(!(try await world.opens("c-1", later, grant)))
        #expect(try await world.lastStatus() == "expired")
        #expect(try await world.emergency.activeGrant(for: later, patientID: "p-1") == nil)
    }

    @Test("an expiry is recorded once (break-glass.expired), never before it happens; it stays expired, not revoked")
    func expiryIsAudited() async throws {
        let world = try await BreakGlassWorld()
        let nurse = try await world.signIn("nurse")
        let short = try await world.invoke(nurse, duration: .seconds(60))
        let long = try await world.invoke(nurse, patients: ["p-2"], duration: .seconds(600))
        #expect(try await world.emergency.recordExpiries() == 0)
        world.harness.clock.advance(by: .seconds(60))
        // One record for the expired grant, none for the other (the race of two instances is in the
        // SQLite and PostgreSQL suites, whose stores are shared).
        async let first = world.emergency.recordExpiries()
        async let second = world.emergency.recordExpiries()
        #expect(try await first + second == 1)
        #expect(try await world.emergency.recordExpiries() == 0)
        let expired = try await world.harness.auditRecords().filter { $0.event.kind == .breakGlassExpired }
        #expect(expired.count == 1)
        let event = try #require(expired.first).event
        #expect(event.resourceID == short.grant.id && event.attributes["break-glass-grant"] == short.grant.id)
        #expect(event.actorID == "u-nurse" && event.sessionID == nurse.principal.sessionHandle)
        #expect(event.patientID == "p-1" && event.reason == "expired" && event.outcome == .success)
        let invoked = try await world.harness.auditRecords().first {
            $0.event.kind == .breakGlassInvoked && $0.event.resourceID == short.grant.id
        }
        #expect(event.relatedSequence == invoked?.sequence)
        // Used afterwards, the grant is reported expired (not revoked), and the long one still works.
        let later = try #require(try await world.flow.resume(nurse.token.cookieValue).principal)
        #expect(!(try await world.opens("c-1", later, short)))
        #expect(try await world.lastStatus() == "expired")
        #expect(try await world.opens("c-2", later, long))
        let item = try #require(
            try await world.emergency.reviewQueue(auditRecords: world.harness.sink).first {
                $0.grant.id == short.grant.id
            })
        #expect(item.revocation?.revokedBy == EmergencyAccess.expiryRecorder)
        #expect(item.revocation?.revokedAt == short.grant.expiresAt)
        #expect(try await world.harness.verifyLog().isIntact)
    }

    @Test("a revocation by a user whose id is the expiry recorder's still revokes before expiry")
    func expiryRecorderIdCannotUnrevoke() async throws {
        let world = try await BreakGlassWorld()
        let nurse = try await world.signIn("nurse")
        let grant = try await world.invoke(nurse, duration: .seconds(600))
        _ = try await world.harness.grants.revoke(
            id: grant.grant.id, at: world.harness.clock.now, by: EmergencyAccess.expiryRecorder)
        #expect(!(try await world.opens("c-1", nurse.principal, grant)))
        #expect(try await world.lastStatus() == "revoked")
    }

    @Test("after revocation the grant in hand opens nothing; only the holder or a reviewer revokes")
    func revocation() async throws {
        let world = try await BreakGlassWorld()
        let nurse = try await world.signIn("nurse")
        let desk = try await world.signIn("desk")
        let grant = try await world.invoke(nurse)
        await #expect(throws: EmergencyAccessError.notPermitted) {
            try await world.emergency.revoke(grant.grant.id, as: desk.principal)
        }
        #expect(try await world.opens("c-1", nurse.principal, grant))
        try await world.emergency.revoke(grant.grant.id, as: nurse.principal)
        #expect(!(try await world.opens("c-1", nurse.principal, grant)))
        #expect(try await world.lastStatus() == "revoked")
        await #expect(throws: EmergencyAccessError.notFound) {
            try await world.emergency.revoke(grant.grant.id, as: nurse.principal)
        }
        let kinds = try await world.harness.auditRecords().map(\.event.kind)
        #expect(kinds.contains(.breakGlassRevoked))
    }

    @Test("no committed audit record, no grant; a refused invocation is audited")
    func failClosed() async throws {
        let world = try await BreakGlassWorld()
        let nurse = try await world.signIn("nurse")
        let desk = try await world.signIn("desk")
        await #expect(throws: EmergencyAccessError.refused(.notPermitted)) { try await world.invoke(desk) }
        let refused = try #require(try await world.harness.auditRecords().last).event
        #expect(refused.kind == .breakGlassInvoked && refused.outcome == .failure && refused.reason == "not-permitted")

        world.harness.sink.refuseAppends()
        await #expect(throws: EmergencyAccessError.auditUnavailable) { try await world.invoke(nurse) }
        world.harness.sink.refuseAppends(false)
        #expect(
            try await world.harness.grants.grants(issuedSince: .distantPast, includeReviewed: true, limit: 10).isEmpty)
        #expect(try await world.emergency.activeGrant(for: nurse.principal, patientID: "p-1") == nil)
    }

    @Test("every use is in the review queue with its grant id; the review is audited; the log verifies")
    func reviewQueue() async throws {
        let world = try await BreakGlassWorld()
        let nurse = try await world.signIn("nurse")
        let auditor = try await world.signIn("auditor")
        let grant = try await world.invoke(nurse)
        _ = try await world.records.read("c-1", as: nurse.principal, breakGlass: grant)
        _ = try? await world.records.read("c-2", as: nurse.principal, breakGlass: grant)  // refused, still a use
        // The policy's break-glass grants reading only: a refused update under the grant is a use too.
        await #expect(throws: RecordError.notFoundOrDenied) {
            try await world.records.update(
                "c-1", changes: ["vitals": "BP 90/60"], as: nurse.principal, breakGlass: grant)
        }

        let queue = try await world.emergency.reviewQueue(auditRecords: world.harness.sink)
        let item = try #require(queue.first)
        #expect(queue.count == 1 && item.grant.id == grant.grant.id)
        #expect(item.grant.reason.justification == "unresponsive on arrival, GCS 6")
        #expect(item.uses.map(\.event.resourceID) == ["c-1", "c-2", "c-1"])
        #expect(item.uses.map(\.event.action) == ["read", "read", "update"])
        #expect(item.uses.allSatisfy { $0.event.attributes["break-glass-grant"] == grant.grant.id })
        let invoked = try #require(try await world.harness.auditRecords().first { $0.event.kind == .breakGlassInvoked })
        #expect(item.invokedSequence == invoked.sequence)
        #expect(!"\(item)".contains("GCS") && !"\(grant)".contains("GCS"))

        // The holder may not review their own grant; the auditor may, once.
        await #expect(throws: EmergencyAccessError.notPermitted) {
            try await world.emergency.review(grant.grant.id, outcome: "justified", as: nurse.principal)
        }
        try await world.emergency.review(grant.grant.id, outcome: "justified", as: auditor.principal)
        await #expect(throws: EmergencyAccessError.alreadyReviewed) {
            try await world.emergency.review(grant.grant.id, outcome: "escalated", as: auditor.principal)
        }
        let reviewed = try #require(try await world.harness.auditRecords().last).event
        #expect(reviewed.kind == .breakGlassReviewed && reviewed.actorID == "u-auditor")
        #expect(reviewed.relatedSequence == invoked.sequence && reviewed.reason == "justified")
        #expect(try await world.emergency.reviewQueue(auditRecords: world.harness.sink).isEmpty)
        #expect(
            try await world.emergency.reviewQueue(auditRecords: world.harness.sink, includeReviewed: true).count == 1)
        #expect(try await world.harness.verifyLog().isIntact)
    }

    @Test("the justification is never in an audit record or a description, and is stored sealed")
    func justificationSealed() async throws {
        let world = try await BreakGlassWorld()
        let nurse = try await world.signIn("nurse")
        let grant = try await world.invoke(nurse)
        let stored = try #require(try await world.harness.grants.grant(id: grant.grant.id))
        let plain = Array("unresponsive on arrival, GCS 6".utf8)
        #expect(stored.sealedJustification.count > plain.count)
        #expect(!Self.contains(stored.sealedJustification, Array("GCS 6".utf8)))
        // Bound to the grant id: the envelope does not open as another grant's justification.
        let context = FieldContext(table: EmergencyAccess.encryptionTable, recordID: "bg-other", field: "justification")
        #expect(throws: (any Error).self) {
            try world.harness.encryptor.decryptString(
                try FieldEnvelope(bytes: stored.sealedJustification), context: context)
        }
        for record in try await world.harness.auditRecords() {
            #expect(!"\(record.event)".contains("GCS"))
        }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<$0 + needle.count]) == needle }
    }
}
