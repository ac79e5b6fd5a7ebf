import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardPasswords
import PHIGuardTOTP
import PHIGuardTesting
import Testing

/// Sealed session records, subject attributes and care teams from a real sign-in (issue #15
/// finding 3, issue #13): the in-memory parts. The SQLite and PostgreSQL suites edit real rows.
@Suite("Sealed authorization data")
struct SealedAuthorizationTests {
    /// An audit log over a recording sink, to see the tampering events.
    static func auditLog() async throws -> (AuditLog, RecordingAuditSink) {
        let sink = RecordingAuditSink()
        let log = try await AuditLog(
            sink: sink, chainKey: try AuditChainKey.generate(), signingKey: try AuditSigningKey.generate())
        return (log, sink)
    }

    static func tamperEvents(_ sink: RecordingAuditSink) async throws -> [AuditEvent] {
        try await sink.entries(from: 0, limit: 10_000).compactMap { entry -> AuditEvent? in
            if case .record(let record) = entry, record.event.kind == .tamperDetected { record.event } else { nil }
        }
    }

    /// One edit an attacker with write access to the session table could make.
    struct Edit: Sendable, CustomTestStringConvertible {
        let name: String
        let change: @Sendable (inout SessionRecord) -> Void
        var testDescription: String { name }
    }

    static let edits: [Edit] = [
        Edit(name: "patient id") { $0.patientID = "p-999" },
        Edit(name: "roles") { $0.roles = ["physician"] },
        Edit(name: "account id") { $0.accountID = "acct-victim" },
        Edit(name: "strength") { $0.strength = .singleFactor },
        Edit(name: "absolute expiry") { $0.absoluteExpiresAt = $0.absoluteExpiresAt.addingTimeInterval(86_400) },
        Edit(name: "recent authentication") {
            $0.recentlyAuthenticatedAt = $0.recentlyAuthenticatedAt?.addingTimeInterval(3_600)
        },
        Edit(name: "subject attributes") { $0.attributes["clearance"] = "high" },
        Edit(name: "seal removed (a row from before sealing)") { $0.seal = nil },
        Edit(name: "seal of another row") { $0.seal = Array(repeating: 7, count: 32) },
    ]

    @Test("a session row edited in the store is refused, removed and audited as tampering", arguments: edits)
    func editedSessionRefused(edit: Edit) async throws {
        let (log, sink) = try await Self.auditLog()
        let store = InMemorySessionStore()
        let harness = try Harness(store: store, audit: log)
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let session = try await harness.signIn("pat@example.org", account)
        // Unedited, the session resumes (sealing does not get in the way of honest rows).
        #expect(try await harness.flow.resume(session.token.cookieValue).principal?.subject.patientID == "p-7")

        var edited = try #require(store.session(tokenHash: session.token.hash))
        edit.change(&edited)
        // The store is dumb: it keeps what it is given.
        #expect(store.remove(session.token.hash) != nil)
        try store.insert(edited)

        let resumed = try await harness.flow.resume(session.token.cookieValue)
        #expect(resumed.principal == nil)
        #expect(resumed.state == nil)
        #expect(store.session(tokenHash: session.token.hash) == nil, "the refused row is removed")
        try await log.flush()
        let events = try await Self.tamperEvents(sink)
        #expect(events.count == 1)
        #expect(events.first?.resourceType == "phiguard_sessions")
        #expect(events.first?.resourceID == session.record.handle)
        #expect(events.first?.outcome == .failure)
    }

    @Test("idle use (lastSeenAt, idleExpiresAt: not sealed) keeps a sealed session working")
    func touchKeepsSeal() async throws {
        let harness = try Harness()
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let session = try await harness.signIn("pat@example.org", account)
        for _ in 0..<3 {
            harness.clock.advance(by: .seconds(600))
            #expect(try await harness.flow.resume(session.token.cookieValue).principal != nil)
        }
    }

