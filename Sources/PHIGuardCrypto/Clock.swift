public import Foundation

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The one time source of PHIGuard: sessions, lockout and rate limits, TOTP, break-glass grants,
/// time-of-day rules and audit event times all read it, so a test (or an app with its own notion of
/// time) injects a single clock and every component agrees.
///
/// It gives two readings:
/// - the **wall clock**, nanoseconds since 1970-01-01 00:00 UTC: for everything that is recorded or
///   stored (session expiry, audit times, the lockout and rate-limit tables of SQLite and
///   PostgreSQL), because it means the same after a restart and on another machine;
/// - the **monotonic clock**, nanoseconds from an arbitrary origin: for intervals measured in
///   process memory (the in-memory rate limiter), because it never jumps when the wall clock is set.
///
/// ```swift
/// struct OffsetClock: PHIGuardClock {
///     let offset: Int64
///     func wallClockNanoseconds() -> Int64 { SystemClock().wallClockNanoseconds() + offset }
///     func monotonicNanoseconds() -> Int64 { SystemClock().monotonicNanoseconds() }
/// }
/// ```
///
/// Production code uses ``SystemClock``; tests use ``ManualClock``.
public protocol PHIGuardClock: Sendable {
    /// The wall-clock time in whole nanoseconds since 1970-01-01 00:00 UTC (an exact integer, no
    /// floating-point rounding).
    func wallClockNanoseconds() -> Int64

    /// A monotonic reading in nanoseconds: it never goes back, and only differences between two
    /// readings mean anything.
    func monotonicNanoseconds() -> Int64
}

extension PHIGuardClock {
    /// The wall-clock reading as a `Date`.
    public var now: Date { Date(wallClockNanoseconds: wallClockNanoseconds()) }

    /// The wall-clock reading in whole seconds since 1970-01-01 00:00 UTC, rounded down: an exact
    /// integer (no floating-point step), for APIs that count in seconds such as TOTP.
    public func wallClockSeconds() -> Int64 {
        let (seconds, remainder) = wallClockNanoseconds().quotientAndRemainder(dividingBy: 1_000_000_000)
        return remainder < 0 ? seconds - 1 : seconds
    }
}

/// The operating system's clocks: `CLOCK_REALTIME` for the wall reading, `CLOCK_MONOTONIC` for the
/// monotonic one. The default clock of every PHIGuard component.
public struct SystemClock: PHIGuardClock {
    /// The system clock.
    public init() {}

    /// `CLOCK_REALTIME`, in nanoseconds since 1970.
    public func wallClockNanoseconds() -> Int64 { Self.read(CLOCK_REALTIME) }

    /// `CLOCK_MONOTONIC`, in nanoseconds (it does not jump when the wall clock is set).
    public func monotonicNanoseconds() -> Int64 { Self.read(CLOCK_MONOTONIC) }

