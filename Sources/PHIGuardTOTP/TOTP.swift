public import Foundation
internal import PHIGuardCrypto

/// A time-based one-time password credential (RFC 6238): a secret plus its ``TOTPConfiguration``.
///
/// ```swift
/// let totp = TOTP(secret: try TOTPSecret())
/// let now = SystemClock().wallClockSeconds()               // exact integer seconds since 1970
/// let code = try totp.code(unixSeconds: now)                // "042113"
/// switch try totp.verify(submitted, unixSeconds: now, window: 1, after: lastAcceptedStep) {
/// case .accepted(let step): lastAcceptedStep = step       // persist it before signing in
/// case .replayed, .invalid: reject()
/// }
/// ```
///
/// Time steps are 64-bit and times are whole seconds in an `Int64` (the `Date` overloads convert),
/// so dates after 2038, the RFC's year-2603 row and every time up to `Int64.max` seconds get the exact
/// step. For replay
/// protection shared between sessions and processes use ``TOTPVerifier`` with a ``TOTPReplayStore``.
public struct TOTP: Sendable {
    /// The verification windows accepted: ±0 to ±10 steps.
    public static let allowedWindows = 0...10

    /// The shared secret.
    public let secret: TOTPSecret
    /// The algorithm, digits and period.
    public let configuration: TOTPConfiguration
    /// The keyed HMAC state, built once: the key schedule would otherwise dominate a verification.
    private let function: OneTimePasswordFunction

    /// A TOTP credential; the standard configuration unless given another.
    ///
    /// The HMAC key schedule is computed here, once. Like any swift-crypto HMAC, the keyed state lives
    /// in ordinary memory for as long as this value does: create a `TOTP` when you need to verify,
    /// and let it go afterwards, rather than keeping one per account in a long-lived cache.
    public init(secret: TOTPSecret, configuration: TOTPConfiguration = .standard) {
        self.secret = secret
        self.configuration = configuration
        function = OneTimePasswordFunction(
            secret: secret, algorithm: configuration.algorithm, digits: configuration.digits)
    }

    /// The time step (T in RFC 6238 §4.2, with T0 = 0) that contains `unixSeconds`, seconds since
    /// 1970-01-01 00:00 UTC: exact integer arithmetic for every time from 0 to `Int64.max`.
    ///
    /// - Throws: ``TOTPError/timeOutOfRange`` for a negative time.
    public func timeStep(unixSeconds: Int64) throws(TOTPError) -> UInt64 {
        guard unixSeconds >= 0 else { throw .timeOutOfRange }
        return UInt64(unixSeconds) / UInt64(configuration.period)
    }

    /// The time step (T in RFC 6238 §4.2, with T0 = 0) that contains `date`.
    ///
    /// A `Date` holds its time as a floating-point number of seconds, exact to the second only up to
    /// 2^53 s (and Foundation shifts it by the 2001 reference date, which rounds earlier): the step is
    /// exact for the time the `Date` holds, but for exact times use ``timeStep(unixSeconds:)`` with an
    /// integer reading such as `PHIGuardClock.wallClockSeconds()`.
    ///
    /// - Throws: ``TOTPError/timeOutOfRange`` for a date before 1970, at or after 2^63 s, or NaN.
    public func timeStep(at date: Date) throws(TOTPError) -> UInt64 {
        try timeStep(unixSeconds: Self.unixSeconds(date))
    }

    /// Whole seconds of `date` since 1970 (rounded down), or `Int64.min` for a date no step can
    /// contain (before 1970, at or after 2^63 s, NaN), which ``timeStep(unixSeconds:)`` refuses.
    /// The conversion from a whole `Double` below 2^63 to `Int64` is exact.
    static func unixSeconds(_ date: Date) -> Int64 {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        // 2^63 is exactly representable; anything at or beyond it (or NaN) cannot be a step.
        guard seconds >= 0, seconds < 0x1p63 else { return Int64.min }
        return Int64(seconds)
    }

    /// The code for time step `step`, zero-padded.
    public func code(forStep step: UInt64) -> String {
        function.code(counter: step)
    }

    /// The code valid at `unixSeconds` (seconds since 1970, exact), zero-padded.
    public func code(unixSeconds: Int64) throws(TOTPError) -> String {
        code(forStep: try timeStep(unixSeconds: unixSeconds))
    }

    /// The code valid at `date`, zero-padded (see ``timeStep(at:)`` on the precision of a `Date`).
    public func code(at date: Date) throws(TOTPError) -> String {
        code(forStep: try timeStep(at: date))
    }

    /// Checks `code` against the steps from `window` before to `window` after the one containing `date`,
    /// without replay protection. Returns the matching step, or `nil`.
    ///
    /// Prefer ``verify(_:at:window:after:)`` (or ``TOTPVerifier``): RFC 6238 §5.2 forbids accepting a
    /// code twice.
    public func verify(_ code: String, at date: Date, window: Int = 1) throws(TOTPError) -> UInt64? {
        try verify(code, unixSeconds: Self.unixSeconds(date), window: window)
    }

