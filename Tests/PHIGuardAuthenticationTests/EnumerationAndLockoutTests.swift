import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardRateLimit
import PHIGuardTOTP
import PHIGuardTesting
import Synchronization
import Testing

@Suite("Uniform failures, enumeration, lockout and audit")
struct EnumerationAndLockoutTests {
    /// The outcome of one sign-in attempt as the client would see it.
    func attempt(_ harness: Harness, _ name: String, _ password: String, address: String = "203.0.113.5") async
        -> String
    {
        do {
            let progress = try await harness.flow.signIn(loginName: name, password: password, clientAddress: address)
            return "\(progress)"
        } catch {
            return "\(error)"
        }
    }

    @Test("unknown account, wrong password and disabled account give the identical answer")
    func identicalAnswers() async throws {
        let harness = try Harness()
        try await harness.addAccount("pat@example.org", id: "acct-pat")
        try await harness.addAccount("gone@example.org", id: "acct-gone")
        harness.accounts.update("acct-gone") { $0.isDisabled = true }
        let unknown = await attempt(harness, "nobody@example.org", "wrong password 1")
        let wrong = await attempt(harness, "pat@example.org", "wrong password 1")
        let disabled = await attempt(harness, "gone@example.org", Harness.password)
        #expect(unknown == "\(AuthenticationError.rejected)")
        #expect(wrong == unknown)
        #expect(disabled == unknown)
    }

    @Test("timing: unknown names cost the same Argon2id work as known names (fastest of 24 runs each, within 0.25-4x)")
    func comparableTiming() async throws {
        // A real cost (Argon2id, 16 MiB), no lockout delays (we measure the work, not the throttle), no rate limits.
        let harness = try Harness(
            lockout: try LockoutPolicy(freeFailures: 50),
            rateLimits: LoginFlow.RateLimits(perAddress: nil, global: nil), memoryKiB: 16_384)
        try await harness.addAccount("pat@example.org", id: "acct-pat")
        var knownTimes: [Duration] = []
        var unknownTimes: [Duration] = []
        let clock = ContinuousClock()
        for round in 0..<24 {
            // Each round times one known and one unknown attempt back to back (alternating which goes
            // first), so both see the same machine load; the rest of the suite runs in parallel.
            func known() async -> Duration {
                await clock.measure { _ = await attempt(harness, "pat@example.org", "wrong \(round)") }
            }
            func unknown() async -> Duration {
                await clock.measure { _ = await attempt(harness, "nobody\(round)@example.org", "wrong \(round)") }
            }
            let knownTime: Duration
            let unknownTime: Duration
            if round.isMultiple(of: 2) {
                knownTime = await known()
                unknownTime = await unknown()
            } else {
                unknownTime = await unknown()
                knownTime = await known()
            }
            knownTimes.append(knownTime)
            unknownTimes.append(unknownTime)
        }
        // Tolerance stated: the fastest unknown-name attempt is within 0.25–4× of the fastest
        // known-name attempt (the attack suite's band). The minimum is the work itself; load only adds
        // stalls (the median of paired ratios swung from 0.14 to over 1.4 while the whole suite ran,
        // and under a load average of 25 even the fastest runs left the earlier 0.6–1.4 band). An early
        // return without Argon2id makes unknown names ~100× faster, far outside it.
        let ratio = try #require(unknownTimes.min()) / (try #require(knownTimes.min()))
        #expect(ratio > 0.25 && ratio < 4, "fastest unknown/known ratio \(ratio)")
    }