    @Test("a session written under another key (another instance's, an old key) is refused")
    func otherKeyRefused() async throws {
        let store = InMemorySessionStore()
        let harness = try Harness(store: store)
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let session = try await harness.signIn("pat@example.org", account)
        let stranger = try LoginFlow(
            accounts: harness.accounts, sessions: store, passwords: harness.hasher,
            totp: try TOTPVerifier(replayStore: InMemoryTOTPReplayStore(), lockout: nil), clock: harness.clock,
            sealingKey: try RowSealingKey.generate())
        #expect(try await stranger.resume(session.token.cookieValue).principal == nil)
    }

    /// A session store that is not the in-memory one (as a persistent store would be).
    final class ForwardingStore: SessionStore {
        let inner = InMemorySessionStore()
        func insert(_ record: SessionRecord) throws(SessionStoreError) { try inner.insert(record) }
        func session(tokenHash: SessionTokenHash) -> SessionRecord? { inner.session(tokenHash: tokenHash) }
        func replace(_ old: SessionTokenHash, with new: SessionRecord) throws(SessionStoreError) -> Bool {
            try inner.replace(old, with: new)
        }
        func touch(_ tokenHash: SessionTokenHash, lastSeenAt: Date, idleExpiresAt: Date) {
            inner.touch(tokenHash, lastSeenAt: lastSeenAt, idleExpiresAt: idleExpiresAt)
        }
        func remove(_ tokenHash: SessionTokenHash) -> SessionRecord? { inner.remove(tokenHash) }
        func sessions(accountID: String) -> [SessionRecord] { inner.sessions(accountID: accountID) }
        func removeSessions(accountID: String, except keptHandle: String?) -> [SessionRecord] {
            inner.removeSessions(accountID: accountID, except: keptHandle)
        }
        func removeExpired(at now: Date) -> Int { inner.removeExpired(at: now) }
    }

