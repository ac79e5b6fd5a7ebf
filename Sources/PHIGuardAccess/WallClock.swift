public import Foundation

/// Where the engine reads the current time (for break-glass expiry and time-of-day conditions).
///
/// Inject a fixed or stepping clock in tests; production uses ``SystemWallClock``.
public protocol WallClock: Sendable {
    /// The current instant.
    func now() -> Date
}

/// The system's real-time clock.
public struct SystemWallClock: WallClock {
    /// Creates the system clock.
    public init() {}

    /// `Date()`.
    public func now() -> Date { Date() }
}
