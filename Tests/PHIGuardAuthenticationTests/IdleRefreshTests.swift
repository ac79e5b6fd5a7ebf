import Foundation
import PHIGuardAuthentication
import Synchronization
import Testing

/// An ``InMemorySessionStore`` that counts the writes `resume` makes (touches).
final class TouchCountingStore: SessionStore {
    let inner = InMemorySessionStore()
    private let touchCount = Atomic(0)
    var touches: Int { touchCount.load(ordering: .relaxed) }

    func insert(_ record: SessionRecord) throws(SessionStoreError) { try inner.insert(record) }
    func session(tokenHash: SessionTokenHash) -> SessionRecord? { inner.session(tokenHash: tokenHash) }
    func replace(_ old: SessionTokenHash, with new: SessionRecord) throws(SessionStoreError) -> Bool {
        try inner.replace(old, with: new)
    }
    func touch(_ tokenHash: SessionTokenHash, lastSeenAt: Date, idleExpiresAt: Date) {
        touchCount.add(1, ordering: .relaxed)
        inner.touch(tokenHash, lastSeenAt: lastSeenAt, idleExpiresAt: idleExpiresAt)
    }
    func remove(_ tokenHash: SessionTokenHash) -> SessionRecord? { inner.remove(tokenHash) }
    func sessions(accountID: String) -> [SessionRecord] { inner.sessions(accountID: accountID) }
    func removeSessions(accountID: String, except keptHandle: String?) -> [SessionRecord] {
        inner.removeSessions(accountID: accountID, except: keptHandle)
    }
    func removeExpired(at now: Date) -> Int { inner.removeExpired(at: now) }
}

@Suite("Sessions: idle limit written at most once per refresh interval")
struct IdleRefreshTests {
    static let idle = 15 * 60  // the default idle timeout, in seconds
    static let refresh = 60  // the default refresh interval for it

    func resumes(_ harness: Harness, _ session: AuthenticatedSession) async throws -> Bool {
        if case .authenticated = try await harness.flow.resume(session.token.cookieValue) { return true }
        return false
    }

    @Test("the default interval is 60 s, or a tenth of a shorter idle timeout")
    func defaults() {
        #expect(LoginConfiguration().effectiveIdleRefreshInterval == .seconds(60))
        #expect(LoginConfiguration(idleTimeout: .seconds(300)).effectiveIdleRefreshInterval == .seconds(30))
        #expect(LoginConfiguration(idleRefreshInterval: .zero).effectiveIdleRefreshInterval == .zero)
    }

    @Test("an interval that is negative or over half the idle timeout is refused")
    func validation() throws {
        #expect(throws: LoginConfigurationError.idleRefreshIntervalOutOfRange) {
            try LoginConfiguration(idleRefreshInterval: .seconds(-1)).validate()
        }
        #expect(throws: LoginConfigurationError.idleRefreshIntervalOutOfRange) {
            try LoginConfiguration(idleRefreshInterval: .seconds(Self.idle / 2 + 1)).validate()
        }
        try LoginConfiguration(idleRefreshInterval: .seconds(Self.idle / 2)).validate()
        try LoginConfiguration(idleRefreshInterval: .zero).validate()
    }

    @Test("uses within the interval only read; the first use after it writes")
    func usesWithinTheIntervalDoNotWrite() async throws {
        let store = TouchCountingStore()
        let harness = try Harness(store: store)
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let session = try await harness.signIn("pat@example.org", account)
        let signedIn = harness.clock.now
        for _ in 0..<5 {  // 5 uses in the first 59 s
            harness.clock.advance(by: .milliseconds(11_800))
            #expect(try await resumes(harness, session))
        }
        #expect(store.touches == 0)
        let stored = try #require(store.inner.session(tokenHash: session.token.hash))
        #expect(stored.lastSeenAt == signedIn)
        #expect(stored.idleExpiresAt == signedIn.addingTimeInterval(TimeInterval(Self.idle)))

        harness.clock.advance(by: .seconds(1))  // 60 s after the last write
        #expect(try await resumes(harness, session))
        #expect(store.touches == 1)
        let touched = try #require(store.inner.session(tokenHash: session.token.hash))
        #expect(touched.lastSeenAt == harness.clock.now)
    }

    @Test("with interval zero every use writes")
    func zeroWritesEveryUse() async throws {
        let store = TouchCountingStore()
        let harness = try Harness(store: store, configuration: LoginConfiguration(idleRefreshInterval: .zero))
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let session = try await harness.signIn("pat@example.org", account)
        for _ in 0..<3 {
            harness.clock.advance(by: .seconds(1))
            #expect(try await resumes(harness, session))
        }
        #expect(store.touches == 3)
    }

    @Test("a session unused for the idle timeout ends, whether or not its last use was written")
    func idleSessionEnds() async throws {
        let harness = try Harness()
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")

        // Last use written (more than the interval after sign-in): dead exactly idleTimeout after it.
        let written = try await harness.signIn("pat@example.org", account)
        harness.clock.advance(by: .seconds(Self.refresh + 5))
        #expect(try await resumes(harness, written))
        harness.clock.advance(by: .seconds(Self.idle))
        #expect(try await !resumes(harness, written))

        // Last use not written (within the interval): it ends idleTimeout after the last write, which
        // is earlier than idleTimeout after the last use (early by less than the interval, never late).
        harness.clock.advance(by: .seconds(31))  // a fresh TOTP step for the next sign-in
        let unwritten = try await harness.signIn("pat@example.org", account)
        harness.clock.advance(by: .seconds(Self.refresh - 1))
        #expect(try await resumes(harness, unwritten))
        harness.clock.advance(by: .seconds(Self.idle - Self.refresh + 1))
        #expect(try await !resumes(harness, unwritten))
    }

    @Test("a session used every N−1 s, or at any gap under idleTimeout − N, lives to its absolute limit")
    func regularUseSurvives() async throws {
        let harness = try Harness()
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let busy = try await harness.signIn("pat@example.org", account)
        for _ in 0..<(3 * Self.idle / (Self.refresh - 1)) {  // 45 minutes, three idle timeouts
            harness.clock.advance(by: .seconds(Self.refresh - 1))
            guard try await resumes(harness, busy) else {
                Issue.record("a session used every \(Self.refresh - 1) s ended"); return
            }
        }
        // Two short gaps (the first not written, the second written only because it is N after the
        // last write), then a gap just under idleTimeout − N: a throttle more lenient than N ends it.
        for _ in 0..<10 {
            for _ in 0..<2 {
                harness.clock.advance(by: .seconds(Self.refresh - 1))
                #expect(try await resumes(harness, busy))
            }
            harness.clock.advance(by: .seconds(Self.idle - Self.refresh - 1))
            guard try await resumes(harness, busy) else {
                Issue.record("a session used within idleTimeout − N ended"); return
            }
        }
    }

    @Test("a wall clock set back writes the idle limit again from the earlier reading")
    func clockSetBack() async throws {
        let store = TouchCountingStore()
        let harness = try Harness(store: store)
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let session = try await harness.signIn("pat@example.org", account)
        harness.clock.set(harness.clock.now.addingTimeInterval(-600))
        #expect(try await resumes(harness, session))
        #expect(store.touches == 1)
        harness.clock.advance(by: .seconds(Self.idle))  // idle for the timeout by the clock now in force
        #expect(try await !resumes(harness, session))
    }
}
