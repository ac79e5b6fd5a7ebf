public import Foundation
public import Logging
public import PHIGuardRateLimit

/// Verifies TOTP codes with replay protection and throttling: the verifier RFC 6238 §5.2 asks for.
///
/// ```swift
/// let verifier = try TOTPVerifier(replayStore: InMemoryTOTPReplayStore())
/// switch try await verifier.verify(submittedCode, accountID: user.id, totp: user.totp) {
/// case .accepted: signIn()
/// case .invalid, .replayed: askAgain()
/// case .throttled(let retryAfter): tellToWait(retryAfter)
/// }
/// ```
///
/// A code is accepted only if it matches a step later than the account's last accepted step, and
/// only if the store's atomic ``TOTPReplayStore/advance(accountID:to:)`` succeeds: of several
/// concurrent verifications of one code, exactly one is accepted.
///
/// Wrong codes are throttled per account (RFC 4226 §7.3) in a `LockoutStore`, the same stores that
/// count password failures: each attempt is counted there before the code is checked
/// (`LockoutStore.admitAttempt(account:address:)`), and a success erases the count. By default an
/// `InMemoryLockoutStore` with ``defaultLockoutPolicy`` (5 consecutive failures lock the account for
/// 5 minutes); pass a SQLite or PostgreSQL lockout store to share the count between processes.
/// `LoginFlow` counts second-factor attempts in its own lockout store and checks codes without this
/// one, so an attempt is never counted twice.
///
/// Log lines (at `debug`, or `notice` for replays and throttling) carry the outcome only — never the
/// code, the secret or the account id.
public struct TOTPVerifier: Sendable {
    /// Where the last accepted step of each account lives.
    public let replayStore: any TOTPReplayStore
    /// Where failed attempts are counted per account, if anywhere.
    public let lockout: (any LockoutStore)?
    /// How many steps before and after the current one are accepted (clock drift tolerance).
    public let window: Int
    private let logger: Logger

    /// The default throttling of ``init(replayStore:lockout:window:logger:)``: 5 consecutive failures
    /// lock the account for 5 minutes (the first 4 cost nothing); a success resets the count.
    public static let defaultLockoutPolicy = try! LockoutPolicy(
        freeFailures: 4, initialDelay: .seconds(1), maximumDelay: .seconds(1), maximumConsecutiveFailures: 5,
        lockoutDuration: .seconds(300))

    /// The address under which the verifier counts attempts in ``lockout``: it has no client address,
    /// so the count is per account, from any address.
    static let lockoutAddress = "totp"

    /// A verifier; throws ``TOTPError/invalidWindow(_:)`` for a window outside ``TOTP/allowedWindows``.
    ///
    /// - Parameters:
    ///   - replayStore: the account → last accepted step store.
    ///   - lockout: where attempts are counted per account; by default an `InMemoryLockoutStore` with
    ///     ``defaultLockoutPolicy``. Pass `nil` only if the caller counts attempts itself.
    ///   - window: ±steps accepted; 1 (RFC 6238 §5.2's recommendation) by default.
    ///   - logger: where outcomes are logged.
    public init(
        replayStore: any TOTPReplayStore,
        lockout: (any LockoutStore)? = InMemoryLockoutStore(policy: TOTPVerifier.defaultLockoutPolicy),
        window: Int = 1, logger: Logger = Logger(label: "PHIGuardTOTP.TOTPVerifier")
    ) throws(TOTPError) {
        guard TOTP.allowedWindows.contains(window) else { throw .invalidWindow(window) }
        self.replayStore = replayStore
        self.lockout = lockout
        self.window = window
        self.logger = logger
    }

    /// Verifies `code` for `accountID` now (the system clock's whole seconds, read as an exact integer):
    /// ``verify(_:accountID:totp:unixSeconds:)`` at `SystemClock().wallClockSeconds()`.
    public func verify(_ code: String, accountID: String, totp: TOTP)
        async throws(TOTPVerifierError) -> TOTPVerificationResult
    {
        try await verify(code, accountID: accountID, totp: totp, unixSeconds: SystemClock().wallClockSeconds())
    }

    /// Verifies `code` for `accountID` at `date`: ``verify(_:accountID:totp:unixSeconds:)`` at the date's
    /// whole seconds (see ``TOTP/timeStep(at:)`` on the precision of a `Date`; a date before 1970 or at
    /// or after 2^63 s throws ``TOTPVerifierError/totp(_:)`` with ``TOTPError/timeOutOfRange``).
    public func verify(_ code: String, accountID: String, totp: TOTP, at date: Date)
        async throws(TOTPVerifierError) -> TOTPVerificationResult
    {
        try await verify(code, accountID: accountID, totp: totp, unixSeconds: TOTP.unixSeconds(date))
    }

