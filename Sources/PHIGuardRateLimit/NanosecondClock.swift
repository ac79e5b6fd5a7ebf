internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The time source of the in-memory limiter, injectable so tests control time.
public protocol NanosecondClock: Sendable {
    /// Nanoseconds on a monotonic scale (only differences matter).
    func nanoseconds() -> Int64
}

/// `CLOCK_MONOTONIC`: never jumps with wall-clock changes. The default.
public struct MonotonicClock: NanosecondClock {
    /// The monotonic clock.
    public init() {}

    /// The current monotonic time in nanoseconds.
    public func nanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

/// `CLOCK_REALTIME` in nanoseconds since 1970: the clock of stores whose state outlives the process
/// (the monotonic clock starts again at each boot, so stored times would be meaningless after one).
public struct RealtimeClock: NanosecondClock {
    /// The wall clock.
    public init() {}

    /// The current wall-clock time in nanoseconds since 1970.
    public func nanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

/// A clock that moves only when told to: for tests of limits, delays and lockouts.
public final class ManualClock: NanosecondClock {
    private let now: Atomic<Int64>

    /// A clock standing at `start` nanoseconds.
    public init(start: Int64 = 1_000_000_000_000) {
        now = Atomic(start)
    }

    /// The current manual time.
    public func nanoseconds() -> Int64 { now.load(ordering: .acquiring) }

    /// Moves the clock forward by `duration`.
    public func advance(by duration: Duration) {
        now.add(duration.nanoseconds, ordering: .acquiringAndReleasing)
    }
}
