import Foundation
import PHIGuardRateLimit
import PHIGuardTOTP
import Synchronization
import Testing

@Suite("TOTP verification window and input checks")
struct TOTPVerifyTests {
    let totp: TOTP
    let now = Date(timeIntervalSince1970: 1_700_000_015)  // step 56,666,667
    var step: UInt64 { 56_666_667 }

    init() throws {
        totp = TOTP(secret: try TOTPSecret())
    }

    @Test("The current step and ±window steps match; steps outside do not")
    func window() throws {
        #expect(try totp.timeStep(at: now) == step)
        for offset: Int64 in -3...3 {
            let candidate = UInt64(Int64(step) + offset)
            let code = totp.code(forStep: candidate)
            let expected: UInt64? = abs(offset) <= 1 ? candidate : nil
            // A 6-digit code may collide with another step's code by chance (about 1 in 10^6 per step);
            // accept the collision only if it really is one.
            let result = try totp.verify(code, at: now, window: 1)
            if result != expected {
                let collision = try #require(result)
                #expect(totp.code(forStep: collision) == code)
            }
            #expect(try totp.verify(code, at: now, window: 3) != nil)
        }
        #expect(try totp.verify(totp.code(forStep: step), at: now, window: 0) == step)
    }

    @Test("A wrong code is not accepted")
    func wrongCode() throws {
        let right = totp.code(forStep: step)
        let wrong = String(format: "%06d", (Int(right)! + 1) % 1_000_000)
        // Only a chance collision with a neighbouring step could match.
        if let matched = try totp.verify(wrong, at: now, window: 1) {
            #expect(totp.code(forStep: matched) == wrong)
        }
        #expect(try totp.verify(wrong, at: now, window: 0) == nil)
    }

    @Test(
        "Malformed codes are rejected before any HMAC with typed errors",
        arguments: [
            ("", MalformedCodeReason.length), ("12345", .length), ("1234567", .length), ("12345a", .nonDigit),
            ("123 45", .nonDigit), ("-12345", .nonDigit), ("１２３４５６", .length), ("12345\u{0}", .nonDigit),
        ])
    func malformedCode(code: String, reason: MalformedCodeReason) {
        #expect(throws: TOTPError.malformedCode(reason)) { try totp.verify(code, at: now) }
    }

    @Test("A 10 MB code is rejected cheaply")
    func hugeCode() {
        let huge = String(repeating: "1", count: 10_000_000)
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            #expect(throws: TOTPError.malformedCode(.length)) { try totp.verify(huge, at: now) }
        }
        #expect(elapsed < .milliseconds(50))
    }

    @Test("Windows and periods outside the bounds are typed errors")
    func bounds() throws {
        let code = totp.code(forStep: step)
        #expect(throws: TOTPError.invalidWindow(11)) { try totp.verify(code, at: now, window: 11) }
        #expect(throws: TOTPError.invalidWindow(-1)) { try totp.verify(code, at: now, window: -1) }
        #expect(throws: TOTPError.invalidPeriod(0)) { try TOTPConfiguration(period: 0) }
        #expect(throws: TOTPError.invalidPeriod(3_601)) { try TOTPConfiguration(period: 3_601) }
        #expect(throws: TOTPError.timeOutOfRange) { try totp.code(at: Date(timeIntervalSince1970: -1)) }
        #expect(throws: TOTPError.timeOutOfRange) { try totp.code(at: Date(timeIntervalSince1970: 1e19)) }
        #expect(throws: TOTPError.timeOutOfRange) { try totp.code(at: Date(timeIntervalSince1970: .nan)) }
    }

    @Test("Step 0 with a window does not underflow; dates past 2038 and in 2603 work")
    func edges() throws {
        let epoch = Date(timeIntervalSince1970: 5)
        #expect(try totp.verify(totp.code(forStep: 0), at: epoch, window: 2) == 0)
        #expect(try totp.verify(totp.code(forStep: 1), at: epoch, window: 2) == 1)
        for seconds in [2_147_483_648.0, 20_000_000_000.0, 100_000_000_000_000.0] {
            let date = Date(timeIntervalSince1970: seconds)
            let code = try totp.code(at: date)
            #expect(try totp.verify(code, at: date, window: 0) == UInt64(seconds) / 30)
        }
    }

    @Test("Secrets: random sizes, bounds, Base32 import")
    func secrets() throws {
        #expect(try TOTPSecret().byteCount == 20)
        #expect(try TOTPSecret(randomBitCount: 128).byteCount == 16)
        #expect(try TOTPSecret(randomBitCount: 256).byteCount == 32)
        #expect(throws: TOTPError.invalidSecretBitCount(120)) { try TOTPSecret(randomBitCount: 120) }
        #expect(throws: TOTPError.invalidSecretBitCount(161)) { try TOTPSecret(randomBitCount: 161) }
        #expect(throws: TOTPError.invalidSecretLength(byteCount: 15)) {
            try TOTPSecret(bytes: [UInt8](repeating: 1, count: 15))
        }
        #expect(throws: TOTPError.invalidSecretLength(byteCount: 1_025)) {
            try TOTPSecret(bytes: [UInt8](repeating: 1, count: 1_025))
        }
        #expect(throws: TOTPError.malformedSecret(.invalidCharacter(offset: 0))) { try TOTPSecret(base32: "1AAA") }
        let secret = try TOTPSecret()
        #expect(try TOTPSecret(base32: secret.revealBase32().lowercased()) == secret)
        #expect(try TOTPSecret() != secret)
        // Two random secrets differ, and the reveal is 32 Base32 characters for 160 bits.
        #expect(secret.revealBase32().count == 32)
    }
}