    private static func read(_ clock: clockid_t) -> Int64 {
        var now = timespec()
        clock_gettime(clock, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

/// A clock that moves only when told to: for tests of lifetimes, delays, lockouts and limits, and for
/// deciding a request "as of" a given time.
///
/// Both readings move together, so a component that reads the monotonic clock (the in-memory rate
/// limiter) and one that reads the wall clock (sessions, stores, audit) see the same time pass.
///
/// ```swift
/// let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
/// let flow = try LoginFlow(…, clock: clock)
/// clock.advance(by: .seconds(15 * 60))  // past the idle timeout
/// ```
public final class ManualClock: PHIGuardClock {
    private struct Readings {
        var wall: Int64
        var monotonic: Int64
    }

    /// Where a clock created without arguments stands: 2027-01-15 08:00:00 UTC.
    public static let defaultStart: Int64 = 1_800_000_000 * 1_000_000_000

    private let readings: Locked<Readings>

    /// A clock whose wall reading is `wallClockNanoseconds` (since 1970) and whose monotonic reading
    /// is `monotonicNanoseconds`.
    public init(wallClockNanoseconds: Int64 = ManualClock.defaultStart, monotonicNanoseconds: Int64 = 1_000_000_000_000)
    {
        readings = Locked(Readings(wall: wallClockNanoseconds, monotonic: monotonicNanoseconds))
    }

    /// A clock whose wall reading is `date` (to the nanosecond Foundation can represent).
    public convenience init(_ date: Date) {
        self.init(wallClockNanoseconds: date.nanosecondsSince1970)
    }

    /// The current wall reading.
    public func wallClockNanoseconds() -> Int64 { readings.withLock { $0.wall } }

    /// The current monotonic reading.
    public func monotonicNanoseconds() -> Int64 { readings.withLock { $0.monotonic } }

    /// Moves both readings forward by `duration` (a negative duration is treated as zero: the
    /// monotonic reading never goes back).
    public func advance(by duration: Duration) {
        let nanoseconds = max(0, duration.nanoseconds)
        readings.withLock {
            $0.wall += nanoseconds
            $0.monotonic += nanoseconds
        }
    }

    /// Sets the wall reading to `date`. The monotonic reading moves forward by the same amount when
    /// `date` is later, and stays where it is when `date` is earlier (as when a system's wall clock
    /// is set back).
    public func set(_ date: Date) {
        set(wallClockNanoseconds: date.nanosecondsSince1970)
    }

    /// Sets the wall reading to `wallClockNanoseconds` since 1970; the monotonic reading moves as in
    /// ``set(_:)``.
    public func set(wallClockNanoseconds: Int64) {
        readings.withLock {
            $0.monotonic += max(0, wallClockNanoseconds - $0.wall)
            $0.wall = wallClockNanoseconds
        }
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating at `Int64.min` and `Int64.max`.
    package var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? Int64.min : Int64.max }
        return scaled.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }

    /// The duration in seconds, as a `TimeInterval` (for `Date` arithmetic): the one conversion from
    /// `Duration` to seconds in the package.
    package var seconds: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

extension Date {
    /// A date `nanoseconds` after 1970-01-01 00:00 UTC.
    package init(wallClockNanoseconds nanoseconds: Int64) {
        let (seconds, fraction) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        self.init(timeIntervalSince1970: Double(seconds) + Double(fraction) / 1e9)
    }

    /// Nanoseconds since 1970-01-01 00:00 UTC, rounded to the nearest and saturating. Whole seconds
    /// and the fraction are converted apart, so no precision is lost to a product near 10^18.
    package var nanosecondsSince1970: Int64 {
        let interval = timeIntervalSince1970
        guard interval.isFinite, abs(interval) < 9.2e9 else { return interval < 0 ? Int64.min : Int64.max }
        let seconds = interval.rounded(.down)
        return Int64(seconds) * 1_000_000_000 + Int64(((interval - seconds) * 1e9).rounded())
    }

    /// `duration` later.
    package func adding(_ duration: Duration) -> Date { addingTimeInterval(duration.seconds) }

    /// A date `value` microseconds after 1970 (the stores keep times as whole microseconds).
    package init(microsecondsSince1970 value: Int64) {
        let (seconds, fraction) = value.quotientAndRemainder(dividingBy: 1_000_000)
        self.init(timeIntervalSince1970: TimeInterval(seconds) + TimeInterval(fraction) / 1_000_000)
    }

    /// The microseconds a `PHIGuardClock` reading can map to (±(2^63 − 1) ns, the years 1677 to 2262).
    package static let storableMicroseconds: ClosedRange<Int64> = (-Int64.max / 1_000)...(Int64.max / 1_000)

    /// A date read from a store as `value` microseconds since 1970, or `nil` when no clock reading could
    /// have produced it (outside ``storableMicroseconds``): the store then reports a corrupt row.
    package init?(storedMicroseconds value: Int64) {
        guard Self.storableMicroseconds.contains(value) else { return nil }
        self.init(microsecondsSince1970: value)
    }

    /// Whole microseconds since 1970: exact for every date with a whole number of microseconds, within
    /// half a microsecond for others; clamped to the `Int64` range.
    package var microsecondsSince1970: Int64 {
        let value = (timeIntervalSince1970 * 1_000_000).rounded()
        guard value.isFinite else { return value > 0 ? .max : .min }
        if value >= 0x1p63 { return .max }  // 2^63: one past Int64.max
        if value < -0x1p63 { return .min }
        return Int64(value)
    }
}
