/// Where the counters of a ``LockoutPolicy`` live: in process memory (``LoginThrottle``, the
/// embedded default), in an SQLite file (`SQLiteLockoutStore`, survives a restart) or in PostgreSQL
/// (`PostgresLockoutStore`, shared by every instance, so the consecutive-failure cap holds across
/// all of them).
///
/// Every implementation applies the same rules (see ``LockoutPolicy``), and each call is atomic:
/// concurrent failures on one account are all counted, and exactly one of them locks it.
///
/// Use it for both passwords and second-factor codes (RFC 4226 §7.3 asks for throttling of wrong
/// codes per account across sessions): ask ``gate(account:address:)`` before checking
/// credentials, then report the outcome with ``recordFailure(account:address:)`` or
/// ``recordSuccess(account:)``. A store that fails throws ``RateLimitError/storeUnavailable(_:)``;
/// the login flow then refuses the attempt (fail closed).
public protocol LockoutStore: Sendable {
    /// Whether `address` may try `account` now.
    func gate(account: String, address: String) async throws(RateLimitError) -> LoginGate
    /// Counts a failed attempt (wrong password, wrong code) by `address` on `account`.
    func recordFailure(account: String, address: String) async throws(RateLimitError) -> LockoutEvent
    /// A successful sign-in: forgets the account's failures from every address.
    func recordSuccess(account: String) async throws(RateLimitError)
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
        account.consecutiveFailures += 1
        address.failures += 1
        address.notBefore = now + delay(afterFailures: address.failures)
        let event: LockoutEvent
        if account.consecutiveFailures >= maximumConsecutiveFailures {
            account.lockedUntil = now + lockoutDuration.nanoseconds
            event = .accountLocked(consecutive: account.consecutiveFailures, duration: lockoutDuration)
        } else {
            event = .failureCounted(
                consecutive: account.consecutiveFailures, delay: .nanoseconds(address.notBefore - now))
        }
        return LockoutFailureOutcome(account: account, address: address, startOver: startOver, event: event)
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
