internal import Synchronization

/// The in-memory ``LockoutStore``: enforces a ``LockoutPolicy`` in process memory (the embedded
/// default). Call ``admitAttempt(account:address:)`` before checking credentials (it counts the
/// attempt as a failure if it may proceed), and ``recordSuccess(account:)`` when they were right.
///
/// Counters live as long as the process: a service that restarts often, or runs several
/// instances, uses `SQLiteLockoutStore` or `PostgresLockoutStore` instead. Memory is bounded: at
/// most `maximumAccounts` accounts with failures are tracked; under pressure, only settled accounts
/// (neither delayed nor locked, no more than the free failures) are forgotten.
public final class LoginThrottle: LockoutStore {
    private struct AccountState {
        var counters = AccountLockoutCounters.clean
        /// Per-address counters, by the address's hash.
        var addresses: [Int: AddressLockoutCounters] = [:]
    }

    /// The policy.
    public let policy: LockoutPolicy
    private let clock: any NanosecondClock
    private let maximumAccounts: Int
    private let accounts = Mutex<[String: AccountState]>([:])

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
            let state = accounts[account]
            return policy.gate(account: state?.counters, address: state?.addresses[address.hashValue], now: now)
        }
    }

    /// Whether `address` may try `account` now, and if so counts the attempt as a failure at once.
    public func admitAttempt(account: String, address: String) -> LockoutAdmission {
        let now = clock.nanoseconds()
        return accounts.withLock { accounts in
            let state = accounts[account]
            let addressKey = address.hashValue
            let (gate, outcome) = policy.admit(
                account: state?.counters, address: state?.addresses[addressKey], now: now)
            guard let outcome else { return .refused(gate) }
            store(outcome, account: account, addressKey: addressKey, in: &accounts, now: now)
            return .admitted(outcome.event)
        }
    }

    /// Counts a failed attempt (wrong password, wrong code) by `address` on `account`.
    @discardableResult
    public func recordFailure(account: String, address: String) -> LockoutEvent {
        let now = clock.nanoseconds()
        let addressKey = address.hashValue
        return accounts.withLock { accounts in
            let state = accounts[account]
            let outcome = policy.failure(account: state?.counters, address: state?.addresses[addressKey], now: now)
            store(outcome, account: account, addressKey: addressKey, in: &accounts, now: now)
            return outcome.event
        }
    }

    /// A successful sign-in: forgets the account's failures from every address.
    public func recordSuccess(account: String) {
        _ = accounts.withLock { $0.removeValue(forKey: account) }
    }

    private func store(
        _ outcome: LockoutFailureOutcome, account: String, addressKey: Int, in accounts: inout [String: AccountState],
        now: Int64
    ) {
        if accounts[account] == nil, accounts.count >= maximumAccounts { evictSettled(&accounts, now: now) }
        var state = accounts[account] ?? AccountState()
        if outcome.startOver { state.addresses = [:] }
        state.counters = outcome.account
        if state.addresses[addressKey] == nil, state.addresses.count >= LockoutPolicy.maximumAddressesPerAccount,
            let oldest = state.addresses.min(by: { $0.value.notBefore < $1.value.notBefore })?.key
        {
            state.addresses[oldest] = nil
        }
        state.addresses[addressKey] = outcome.address
        accounts[account] = state
    }

    /// Drops settled accounts (``LockoutPolicy`` `isSettled`). If none qualifies the new account is
    /// tracked anyway: the bound is exceeded rather than forgetting a limited account, which would
    /// be a bypass.
    private func evictSettled(_ accounts: inout [String: AccountState], now: Int64) {
        accounts = accounts.filter { _, state in
            let latest = state.addresses.values.map(\.notBefore).max() ?? Int64.min
            return !policy.isSettled(state.counters, latestNotBefore: latest, now: now)
        }
    }
}