    /// ``verify(_:at:window:)`` at `unixSeconds`, seconds since 1970 (exact).
    public func verify(_ code: String, unixSeconds: Int64, window: Int = 1) throws(TOTPError) -> UInt64? {
        if case .accepted(let step) = try verify(code, unixSeconds: unixSeconds, window: window, after: nil) {
            return step
        }
        return nil
    }

    /// Checks `code` against the steps within ±`window` of `date`, refusing any step at or before
    /// `lastAcceptedStep`: ``verify(_:unixSeconds:window:after:)`` at the date's whole seconds (see
    /// ``timeStep(at:)`` on the precision of a `Date`).
    public func verify(_ code: String, at date: Date, window: Int = 1, after lastAcceptedStep: UInt64?)
        throws(TOTPError) -> TOTPMatch
    {
        try verify(code, unixSeconds: Self.unixSeconds(date), window: window, after: lastAcceptedStep)
    }

    /// Checks `code` against the steps within ±`window` of the one containing `unixSeconds` (seconds
    /// since 1970, exact integer arithmetic), refusing any step at or before `lastAcceptedStep`.
    ///
    /// The code's length and characters are checked first, so a huge or non-numeric input is rejected
    /// with ``TOTPError/malformedCode(_:)`` before any HMAC is computed. Then every candidate in the
    /// window is computed and compared in constant time (`sodium_memcmp`), with no early exit, so the
    /// timing does not tell which step matched.
    ///
    /// - Returns: ``TOTPMatch/accepted(step:)`` with the earliest matching step after `lastAcceptedStep`
    ///   (persist it as the new last accepted step), ``TOTPMatch/replayed`` if the code matches only steps
    ///   at or before it, or ``TOTPMatch/invalid``.
    /// - Throws: ``TOTPError/invalidWindow(_:)``, ``TOTPError/malformedCode(_:)``, or
    ///   ``TOTPError/timeOutOfRange`` for a negative time.
    public func verify(_ code: String, unixSeconds: Int64, window: Int = 1, after lastAcceptedStep: UInt64?)
        throws(TOTPError) -> TOTPMatch
    {
        guard Self.allowedWindows.contains(window) else { throw .invalidWindow(window) }
        let submitted = try Self.packedDigits(code, count: configuration.digits.rawValue)
        let current = try timeStep(unixSeconds: unixSeconds)
        let first = current >= UInt64(window) ? current - UInt64(window) : 0
        let (last, overflow) = current.addingReportingOverflow(UInt64(window))
        let final = overflow ? UInt64.max : last
        return Self.match(
            submitted: submitted, steps: first...final, after: lastAcceptedStep, function: function)
    }

    /// Every step in `steps` is computed and compared; the selection below uses masks, not branches,
    /// so the number of operations is the same whichever step (if any) matches.
    static func match(
        submitted: UInt64, steps: ClosedRange<UInt64>, after lastAcceptedStep: UInt64?,
        function: OneTimePasswordFunction
    ) -> TOTPMatch {
        let floor = lastAcceptedStep ?? 0
        let anyStepIsNew: UInt64 = lastAcceptedStep == nil ? 1 : 0
        var submittedBytes = submitted
        var acceptedStep: UInt64 = 0
        var found: UInt64 = 0  // all ones once a new matching step was selected
        var matchedOld: UInt64 = 0  // non-zero if a step at or before lastAcceptedStep matched
        for step in steps {
            var candidate = OneTimePasswordFunction.asciiDigits(
                function.value(counter: step), count: function.digits.rawValue)
            let equal: UInt64 = withUnsafeBytes(of: &candidate) { candidateBytes in
                withUnsafeBytes(of: &submittedBytes) { submittedBuffer in
                    Sodium.constantTimeEqual(candidateBytes, submittedBuffer) ? 1 : 0
                }
            }
            let isNew = anyStepIsNew | (step > floor ? 1 : 0)
            let take = (0 &- (equal & isNew)) & ~found
            acceptedStep = (acceptedStep & ~take) | (step & take)
            found |= take
            matchedOld |= equal & (isNew ^ 1)
        }
        if found != 0 { return .accepted(step: acceptedStep) }
        return matchedOld != 0 ? .replayed : .invalid
    }

    /// Checks length and characters (cheaply, before any HMAC) and packs the digits like
    /// ``OneTimePasswordFunction/asciiDigits(_:count:)``.
    static func packedDigits(_ code: String, count: Int) throws(TOTPError) -> UInt64 {
        let utf8 = code.utf8
        guard utf8.count == count else { throw .malformedCode(.length) }
        var packed: UInt64 = 0
        for (index, byte) in utf8.enumerated() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw .malformedCode(.nonDigit) }
            packed |= UInt64(byte) << UInt64(index * 8)
        }
        return packed.littleEndian
    }
}

/// The outcome of ``TOTP/verify(_:at:window:after:)``.
public enum TOTPMatch: Sendable, Hashable {
    /// The code matches this step, which is later than the last accepted one: persist it.
    case accepted(step: UInt64)
    /// The code matches only steps at or before the last accepted one (RFC 6238 §5.2: refuse it).
    case replayed
    /// The code matches no step in the window.
    case invalid
}
