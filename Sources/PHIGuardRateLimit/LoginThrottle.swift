internal import Synchronization

/// In-memory enforcement of a ``LockoutPolicy``: ask ``gate(account:address:)`` before checking
/// credentials, then report the outcome with ``recordFailure(account:address:)`` or
/// ``recordSuccess(account:)``.
///
/// Use it for both passwords and TOTP codes (RFC 4226 §7.3 asks for throttling of wrong codes per
/// account across sessions). Memory is bounded: at most `maximumAccounts` accounts with failures are
/// tracked; under pressure, only accounts that are neither delayed nor locked and have no more
/// than the free failures are forgotten.
public final class LoginThrottle: Sendable {
    private struct AccountState {
        var consecutiveFailures = 0
        var lockedUntil = Int64.min
        /// Per-address failures and the time before which that address must wait.
        var addresses: [Int: (failures: Int, notBefore: Int64)] = [:]
    }

    /// The policy.
    public let policy: LockoutPolicy
    private let clock: any NanosecondClock
    private let maximumAccounts: Int
    private let accounts = Mutex<[String: AccountState]>([:])
    /// Per-account address entries kept at most (oldest dropped first; they are delays, not the cap).
    private static let maximumAddressesPerAccount = 64

    /// A throttle enforcing `policy` on `clock`, tracking at most `maximumAccounts` accounts.
    public init(
        policy: LockoutPolicy = .standard, clock: any NanosecondClock = MonotonicClock(), maximumAccounts: Int = 100_000
    ) {
        self.policy = policy
        self.clock = clock
        self.maximumAccounts = max(1, maximumAccounts)
    }

    /// Whether `address` may try `account` now.
    public func gate(account: String, address: String) -> LoginGate {
        let now = clock.nanoseconds()
        return accounts.withLock { accounts in
            guard let state = accounts[account] else { return .open }
            if state.lockedUntil > now { return .lockedOut(retryAfter: .nanoseconds(state.lockedUntil - now)) }
            if let entry = state.addresses[address.hashValue], entry.notBefore > now {
                return .delayed(retryAfter: .nanoseconds(entry.notBefore - now))
            }
            return .open
        }
    }

    /// Counts a failed attempt (wrong password, wrong code) by `address` on `account`.
    @discardableResult
    public func recordFailure(account: String, address: String) -> LockoutEvent {
        let now = clock.nanoseconds()
        return accounts.withLock { accounts in
            if accounts[account] == nil, accounts.count >= maximumAccounts { evictSettled(&accounts, now: now) }
            var state = accounts[account] ?? AccountState()
            if state.lockedUntil != Int64.min, state.lockedUntil <= now {
                state = AccountState()  // the lock served its time: start over
            }
            state.consecutiveFailures += 1
            var entry = state.addresses[address.hashValue] ?? (failures: 0, notBefore: Int64.min)
            entry.failures += 1
            let delay = policy.delay(afterFailures: entry.failures)
            entry.notBefore = now + delay
            if state.addresses[address.hashValue] == nil, state.addresses.count >= Self.maximumAddressesPerAccount {
                if let oldest = state.addresses.min(by: { $0.value.notBefore < $1.value.notBefore })?.key {
                    state.addresses[oldest] = nil
                }
            }
            state.addresses[address.hashValue] = entry
            let event: LockoutEvent
            if state.consecutiveFailures >= policy.maximumConsecutiveFailures {
                state.lockedUntil = now + policy.lockoutDuration.nanoseconds
                event = .accountLocked(consecutive: state.consecutiveFailures, duration: policy.lockoutDuration)
            } else {
                event = .failureCounted(consecutive: state.consecutiveFailures, delay: .nanoseconds(delay))
            }
            accounts[account] = state
            return event
        }
    }

    /// A successful sign-in: forgets the account's failures from every address.
    public func recordSuccess(account: String) {
        _ = accounts.withLock { $0.removeValue(forKey: account) }
    }

    /// Drops accounts that are neither locked nor delayed and have no more than the free failures
    /// (forgetting one gives an attacker at most `freeFailures` extra guesses). If none qualifies the
    /// new account is tracked anyway: the bound is exceeded rather than forgetting a limited account,
    /// which would be a bypass.
    private func evictSettled(_ accounts: inout [String: AccountState], now: Int64) {
        let free = policy.freeFailures
        accounts = accounts.filter { _, state in
            state.lockedUntil > now || state.consecutiveFailures > free
                || state.addresses.values.contains { $0.notBefore > now }
        }
    }
}