@Suite("Replay protection (RFC 6238 §5.2)")
struct ReplayTests {
    let totp: TOTP
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    init() throws {
        totp = TOTP(secret: try TOTPSecret())
    }

    @Test("Stateless: a step at or before the last accepted one is refused as replayed")
    func stateless() throws {
        let step = try totp.timeStep(at: now)
        let code = totp.code(forStep: step)
        #expect(try totp.verify(code, at: now, after: nil) == .accepted(step: step))
        #expect(try totp.verify(code, at: now, after: step) == .replayed)
        #expect(try totp.verify(code, at: now, after: step + 1) == .replayed)
        #expect(try totp.verify(code, at: now, after: step - 1) == .accepted(step: step))
        // A code from step N after step N+1 was accepted is refused.
        let earlier = totp.code(forStep: step - 1)
        if earlier != code {
            #expect(try totp.verify(earlier, at: now, after: step) == .replayed)
        }
    }

    @Test("Verifier: the same code twice, the second is rejected")
    func sameCodeTwice() async throws {
        let verifier = try TOTPVerifier(replayStore: InMemoryTOTPReplayStore())
        let code = try totp.code(at: now)
        let step = try totp.timeStep(at: now)
        #expect(try await verifier.verify(code, accountID: "a", totp: totp, at: now) == .accepted(step: step))
        #expect(try await verifier.verify(code, accountID: "a", totp: totp, at: now) == .replayed)
        // Another account has its own state.
        #expect(try await verifier.verify(code, accountID: "b", totp: totp, at: now) == .accepted(step: step))
    }

    @Test("Verifier: a code from step N after step N+1 was accepted is rejected")
    func olderStepAfterNewer() async throws {
        let store = InMemoryTOTPReplayStore()
        let verifier = try TOTPVerifier(replayStore: store)
        let step = try totp.timeStep(at: now)
        let newer = totp.code(forStep: step + 1)
        let older = totp.code(forStep: step)
        try #require(newer != older)
        #expect(try await verifier.verify(newer, accountID: "a", totp: totp, at: now) == .accepted(step: step + 1))
        #expect(try await verifier.verify(older, accountID: "a", totp: totp, at: now) == .replayed)
        #expect(await store.lastAcceptedStep(accountID: "a") == step + 1)
    }

    @Test("100 concurrent verifications of one code: exactly one is accepted")
    func concurrent() async throws {
        let verifier = try TOTPVerifier(replayStore: InMemoryTOTPReplayStore(), lockout: nil)
        let code = try totp.code(at: now)
        let results = try await withThrowingTaskGroup(of: TOTPVerificationResult.self) { group in
            for _ in 0..<100 {
                group.addTask { try await verifier.verify(code, accountID: "shared", totp: totp, at: now) }
            }
            var collected: [TOTPVerificationResult] = []
            for try await result in group { collected.append(result) }
            return collected
        }
        #expect(results.count == 100)
        #expect(results.filter(\.isAccepted).count == 1)
        #expect(results.filter { $0 == .replayed }.count == 99)
    }

    @Test("100 concurrent compare-and-set calls on the store: exactly one wins")
    func storeCompareAndSet() async {
        let store = InMemoryTOTPReplayStore()
        let wins = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<100 { group.addTask { await store.advance(accountID: "x", to: 42) } }
            var count = 0
            for await won in group where won { count += 1 }
            return count
        }
        #expect(wins == 1)
        #expect(await store.advance(accountID: "x", to: 41) == false)
        #expect(await store.advance(accountID: "x", to: 43) == true)
    }

    @Test("A failing replay store is a typed error naming only the error type, and nothing is accepted")
    func failingStore() async throws {
        struct Broken: TOTPReplayStore {
            struct Failure: Error {}
            func lastAcceptedStep(accountID: String) async throws -> UInt64? { throw Failure() }
            func advance(accountID: String, to step: UInt64) async throws -> Bool { throw Failure() }
        }
        let verifier = try TOTPVerifier(replayStore: Broken())
        await #expect(throws: TOTPVerifierError.replayStore("Failure")) {
            try await verifier.verify(try totp.code(at: now), accountID: "a", totp: totp, at: now)
        }
    }
}