    @Test("repeated failures delay and then lock a login name, whether or not the account exists")
    func lockoutIsExistenceBlind() async throws {
        let policy = try LockoutPolicy(
            freeFailures: 3, initialDelay: .seconds(1), maximumDelay: .seconds(60), maximumConsecutiveFailures: 10,
            lockoutDuration: .seconds(900))
        let harness = try Harness(lockout: policy, rateLimits: LoginFlow.RateLimits(perAddress: nil, global: nil))
        try await harness.addAccount("pat@example.org", id: "acct-pat")
        var knownAnswers: [String] = []
        var unknownAnswers: [String] = []
        for _ in 0..<12 {
            knownAnswers.append(await attempt(harness, "pat@example.org", "wrong"))
            unknownAnswers.append(await attempt(harness, "nobody@example.org", "wrong"))
            harness.clock.advance(by: .seconds(61))  // let each delay pass; count towards the cap
        }
        #expect(knownAnswers == unknownAnswers)
        #expect(knownAnswers.prefix(10).allSatisfy { $0 == "\(AuthenticationError.rejected)" })
        #expect(knownAnswers.suffix(2).allSatisfy { $0.hasPrefix("too many attempts") })
        // Locked: even the right password is held back, until the lock has served its time.
        #expect(await attempt(harness, "pat@example.org", Harness.password).hasPrefix("too many attempts"))
        harness.clock.advance(by: .seconds(901))
        #expect(await attempt(harness, "pat@example.org", Harness.password).hasPrefix("awaitingSecondFactor"))
    }

