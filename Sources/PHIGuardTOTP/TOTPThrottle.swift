public import Foundation
internal import Synchronization

/// The rate-limiter hook of ``TOTPVerifier`` (RFC 4226 §7.3: throttle wrong codes per account).
///
/// The verifier calls ``attemptWillBegin(accountID:)`` before it checks a code and, if allowed,
/// ``attemptDidEnd(accountID:succeeded:)`` after. A limiter that should hold across sessions and
/// processes keeps its counters in shared storage; ``InMemoryTOTPThrottle`` is the simple default.
public protocol TOTPThrottle: Sendable {
    /// Decides whether `accountID` may try a code now, and reserves the attempt if so.
    func attemptWillBegin(accountID: String) async -> TOTPThrottleDecision
    /// Reports how a reserved attempt ended (`succeeded` is `false` for wrong, replayed or malformed codes).
    func attemptDidEnd(accountID: String, succeeded: Bool) async
}

/// What a ``TOTPThrottle`` answers before an attempt.
public enum TOTPThrottleDecision: Sendable, Hashable {
    /// Check the code.
    case allowed
    /// Refuse without checking; the account may try again after this many seconds.
    case limited(retryAfter: TimeInterval)
}

/// A per-account failure counter in process memory: after ``maximumFailures`` consecutive failures the
/// account is locked out for ``lockoutDuration``; a success resets the count.
///
/// Attempts in flight count against the limit, so concurrent guesses cannot exceed it. Entries whose
/// lock-out has ended and whose count is zero are dropped, and at most ``maximumTrackedAccounts``
/// accounts are tracked (beyond that, new accounts are limited rather than tracked: failing closed).
public final class InMemoryTOTPThrottle: TOTPThrottle {
    private struct Entry {
        var failures = 0
        var inFlight = 0
        var lockedUntil: Date?
    }

    /// Consecutive failures allowed before a lock-out.
    public let maximumFailures: Int
    /// How long a lock-out lasts, in seconds.
    public let lockoutDuration: TimeInterval
    /// The most accounts tracked at once.
    public let maximumTrackedAccounts: Int
    private let now: @Sendable () -> Date
    private let entries = Mutex<[String: Entry]>([:])

    /// A throttle allowing `maximumFailures` (at least 1) consecutive failures, then locking the account out
    /// for `lockoutDuration` seconds. `now` is injectable for tests.
    public init(
        maximumFailures: Int = 5, lockoutDuration: TimeInterval = 300, maximumTrackedAccounts: Int = 100_000,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.maximumFailures = max(1, maximumFailures)
        self.lockoutDuration = max(0, lockoutDuration)
        self.maximumTrackedAccounts = max(1, maximumTrackedAccounts)
        self.now = now
    }

    /// Allowed unless locked out or the failures plus attempts in flight reach the limit.
    public func attemptWillBegin(accountID: String) async -> TOTPThrottleDecision {
        let now = now()
        return entries.withLock { table in
            var entry = table[accountID] ?? Entry()
            if let until = entry.lockedUntil {
                if until > now { return .limited(retryAfter: until.timeIntervalSince(now)) }
                entry.lockedUntil = nil
                entry.failures = 0
            }
            guard entry.failures + entry.inFlight < maximumFailures else {
                return .limited(retryAfter: lockoutDuration)
            }
            if table[accountID] == nil, table.count >= maximumTrackedAccounts {
                table = table.filter {
                    $0.value.inFlight > 0 || $0.value.failures > 0 || ($0.value.lockedUntil ?? now) > now
                }
                guard table.count < maximumTrackedAccounts else { return .limited(retryAfter: lockoutDuration) }
            }
            entry.inFlight += 1
            table[accountID] = entry
            return .allowed
        }
    }

    /// Resets the count on success; counts a failure and locks out at the limit otherwise.
    public func attemptDidEnd(accountID: String, succeeded: Bool) async {
        let now = now()
        entries.withLock { table in
            guard var entry = table[accountID] else { return }
            entry.inFlight = max(0, entry.inFlight - 1)
            if succeeded {
                entry.failures = 0
            } else {
                entry.failures += 1
                if entry.failures >= maximumFailures { entry.lockedUntil = now.addingTimeInterval(lockoutDuration) }
            }
            if entry.failures == 0, entry.inFlight == 0, entry.lockedUntil == nil {
                table.removeValue(forKey: accountID)
            } else {
                table[accountID] = entry
            }
        }
    }
}
