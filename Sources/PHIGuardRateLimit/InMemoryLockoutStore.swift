internal import PHIGuardCrypto

/// The in-memory ``LockoutStore``: enforces a ``LockoutPolicy`` in process memory (the embedded
/// default). Call ``admitAttempt(account:address:)`` before checking credentials (it counts the
/// attempt as a failure if it may proceed), and ``recordSuccess(account:)`` when they were right.
///
/// Counters live as long as the process: a service that restarts often, or runs several
/// instances, uses `SQLiteLockoutStore` or `PostgresLockoutStore` instead. Memory is bounded: at
/// most `maximumAccounts` accounts with failures are tracked; under pressure, only settled accounts
/// (neither delayed nor locked, no more than the free failures) are forgotten.
///
/// Accounts and addresses are keyed by the strings themselves, never by a hash of them: two
/// different keys never share counters (a hash collision would merge them, and `hashValue` is seeded
/// per process besides).
public final class InMemoryLockoutStore: LockoutStore {
    /// What accounts and addresses are stored under: the key itself, so that distinct keys are
    /// distinct entries (a test checks this is not narrowed to a hash).
    typealias StorageKey = String

    private struct AccountState {
        var counters = AccountLockoutCounters.clean
        /// Per-address counters, by the address itself.
        var addresses: [StorageKey: AddressLockoutCounters] = [:]
    }

    /// The policy.
    public let policy: LockoutPolicy
    private let clock: any PHIGuardClock
    private let maximumAccounts: Int
    private let accounts = Locked<[StorageKey: AccountState]>([:])

    /// A store enforcing `policy`, timed by the monotonic reading of `clock` (the counters do not
    /// outlive the process), tracking at most `maximumAccounts` accounts.
    public init(
        policy: LockoutPolicy = .standard, clock: any PHIGuardClock = SystemClock(), maximumAccounts: Int = 100_000
    ) {
        self.policy = policy
        self.clock = clock
        self.maximumAccounts = max(1, maximumAccounts)
    }

    /// Whether `address` may try `account` now.
    public func gate(account: String, address: String) -> LoginGate {
        let now = clock.monotonicNanoseconds()
        return accounts.withLock { accounts in
            let state = accounts[account]
            return policy.gate(account: state?.counters, address: state?.addresses[address], now: now)
        }
    }

    /// Whether `address` may try `account` now, and if so counts the attempt as a failure at once.
    public func admitAttempt(account: String, address: String) -> LockoutAdmission {
        let now = clock.monotonicNanoseconds()
        return accounts.withLock { accounts in
            let state = accounts[account]
            let (gate, outcome) = policy.admit(account: state?.counters, address: state?.addresses[address], now: now)
            guard let outcome else { return .refused(gate) }
            store(outcome, account: account, address: address, in: &accounts, now: now)
            return .admitted(outcome.event)
        }
    }

    /// Counts a failed attempt (wrong password, wrong code) by `address` on `account`.
    @discardableResult
    public func recordFailure(account: String, address: String) -> LockoutEvent {
        let now = clock.monotonicNanoseconds()
        return accounts.withLock { accounts in
            let state = accounts[account]
            let outcome = policy.failure(account: state?.counters, address: state?.addresses[address], now: now)
            store(outcome, account: account, address: address, in: &accounts, now: now)
            return outcome.event
        }
    }

    /// A successful sign-in: forgets the account's failures from every address.
    public func recordSuccess(account: String) {
        _ = accounts.withLock { $0.removeValue(forKey: account) }
    }

    private func store(
        _ outcome: LockoutFailureOutcome, account: String, address: String,
        in accounts: inout [StorageKey: AccountState],
        now: Int64
    ) {
        if accounts[account] == nil, accounts.count >= maximumAccounts { evictSettled(&accounts, now: now) }
        var state = accounts[account] ?? AccountState()
        if outcome.startOver { state.addresses = [:] }
        state.counters = outcome.account
        if state.addresses[address] == nil, state.addresses.count >= LockoutPolicy.maximumAddressesPerAccount,
            let oldest = state.addresses.min(by: { $0.value.notBefore < $1.value.notBefore })?.key
        {
            state.addresses[oldest] = nil
        }
        state.addresses[address] = outcome.address
        accounts[account] = state
    }

    /// Drops settled accounts (``LockoutPolicy`` `isSettled`). If none qualifies the new account is
    /// tracked anyway: the bound is exceeded rather than forgetting a limited account, which would
    /// be a bypass.
    private func evictSettled(_ accounts: inout [StorageKey: AccountState], now: Int64) {
        accounts = accounts.filter { _, state in
            let latest = state.addresses.values.map(\.notBefore).max() ?? Int64.min
            return !policy.isSettled(state.counters, latestNotBefore: latest, now: now)
        }
    }
}