    @Test("a fast second attempt inside the delay is held back with a retry time")
    func progressiveDelay() async throws {
        let policy = try LockoutPolicy(freeFailures: 1, initialDelay: .seconds(30), maximumDelay: .seconds(600))
        let harness = try Harness(lockout: policy, rateLimits: LoginFlow.RateLimits(perAddress: nil, global: nil))
        try await harness.addAccount("pat@example.org", id: "acct-pat")
        _ = await attempt(harness, "pat@example.org", "wrong")
        _ = await attempt(harness, "pat@example.org", "wrong")
        do {
            _ = try await harness.flow.signIn(
                loginName: "pat@example.org", password: "wrong", clientAddress: "203.0.113.5")
            Issue.record("attempt inside the delay was not held back")
        } catch {
            guard case .tryLater(let retryAfter) = error else { Issue.record("got \(error)"); return }
            #expect(retryAfter > .zero && retryAfter <= .seconds(30))
        }
        // Another address is not delayed by this one's failures (the victim can still sign in).
        #expect(
            await attempt(harness, "pat@example.org", Harness.password, address: "192.0.2.44").hasPrefix(
                "awaitingSecondFactor"))
    }

    @Test("the per-address rate limit stops credential stuffing across many names")
    func perAddressLimit() async throws {
        let limits = LoginFlow.RateLimits(
            perAddress: try RateLimit("login-per-address", count: 5, per: .seconds(60), burst: 5), global: nil)
        let harness = try Harness(rateLimits: limits)
        var answers: [String] = []
        for index in 0..<8 { answers.append(await attempt(harness, "user\(index)@example.org", "Winter2026!")) }
        #expect(answers.prefix(5).allSatisfy { $0 == "\(AuthenticationError.rejected)" })
        #expect(answers.suffix(3).allSatisfy { $0.hasPrefix("too many attempts") })
        #expect(
            await attempt(harness, "user9@example.org", "x", address: "198.51.100.77")
                == "\(AuthenticationError.rejected)")
    }

    @Test("sign-in events reach the audit log with internal reasons; lockouts are recorded")
    func auditTrail() async throws {
        let sink = InMemoryAuditSink()
        let log = try await AuditLog(
            sink: sink, chainKey: try AuditChainKey.generate(), signingKey: try AuditSigningKey.generate())
        let policy = try LockoutPolicy(freeFailures: 2, maximumConsecutiveFailures: 3, lockoutDuration: .seconds(600))
        let harness = try Harness(
            lockout: policy, rateLimits: LoginFlow.RateLimits(perAddress: nil, global: nil), audit: log)
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        _ = await attempt(harness, "nobody@example.org", "x")
        let session = try await harness.signIn("pat@example.org", account)
        for _ in 0..<3 { _ = await attempt(harness, "pat@example.org", "wrong") }
        try await harness.flow.signOut(session)
        try await log.flush()
        let events = sink.allEntries.compactMap { entry -> AuditEvent? in
            if case .record(let record) = entry { record.event } else { nil }
        }
        let summary = events.map { "\($0.kind.rawValue):\($0.actorID ?? "-"):\($0.reason ?? "-")" }
        #expect(summary.contains("login.failed:-:unknown-account"))
        #expect(summary.contains("session.created:acct-pat:password-verified"))
        #expect(summary.contains("mfa.verified:acct-pat:-"))
        #expect(summary.contains("login.succeeded:acct-pat:-"))
        #expect(summary.filter { $0 == "login.failed:acct-pat:wrong-password" }.count == 3)
        #expect(summary.contains("login.failed:acct-pat:locked-out"))
        #expect(summary.contains("session.revoked:acct-pat:signed-out"))
        // Identifiers only: no password, no code, no login name (it may be an e-mail address).
        let text = events.map { "\($0)" }.joined()
        #expect(!text.contains("pat@example.org"))
        #expect(!text.contains(Harness.password))
    }

    @Test(
        "an unusable stored password hash is a backend failure at sign-in, step-up and password change alike",
        arguments: ["sign-in", "step-up", "password change"])
    func unusableStoredHash(step: String) async throws {
        let sink = RecordingAuditSink()
        let chainKey = try AuditChainKey.generate()
        let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: try AuditSigningKey.generate())
        let harness = try Harness(audit: log)
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let session = try await harness.signIn("pat@example.org", account)
        harness.accounts.update("acct-pat") { $0.passwordHash = "$argon2id$v=19$m=4096,t=1,p=1$not-base64!$x" }
        await #expect(throws: AuthenticationError.rejected) {
            switch step {
            case "sign-in":
                _ = try await harness.flow.signIn(
                    loginName: "pat@example.org", password: Harness.password, clientAddress: "203.0.113.5")
            case "step-up":
                _ = try await harness.flow.stepUp(
                    session, password: Harness.password, secondFactor: .totp(try harness.code(for: account)),
                    clientAddress: "203.0.113.5")
            default:
                _ = try await harness.flow.changePassword(
                    session, currentPassword: Harness.password, newPassword: "Another-Winter-2027!",
                    clientAddress: "203.0.113.5")
            }
        }
        try await log.flush()
        // Audited as what it is, never as the user's wrong password.
        let failure = sink.expectEvent(.loginFailed, outcome: .failure)
        #expect(failure?.reason == AuthenticationFailureReason.backendFailure.rawValue)
        sink.expectNoValue(["pat@example.org", Harness.password])
        try await sink.expectIntactChain(chainKey: chainKey)
    }

    @Test("a sign-in whose audit event cannot be recorded is refused and leaves no session (fail closed)")
    func auditFailClosed() async throws {
        let sink = RecordingAuditSink()
        let log = try await AuditLog(
            sink: sink, chainKey: try AuditChainKey.generate(), signingKey: try AuditSigningKey.generate(),
            configuration: .init(retryInterval: .milliseconds(5)))
        let store = InMemorySessionStore()
        let harness = try Harness(store: store, audit: log)
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        sink.refuseAppends()
        await #expect(throws: AuthenticationError.unavailable) {
            _ = try await harness.signIn("pat@example.org", account)
        }
        #expect(store.allRecords.allSatisfy { $0.state != .authenticated })
    }

    @Test("a lockout store that cannot count refuses every attempt before testing it, right password included")
    func lockoutStoreFailClosed() async throws {
        let store = InMemorySessionStore()
        let harness = try Harness(store: store, throttle: BrokenLockoutStore(failing: .admission))
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        // A wrong guess and a right one get the same answer, so nothing is learnt from an attempt
        // that could not be counted; known and unknown names alike.
        for name in ["pat@example.org", "nobody@example.org"] {
            await #expect(throws: AuthenticationError.unavailable) {
                _ = try await harness.flow.signIn(loginName: name, password: "wrong", clientAddress: "203.0.113.5")
            }
        }
        await #expect(throws: AuthenticationError.unavailable) {
            _ = try await harness.signIn("pat@example.org", account)
        }
        #expect(store.allRecords.isEmpty)
    }

    @Test("a store that cannot reset the counters after a success does not fail the sign-in")
    func lockoutResetFailureIsNotFatal() async throws {
        let harness = try Harness(throttle: BrokenLockoutStore(failing: .reset))
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        let session = try await harness.signIn("pat@example.org", account)
        #expect(session.principal.subject.id == "acct-pat")
    }

    @Test("attempts in flight are counted before the credentials are tested: concurrent guesses stop at the cap")
    func concurrentGuessesStopAtTheCap() async throws {
        let lockout = try LockoutPolicy(freeFailures: 5, maximumConsecutiveFailures: 10)
        let harness = try Harness(
            lockout: lockout, rateLimits: LoginFlow.RateLimits(perAddress: nil, global: nil), memoryKiB: 8_192)
        try await harness.addAccount("pat@example.org", id: "acct-pat")
        let answers = await withTaskGroup(of: String.self) { group in
            for index in 0..<40 {
                group.addTask {
                    do {
                        _ = try await harness.flow.signIn(
                            loginName: "pat@example.org", password: "guess-\(index)",
                            clientAddress: "198.51.100.\(index)")
                        return "signed in"
                    } catch {
                        return "\(error)"
                    }
                }
            }
            return await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
        }
        // Exactly the cap's worth of guesses were tested (all wrong); every other one was held back.
        #expect(answers["\(AuthenticationError.rejected)"] == 10, "\(answers)")
        #expect(answers.values.reduce(0, +) == 40)
        #expect(answers["signed in"] == nil)
    }

    @Test("a recovery code completes the second factor once")
    func recoveryCodeOnce() async throws {
        let codes = InMemoryRecoveryCodeStore()
        let hasher = RecoveryCodeHasher()
        let harness = try Harness(recoveryCodes: (hasher, codes))
        try await harness.addAccount("pat@example.org", id: "acct-pat")
        let issued = try hasher.generate(count: 2)
        await codes.replaceCodes(issued.map(\.hash), accountID: "acct-pat")
        for expected in [true, false] {
            guard
                case .awaitingSecondFactor(let pending) = try await harness.flow.signIn(
                    loginName: "pat@example.org", password: Harness.password, clientAddress: "203.0.113.5")
            else { Issue.record("expected second factor"); return }
            do {
                _ = try await harness.flow.verifySecondFactor(
                    pending, .recoveryCode(issued[0].reveal()), clientAddress: "203.0.113.5")
                #expect(expected, "a used recovery code worked again")
            } catch {
                #expect(!expected && error == .rejected)
            }
        }
        #expect(await codes.remainingCount(accountID: "acct-pat") == 1)
    }
}

/// A lockout store whose database is down for one operation.
final class BrokenLockoutStore: LockoutStore {
    enum Failing { case admission, reset }
    let failing: Failing
    init(failing: Failing) { self.failing = failing }

    func admitAttempt(account: String, address: String) async throws(RateLimitError) -> LockoutAdmission {
        if failing == .admission { throw .storeUnavailable("down") }
        return .admitted(.failureCounted(consecutive: 1, delay: .zero))
    }
    func gate(account: String, address: String) async throws(RateLimitError) -> LoginGate { .open }
    func recordFailure(account: String, address: String) async throws(RateLimitError) -> LockoutEvent {
        throw .storeUnavailable("down")
    }
    func recordSuccess(account: String) async throws(RateLimitError) {
        if failing == .reset { throw .storeUnavailable("down") }
    }
}