    /// Verifies `code` for `accountID` at `unixSeconds` (seconds since 1970, exact) and, if accepted,
    /// records its step in the replay store.
    ///
    /// The attempt is counted in ``lockout`` before the code is checked; a success erases the count.
    /// A lockout store that fails refuses the attempt (``TOTPVerificationResult/throttled(retryAfter:)``,
    /// one second) without checking the code: fail closed.
    ///
    /// - Throws: ``TOTPVerifierError/totp(_:)`` for a malformed code or a negative time (the attempt
    ///   still counts as a failure), ``TOTPVerifierError/replayStore(_:)`` if the store fails (nothing
    ///   is accepted).
    public func verify(_ code: String, accountID: String, totp: TOTP, unixSeconds: Int64)
        async throws(TOTPVerifierError) -> TOTPVerificationResult
    {
        let lockoutKey = "totp:" + accountID
        if let lockout {
            let admission: LockoutAdmission
            do {
                admission = try await lockout.admitAttempt(account: lockoutKey, address: Self.lockoutAddress)
            } catch {
                logger.error("TOTP lockout store failed", metadata: ["error": "\(error)"])
                return .throttled(retryAfter: .seconds(1))
            }
            switch admission {
            case .admitted: break
            case .refused(.delayed(let retryAfter)), .refused(.lockedOut(let retryAfter)):
                logger.notice("TOTP attempt throttled")
                return .throttled(retryAfter: retryAfter)
            case .refused(.open):  // a store never refuses with an open gate; treat it as a closed one
                logger.notice("TOTP attempt throttled")
                return .throttled(retryAfter: .seconds(1))
            }
        }
        // Counted already: a wrong, replayed or malformed code, or a failing replay store, stays counted.
        let result = try await verifyUncounted(code, accountID: accountID, totp: totp, unixSeconds: unixSeconds)
        if let lockout, result.isAccepted {
            do { try await lockout.recordSuccess(account: lockoutKey) } catch {
                // The code was right; the count only makes later attempts wait longer.
                logger.error("TOTP lockout store failed to reset the count", metadata: ["error": "\(error)"])
            }
        }
        return result
    }

    /// Verifies `code` without counting the attempt anywhere: for `LoginFlow`, which has counted it in
    /// its own lockout store before calling.
    package func verifyUncounted(_ code: String, accountID: String, totp: TOTP, unixSeconds: Int64)
        async throws(TOTPVerifierError) -> TOTPVerificationResult
    {
        let result = try await check(code, accountID: accountID, totp: totp, unixSeconds: unixSeconds)
        switch result {
        case .accepted: logger.debug("TOTP code accepted")
        case .invalid: logger.debug("TOTP code invalid")
        case .replayed: logger.notice("TOTP code replayed")
        case .throttled: break
        }
        return result
    }

    private func check(_ code: String, accountID: String, totp: TOTP, unixSeconds: Int64)
        async throws(TOTPVerifierError) -> TOTPVerificationResult
    {
        let last: UInt64?
        do {
            last = try await replayStore.lastAcceptedStep(accountID: accountID)
        } catch {
            throw .replayStore(String(describing: type(of: error)))
        }
        let match: TOTPMatch
        do {
            match = try totp.verify(code, unixSeconds: unixSeconds, window: window, after: last)
        } catch {
            throw .totp(error)
        }
        switch match {
        case .accepted(let step):
            let advanced: Bool
            do {
                advanced = try await replayStore.advance(accountID: accountID, to: step)
            } catch {
                throw .replayStore(String(describing: type(of: error)))
            }
            // Losing the compare-and-set means another request accepted this step (or a later one) first.
            return advanced ? .accepted(step: step) : .replayed
        case .replayed: return .replayed
        case .invalid: return .invalid
        }
    }
}

/// The outcome of ``TOTPVerifier/verify(_:accountID:totp:unixSeconds:)``.
public enum TOTPVerificationResult: Sendable, Hashable {
    /// The code is valid and its step is now the account's last accepted step.
    case accepted(step: UInt64)
    /// The code matches no step in the window.
    case invalid
    /// The code was valid but its step was already used (or overtaken): RFC 6238 §5.2 forbids reuse.
    case replayed
    /// The lockout store refused the attempt; the code was not checked. Try again after `retryAfter`.
    case throttled(retryAfter: Duration)

    /// `true` only for ``accepted(step:)``.
    public var isAccepted: Bool {
        if case .accepted = self { true } else { false }
    }
}

/// Why ``TOTPVerifier/verify(_:accountID:totp:unixSeconds:)`` could not give an answer.
public enum TOTPVerifierError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The code or the time was malformed (see ``TOTPError``).
    case totp(TOTPError)
    /// The replay store threw; the payload is the error's type name only (backends may put account ids
    /// or connection strings in their messages).
    case replayStore(String)

    /// A description without secrets, codes or account ids.
    public var description: String {
        switch self {
        case .totp(let error): error.description
        case .replayStore(let type): "TOTP replay store failed (\(type))"
        }
    }
}