@Suite("Throttling (RFC 4226 §7.3)")
struct ThrottleTests {
    let totp: TOTP
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    init() throws {
        totp = TOTP(secret: try TOTPSecret())
    }

    func wrongCode(at date: Date) throws -> String {
        String(format: "%06d", (Int(try totp.code(at: date))! + 500_000) % 1_000_000)
    }

    @Test("After 5 failures the account is throttled, even for the right code, until the lock-out ends")
    func lockout() async throws {
        let clock = ManualClock(now)
        let lockout = InMemoryLockoutStore(policy: TOTPVerifier.defaultLockoutPolicy, clock: clock)
        let verifier = try TOTPVerifier(replayStore: InMemoryTOTPReplayStore(), lockout: lockout)
        let right = try totp.code(at: now)
        let wrong = try wrongCode(at: now)
        for _ in 0..<4 { #expect(try await verifier.verify(wrong, accountID: "a", totp: totp, at: now) == .invalid) }
        // A malformed code counts as a failure too.
        await #expect(throws: TOTPVerifierError.totp(.malformedCode(.nonDigit))) {
            try await verifier.verify("abcdef", accountID: "a", totp: totp, at: now)
        }
        guard case .throttled(let retryAfter) = try await verifier.verify(right, accountID: "a", totp: totp, at: now)
        else {
            Issue.record("expected throttling")
            return
        }
        #expect(retryAfter > .zero && retryAfter <= .seconds(300))
        // Other accounts are not affected.
        #expect(try await verifier.verify(right, accountID: "b", totp: totp, at: now).isAccepted)
        clock.advance(by: .seconds(301))
        #expect(try await verifier.verify(right, accountID: "a", totp: totp, at: now).isAccepted)
    }

    @Test("A success resets the failure count")
    func successResets() async throws {
        let policy = try LockoutPolicy(
            freeFailures: 1, initialDelay: .seconds(1), maximumDelay: .seconds(1), maximumConsecutiveFailures: 2,
            lockoutDuration: .seconds(300))
        let verifier = try TOTPVerifier(
            replayStore: InMemoryTOTPReplayStore(), lockout: InMemoryLockoutStore(policy: policy, clock: ManualClock()))
        // Each success uses the code of a later step (codes are single-use).
        let later = now.addingTimeInterval(30)
        #expect(try await verifier.verify(try wrongCode(at: now), accountID: "a", totp: totp, at: now) == .invalid)
        #expect(try await verifier.verify(try totp.code(at: now), accountID: "a", totp: totp, at: now).isAccepted)
        #expect(try await verifier.verify(try wrongCode(at: later), accountID: "a", totp: totp, at: later) == .invalid)
        #expect(try await verifier.verify(try wrongCode(at: later), accountID: "a", totp: totp, at: later) == .invalid)
        guard
            case .throttled = try await verifier.verify(try totp.code(at: later), accountID: "a", totp: totp, at: later)
        else {
            Issue.record("expected a lock-out after two consecutive failures")
            return
        }
    }

    @Test("Attempts in flight count: 50 concurrent guesses get at most 5 checks")
    func concurrentGuesses() async throws {
        let verifier = try TOTPVerifier(replayStore: InMemoryTOTPReplayStore())
        let wrong = try wrongCode(at: now)
        let checked = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    guard case .throttled = try await verifier.verify(wrong, accountID: "a", totp: totp, at: now)
                    else { return true }
                    return false
                }
            }
            var count = 0
            for try await wasChecked in group where wasChecked { count += 1 }
            return count
        }
        #expect(checked == 5)
    }

    @Test("A failing lockout store refuses the attempt without checking the code")
    func failingLockoutStore() async throws {
        struct Down: LockoutStore {
            func admitAttempt(account: String, address: String) async throws(RateLimitError) -> LockoutAdmission {
                throw .storeUnavailable("down")
            }
            func gate(account: String, address: String) async throws(RateLimitError) -> LoginGate {
                throw .storeUnavailable("down")
            }
            func recordFailure(account: String, address: String) async throws(RateLimitError) -> LockoutEvent {
                throw .storeUnavailable("down")
            }
            func recordSuccess(account: String) async throws(RateLimitError) { throw .storeUnavailable("down") }
        }
        let replay = InMemoryTOTPReplayStore()
        let verifier = try TOTPVerifier(replayStore: replay, lockout: Down())
        let result = try await verifier.verify(try totp.code(at: now), accountID: "a", totp: totp, at: now)
        #expect(result == .throttled(retryAfter: .seconds(1)))
        #expect(await replay.lastAcceptedStep(accountID: "a") == nil)
    }
}
