import Foundation
import PHIGuardTOTP
import Testing

/// TOTP times are whole seconds in an `Int64`, with no floating-point value between the time and the
/// counter (#15 finding 9): a time above 2^53 s, where a `Double` can no longer hold every second, still
/// gets its own step.
@Suite("TOTP at exact integer times")
struct IntegerTimeTests {
    static let twoTo53: Int64 = 1 << 53

    func totp(period: Int) throws -> TOTP {
        TOTP(
            secret: try TOTPSecret(bytes: Array("12345678901234567890".utf8)),
            configuration: try TOTPConfiguration(period: period))
    }

    @Test("2^53 + 1 s with a 1 s period is step 2^53 + 1 (a Double would round it to 2^53)")
    func aboveTwoTo53() throws {
        let totp = try totp(period: 1)
        let hotp = HOTP(secret: totp.secret)
        let time = Self.twoTo53 + 1
        #expect(Double(time) == Double(Self.twoTo53), "the case only means something if a Double rounds it")
        #expect(try totp.timeStep(unixSeconds: time) == UInt64(time))
        #expect(try totp.timeStep(unixSeconds: Self.twoTo53) == UInt64(Self.twoTo53))
        #expect(try totp.code(unixSeconds: time) == hotp.code(counter: UInt64(time)))
        #expect(try totp.code(unixSeconds: time) != totp.code(unixSeconds: Self.twoTo53))
        // The code of 2^53 + 1 is accepted at 2^53 + 1 with window 0 and matched to its own step.
        let code = try totp.code(unixSeconds: time)
        #expect(try totp.verify(code, unixSeconds: time, window: 0) == UInt64(time))
        #expect(try totp.verify(code, unixSeconds: Self.twoTo53, window: 0) == nil)
    }

    @Test("Step boundaries above 2^53 with the standard 30 s period", arguments: [Int64(1) << 53, Int64.max / 2])
    func boundariesWithThirtySeconds(base: Int64) throws {
        let totp = try totp(period: 30)
        // The first second of a step (a multiple of 30) and the last second of the step before it.
        let boundary = (base / 30 + 1) * 30
        #expect(try totp.timeStep(unixSeconds: boundary) == UInt64(boundary / 30))
        #expect(try totp.timeStep(unixSeconds: boundary - 1) == UInt64(boundary / 30) - 1)
        #expect(try totp.code(unixSeconds: boundary) == totp.code(forStep: UInt64(boundary / 30)))
        #expect(try totp.code(unixSeconds: boundary - 1) == totp.code(forStep: UInt64(boundary / 30) - 1))
    }

    @Test("Int64.max s (2^63 − 1) is a valid time: its step, code and a ±10 window work")
    func int64Max() throws {
        let totp = try totp(period: 30)
        let step = UInt64(Int64.max) / 30
        #expect(try totp.timeStep(unixSeconds: .max) == step)
        let code = try totp.code(unixSeconds: .max)
        #expect(code == HOTP(secret: totp.secret).code(counter: step))
        #expect(try totp.verify(code, unixSeconds: .max, window: 10, after: step - 1) == .accepted(step: step))
        #expect(try totp.verify(code, unixSeconds: .max, window: 10, after: step) == .replayed)
        let period1 = try self.totp(period: 1)
        #expect(try period1.timeStep(unixSeconds: .max) == UInt64(Int64.max))
    }

    @Test("Negative times are typed errors; the Date overloads refuse what an Int64 cannot hold")
    func outOfRange() throws {
        let totp = try totp(period: 30)
        #expect(throws: TOTPError.timeOutOfRange) { try totp.timeStep(unixSeconds: -1) }
        #expect(throws: TOTPError.timeOutOfRange) { try totp.code(unixSeconds: .min) }
        #expect(throws: TOTPError.timeOutOfRange) { try totp.verify("123456", unixSeconds: -30, window: 1) }
        #expect(throws: TOTPError.timeOutOfRange) { try totp.timeStep(at: Date(timeIntervalSince1970: 0x1p63)) }
        #expect(throws: TOTPError.timeOutOfRange) { try totp.timeStep(at: Date(timeIntervalSince1970: -0.5)) }
        // A Date converts to its whole seconds: the same step as the integer API where a Double is exact.
        for seconds: Int64 in [0, 59, 1_111_111_109, 20_000_000_000, 1 << 40] {
            #expect(
                try totp.timeStep(at: Date(timeIntervalSince1970: TimeInterval(seconds)))
                    == totp.timeStep(unixSeconds: seconds))
        }
    }

    @Test("wallClockSeconds rounds down exactly, also before 1970 and at the ends of the range")
    func clockSeconds() throws {
        #expect(ManualClock(wallClockNanoseconds: 1_999_999_999).wallClockSeconds() == 1)
        #expect(ManualClock(wallClockNanoseconds: 2_000_000_000).wallClockSeconds() == 2)
        #expect(ManualClock(wallClockNanoseconds: -1).wallClockSeconds() == -1)
        #expect(ManualClock(wallClockNanoseconds: -1_000_000_000).wallClockSeconds() == -1)
        #expect(ManualClock(wallClockNanoseconds: .max).wallClockSeconds() == Int64.max / 1_000_000_000)
        #expect(ManualClock(wallClockNanoseconds: .min).wallClockSeconds() == Int64.min / 1_000_000_000 - 1)
        // The last nanosecond of a TOTP step stays in that step (a Date of it rounds up to the next one).
        let lastNanosecond: Int64 = 1_800_000_000 * 1_000_000_000 - 1
        let clock = ManualClock(wallClockNanoseconds: lastNanosecond)
        #expect(clock.wallClockSeconds() == 1_799_999_999)
        let totp = TOTP(secret: try TOTPSecret(bytes: Array("12345678901234567890".utf8)))
        #expect(try totp.timeStep(unixSeconds: clock.wallClockSeconds()) == 59_999_999)
        #expect(try totp.timeStep(at: clock.now) == 60_000_000, "the Date path this replaces rounds up a step")
    }

    @Test("TOTPVerifier and TOTPEnrollment take exact integer times")
    func verifierAndEnrollment() async throws {
        let totp = try totp(period: 1)
        let time = Self.twoTo53 + 1
        let code = try totp.code(unixSeconds: time)
        let verifier = try TOTPVerifier(replayStore: InMemoryTOTPReplayStore(), window: 0)
        let accepted = try await verifier.verify(code, accountID: "a", totp: totp, unixSeconds: time)
        #expect(accepted == .accepted(step: UInt64(time)))
        let again = try await verifier.verify(code, accountID: "a", totp: totp, unixSeconds: time)
        #expect(again == .replayed)
        await #expect(throws: TOTPVerifierError.totp(.timeOutOfRange)) {
            _ = try await verifier.verify(code, accountID: "b", totp: totp, unixSeconds: -1)
        }
        var enrollment = try TOTPEnrollment(issuer: nil, accountName: "a")
        let first = try enrollment.totp.code(unixSeconds: Int64.max)
        #expect(try enrollment.confirm(first, unixSeconds: Int64.max, window: 0))
        #expect(enrollment.lastAcceptedStep == UInt64(Int64.max) / 30)
    }
}
