/// Progressive delays and the consecutive-failure cap for password and MFA attempts.
///
/// Two counters work together (NIST SP 800-63B §3.2.2, RFC 4226 §7.3):
/// - **Per account and client address**: after ``freeFailures`` failures from one address, each
///   further failure doubles the wait before that address may try that account again, from
///   ``initialDelay`` up to ``maximumDelay``. A stuffing bot at one address slows to a crawl, while
///   the account owner at another address is not delayed by it.
/// - **Per account, all addresses**: after ``maximumConsecutiveFailures`` (at most 100, the
///   SP 800-63B limit) consecutive failures, the account is locked for ``lockoutDuration``. The lock
///   is temporary and a successful sign-in resets both counters, so an attacker cannot lock a victim
///   out permanently; keeping a victim out costs the attacker the full cap again every period,
///   spread over many addresses that the per-address limits and the audit log make visible.
public struct LockoutPolicy: Sendable, Hashable {
    /// Failures from one address that cost nothing (typos happen).
    public let freeFailures: Int
    /// The delay after the first failure beyond the free ones.
    public let initialDelay: Duration
    /// The longest per-address delay.
    public let maximumDelay: Duration
    /// Consecutive failures (all addresses) that lock the account: 1...100.
    public let maximumConsecutiveFailures: Int
    /// How long the account stays locked.
    public let lockoutDuration: Duration

    /// The defaults: 5 free failures, delays from 1 s doubling to 15 min, lock for 1 h after 100.
    public static let standard = try! LockoutPolicy()

    /// A policy; throws ``RateLimitError/invalidLimit(_:)`` for values outside the documented ranges.
    public init(
        freeFailures: Int = 5,
        initialDelay: Duration = .seconds(1),
        maximumDelay: Duration = .seconds(900),
        maximumConsecutiveFailures: Int = 100,
        lockoutDuration: Duration = .seconds(3_600)
    ) throws(RateLimitError) {
        guard (0...50).contains(freeFailures) else { throw .invalidLimit("freeFailures must be 0...50") }
        guard (1...100).contains(maximumConsecutiveFailures), maximumConsecutiveFailures > freeFailures else {
            throw .invalidLimit("maximumConsecutiveFailures must be 1...100 (SP 800-63B) and above freeFailures")
        }
        guard initialDelay > .zero, maximumDelay >= initialDelay, lockoutDuration > .zero,
            lockoutDuration <= .seconds(86_400)
        else { throw .invalidLimit("delays must be positive, maximumDelay ≥ initialDelay, lockout at most a day") }
        self.freeFailures = freeFailures
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.maximumConsecutiveFailures = maximumConsecutiveFailures
        self.lockoutDuration = lockoutDuration
    }

    /// The wait after the `failures`-th failure from one address.
    func delay(afterFailures failures: Int) -> Int64 {
        guard failures > freeFailures else { return 0 }
        let doublings = min(failures - freeFailures - 1, 40)
        let delay = initialDelay.nanoseconds.multipliedReportingOverflow(by: Int64(1) << doublings)
        return delay.overflow ? maximumDelay.nanoseconds : min(delay.partialValue, maximumDelay.nanoseconds)
    }
}

/// Whether an attempt on an account may proceed now.
public enum LoginGate: Sendable, Hashable {
    /// Try the credentials.
    case open
    /// This address must wait before trying this account again.
    case delayed(retryAfter: Duration)
    /// The account is locked after too many consecutive failures.
    case lockedOut(retryAfter: Duration)

    /// `true` for ``open``.
    public var isOpen: Bool { self == .open }
}

/// What a recorded failure changed, for the audit log and metrics.
public enum LockoutEvent: Sendable, Hashable {
    /// The failure was counted; `delay` is the wait it imposes on the address (zero while free).
    case failureCounted(consecutive: Int, delay: Duration)
    /// The failure reached the cap: the account is locked for the policy's duration.
    case accountLocked(consecutive: Int, duration: Duration)
}
