/// Where the counters of a ``LockoutPolicy`` live: in process memory (``InMemoryLockoutStore``, the
/// embedded default), in an SQLite file (`SQLiteLockoutStore`, survives a restart) or in PostgreSQL
/// (`PostgresLockoutStore`, shared by every instance, so the consecutive-failure cap holds across
/// all of them).
///
/// Every implementation applies the same rules (see ``LockoutPolicy``), and each call is atomic:
/// concurrent failures on one account are all counted, none is lost.
///
/// Use it for both passwords and second-factor codes (RFC 4226 §7.3 asks for throttling of wrong
/// codes per account across sessions). The safe sequence, which `LoginFlow` follows, is:
/// 1. ``admitAttempt(account:address:)`` before checking the credentials. It checks the gate and,
///    if the attempt may proceed, **counts it as a failure in the same atomic step**. Attempts in
///    flight are therefore already counted (concurrent guesses cannot slip past the cap), and a store
///    that fails refuses the attempt before any credential is tested.
/// 2. ``recordSuccess(account:)`` when the credentials were right: it erases the account's failures.
///
/// ``gate(account:address:)`` and ``recordFailure(account:address:)`` are the two halves of step 1
/// for callers that check first and count afterwards. A store that fails throws
/// ``RateLimitError/storeUnavailable(_:)``.
public protocol LockoutStore: Sendable {
    /// Whether `address` may try `account` now, and if so counts the attempt as a failure at once.
    func admitAttempt(account: String, address: String) async throws(RateLimitError) -> LockoutAdmission
    /// Whether `address` may try `account` now (counts nothing).
    func gate(account: String, address: String) async throws(RateLimitError) -> LoginGate
    /// Counts a failed attempt (wrong password, wrong code) by `address` on `account`.
    func recordFailure(account: String, address: String) async throws(RateLimitError) -> LockoutEvent
    /// A successful sign-in: forgets the account's failures from every address.
    func recordSuccess(account: String) async throws(RateLimitError)
}

/// The answer of ``LockoutStore/admitAttempt(account:address:)``.
public enum LockoutAdmission: Sendable, Hashable {
    /// Check the credentials. The attempt has been counted as a failure already (`event` says what
    /// that changed); ``LockoutStore/recordSuccess(account:)`` erases it if the credentials are right.
    case admitted(LockoutEvent)
    /// Do not check the credentials: the gate is closed (nothing was counted).
    case refused(LoginGate)
}

/// One account's counters, as every ``LockoutStore`` keeps them.
package struct AccountLockoutCounters: Sendable, Hashable {
    /// Consecutive failures from every address.
    package var consecutiveFailures: Int
    /// When the lock ends (nanoseconds on the store's clock); `Int64.min` if never locked.
    package var lockedUntil: Int64

    /// The counters of an account with no failures.
    package static let clean = AccountLockoutCounters(consecutiveFailures: 0, lockedUntil: Int64.min)

    /// Counters as stored.
    package init(consecutiveFailures: Int, lockedUntil: Int64) {
        self.consecutiveFailures = consecutiveFailures
        self.lockedUntil = lockedUntil
    }
}

/// The counters of one client address on one account.
package struct AddressLockoutCounters: Sendable, Hashable {
    /// Failures from this address since the account's last success or expired lock.
    package var failures: Int
    /// Before this time the address must wait (nanoseconds on the store's clock).
    package var notBefore: Int64

    /// The counters of an address with no failures.
    package static let clean = AddressLockoutCounters(failures: 0, notBefore: Int64.min)

    /// Counters as stored.
    package init(failures: Int, notBefore: Int64) {
        self.failures = failures
        self.notBefore = notBefore
    }
}

/// What one failure changes, computed by ``LockoutPolicy/failure(account:address:now:)``.
package struct LockoutFailureOutcome: Sendable, Hashable {
    /// The account's new counters.
    package var account: AccountLockoutCounters
    /// The address's new counters.
    package var address: AddressLockoutCounters
    /// The account's lock had served its time: the store forgets every address entry of the
    /// account before storing ``address`` (which already starts from zero).
    package var startOver: Bool
    /// The event for the audit log.
    package var event: LockoutEvent
}

extension LockoutPolicy {
    /// Address entries every store keeps at most per account (the oldest go first; they hold
    /// per-address delays, not the account's consecutive-failure cap).
    package static let maximumAddressesPerAccount = 64

    /// The gate for an account and address with these stored counters (`nil`: none stored).
    package func gate(account: AccountLockoutCounters?, address: AddressLockoutCounters?, now: Int64) -> LoginGate {
        if let account, account.lockedUntil > now {
            return .lockedOut(retryAfter: .nanoseconds(account.lockedUntil - now))
        }
        if let address, address.notBefore > now { return .delayed(retryAfter: .nanoseconds(address.notBefore - now)) }
        return .open
    }

    /// The counters after one more failure at `now`.
    package func failure(
        account stored: AccountLockoutCounters?, address storedAddress: AddressLockoutCounters?, now: Int64
    ) -> LockoutFailureOutcome {
        var account = stored ?? .clean
        var address = storedAddress ?? .clean
        let startOver = account.lockedUntil != Int64.min && account.lockedUntil <= now
        if startOver {  // the lock served its time: start over
            account = .clean
            address = .clean
        }
        // Saturating: a counter someone else set to its limit must lock, not trap.
        account.consecutiveFailures =
            account.consecutiveFailures.addingReportingOverflow(1).overflow
            ? .max : account.consecutiveFailures + 1
        address.failures = address.failures.addingReportingOverflow(1).overflow ? .max : address.failures + 1
        address.notBefore = now.addingSaturated(delay(afterFailures: address.failures))
        let event: LockoutEvent
        if account.consecutiveFailures >= maximumConsecutiveFailures {
            account.lockedUntil = now.addingSaturated(lockoutDuration.nanoseconds)
            event = .accountLocked(consecutive: account.consecutiveFailures, duration: lockoutDuration)
        } else {
            event = .failureCounted(
                consecutive: account.consecutiveFailures, delay: .nanoseconds(address.notBefore - now))
        }
        return LockoutFailureOutcome(account: account, address: address, startOver: startOver, event: event)
    }

    /// Whether counters read from a store are ones the rules could have written: failures are never
    /// negative. A store refuses other rows as corrupt (fail closed) instead of trusting them.
    package static func areValid(account: AccountLockoutCounters?, address: AddressLockoutCounters?) -> Bool {
        (account?.consecutiveFailures ?? 0) >= 0 && (address?.failures ?? 0) >= 0
    }

    /// The gate, and if it is open the counters after counting the attempt as a failure.
    package func admit(
        account: AccountLockoutCounters?, address: AddressLockoutCounters?, now: Int64
    ) -> (gate: LoginGate, outcome: LockoutFailureOutcome?) {
        let gate = gate(account: account, address: address, now: now)
        guard gate == .open else { return (gate, nil) }
        return (gate, failure(account: account, address: address, now: now))
    }

    /// Whether forgetting an account with these counters changes nothing that matters: it is not
    /// locked, no address is delayed, and it has no more than the free failures (so forgetting it
    /// gives an attacker at most ``freeFailures`` extra guesses).
    package func isSettled(
        _ account: AccountLockoutCounters, latestNotBefore: Int64, now: Int64
    ) -> Bool {
        account.lockedUntil <= now && account.consecutiveFailures <= freeFailures && latestNotBefore <= now
    }
}