    @Test(
        "without a sealing key, a store that outlives the process refuses to start; the in-memory one gets a per-process key"
    )
    func keyRequiredForPersistentStores() throws {
        let hasher = try PasswordHasher(
            configuration: .init(parameters: try Argon2Parameters(memoryKiB: 4_096, iterations: 1, parallelism: 1)))
        let totp = try TOTPVerifier(replayStore: InMemoryTOTPReplayStore(), lockout: nil)
        #expect(throws: LoginConfigurationError.sealingKeyRequired) {
            _ = try LoginFlow(
                accounts: InMemoryAccountDirectory(), sessions: ForwardingStore(), passwords: hasher, totp: totp)
        }
        _ = try LoginFlow(
            accounts: InMemoryAccountDirectory(), sessions: InMemorySessionStore(), passwords: hasher, totp: totp)
        var bytes = [UInt8](repeating: 1, count: 32)
        _ = try LoginFlow(
            accounts: InMemoryAccountDirectory(), sessions: ForwardingStore(), passwords: hasher, totp: totp,
            sealingKey: try RowSealingKey(bytes: &bytes))
        #expect(bytes.allSatisfy { $0 == 0 }, "the caller's key bytes are zeroed")
        var short = [UInt8](repeating: 1, count: 16)
        #expect(throws: RowSealingKeyError.invalidLength(16)) { _ = try RowSealingKey(bytes: &short) }
        #expect(throws: RowSealingKeyError.notBase64) { _ = try RowSealingKey(base64: "not base64!") }
        #expect("\(try RowSealingKey.generate())" == "RowSealingKey(<redacted>)")
    }

    static let attributePolicy = """
        version: 1
        resourceTypes:
          - name: chart
            fields: [summary]
            actions: [read]
        roles:
          - name: clinician
        rules:
          - id: same-department-cleared
            effect: allow
            roles: [clinician]
            actions: [read]
            resourceTypes: [chart]
            when:
              attributes:
                - {resource: department, equalsSubject: department}
                - {subject: clearance, equals: high}
          - id: care-team-reads
            effect: allow
            roles: [clinician]
            actions: [read]
            resourceTypes: [chart]
            when: { relationship: careTeam }
        """

    @Test("an account's attributes reach the principal after a real sign-in, and equalsSubject rules use them")
    func attributesFromSignIn() async throws {
        let harness = try Harness()
        let engine = AccessEngine(policy: try CompiledPolicy(yaml: Self.attributePolicy), clock: harness.clock)
        let cleared = try await harness.addAccount(
            "dr.a@example.org", id: "acct-a", roles: ["clinician"], patientID: nil,
            attributes: ["department": "cardiology", "clearance": "high"])
        let uncleared = try await harness.addAccount(
            "dr.b@example.org", id: "acct-b", roles: ["clinician"], patientID: nil,
            attributes: ["department": "cardiology", "clearance": "low"])
        let cardiology = Resource(type: "chart", id: "c-1", patientID: "p-1", attributes: ["department": "cardiology"])
        let oncology = Resource(type: "chart", id: "c-2", patientID: "p-2", attributes: ["department": "oncology"])

        let signedIn = try await harness.signIn("dr.a@example.org", cleared)
        #expect(signedIn.principal.subject.attributes == ["department": "cardiology", "clearance": "high"])
        let resumed = try #require(try await harness.flow.resume(signedIn.token.cookieValue).principal)
        #expect(resumed.subject.attributes == ["department": "cardiology", "clearance": "high"])
        #expect(engine.decide(resumed, .read, cardiology).isAllowed)
        #expect(!engine.decide(resumed, .read, oncology).isAllowed)

        let other = try await harness.signIn("dr.b@example.org", uncleared)
        #expect(!engine.decide(other.principal, .read, cardiology).isAllowed)
    }

    @Test("care-team memberships are read per request: a change counts from the next request, without a reload")
    func careTeamPerRequest() async throws {
        let careTeams = InMemoryCareTeamStore()
        let harness = try Harness(careTeams: careTeams)
        let engine = AccessEngine(policy: try CompiledPolicy(yaml: Self.attributePolicy), clock: harness.clock)
        let nurse = try await harness.addAccount(
            "nurse@example.org", id: "acct-n", roles: ["clinician"], patientID: nil)
        let chart = Resource(type: "chart", id: "c-9", patientID: "p-9")
        let session = try await harness.signIn("nurse@example.org", nurse)
        #expect(session.principal.subject.careTeamPatients == [])
        #expect(!engine.decide(session.principal, .read, chart).isAllowed)

        try careTeams.add(memberID: "acct-n", patientID: "p-9")
        var principal = try #require(try await harness.flow.resume(session.token.cookieValue).principal)
        #expect(principal.subject.careTeamPatients == ["p-9"])
        #expect(engine.decide(principal, .read, chart).isAllowed)

        careTeams.remove(memberID: "acct-n", patientID: "p-9")
        principal = try #require(try await harness.flow.resume(session.token.cookieValue).principal)
        #expect(!engine.decide(principal, .read, chart).isAllowed)
    }

    @Test("the in-memory account directory and care-team store pass the conformance suites")
    func inMemoryConformance() async throws {
        try await AccountDirectoryConformance.check(InMemoryAccountDirectory())
        try await CareTeamStoreConformance.check(InMemoryCareTeamStore())
    }

    @Test("a LoginFlow over the in-memory directory: register, grant roles, sign in with the new roles")
    func registerAndAdminister() async throws {
        let directory = InMemoryAccountDirectory()
        let harness = try Harness()
        let flow = try LoginFlow(
            accounts: directory, sessions: InMemorySessionStore(), passwords: harness.hasher,
            totp: try TOTPVerifier(replayStore: InMemoryTOTPReplayStore(), lockout: nil),
            rateLimits: LoginFlow.RateLimits(
                perAddress: nil, global: nil, registrationPerAddress: nil, registrationGlobal: nil),
            clock: harness.clock, configuration: LoginConfiguration(requireSecondFactor: false))
        let registration = try await flow.beginRegistration()
        let id = try #require(
            try await flow.completeRegistration(
                registration, loginName: "Pat.Lee", password: Harness.password, clientAddress: "192.0.2.1"))
        try directory.setRoles(["patient"], accountID: id)
        try directory.setPatientID("p-7", accountID: id)
        guard
            case .authenticated(let session) = try await flow.signIn(
                loginName: "pat.lee", password: Harness.password, clientAddress: "192.0.2.1")
        else { throw HarnessError.unexpectedState }
        #expect(session.principal.subject.roles == ["patient"])
        #expect(session.principal.subject.patientID == "p-7")
    }
}
