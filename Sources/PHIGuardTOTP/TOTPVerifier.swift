public import Foundation
public import Logging

/// Verifies TOTP codes with replay protection and throttling: the verifier RFC 6238 §5.2 asks for.
///
/// ```swift
/// let verifier = TOTPVerifier(replayStore: InMemoryTOTPReplayStore())
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
/// Log lines (at `debug`, or `notice` for replays and throttling) carry the outcome only — never the
/// code, the secret or the account id.
public struct TOTPVerifier: Sendable {
    /// Where the last accepted step of each account lives.
    public let replayStore: any TOTPReplayStore
    /// The rate limiter, if any.
    public let throttle: (any TOTPThrottle)?
    /// How many steps before and after the current one are accepted (clock drift tolerance).
    public let window: Int
    private let logger: Logger

    /// A verifier; throws ``TOTPError/invalidWindow(_:)`` for a window outside ``TOTP/allowedWindows``.
    ///
    /// - Parameters:
    ///   - replayStore: the account → last accepted step store.
    ///   - throttle: the rate limiter; by default an ``InMemoryTOTPThrottle`` (5 failures, 5 minutes).
    ///     Pass `nil` only if the caller limits attempts itself.
    ///   - window: ±steps accepted; 1 (RFC 6238 §5.2's recommendation) by default.
    ///   - logger: where outcomes are logged.
    public init(
        replayStore: any TOTPReplayStore, throttle: (any TOTPThrottle)? = InMemoryTOTPThrottle(), window: Int = 1,
        logger: Logger = Logger(label: "PHIGuardTOTP.TOTPVerifier")
    ) throws(TOTPError) {
        guard TOTP.allowedWindows.contains(window) else { throw .invalidWindow(window) }
        self.replayStore = replayStore
        self.throttle = throttle
        self.window = window
        self.logger = logger
    }

    /// Verifies `code` for `accountID` at `date` and, if accepted, records its step in the replay store.
    ///
    /// - Throws: ``TOTPVerifierError/totp(_:)`` for a malformed code or time (the attempt still counts
    ///   as a failure), ``TOTPVerifierError/replayStore(_:)`` if the store fails (nothing is accepted).
    public func verify(_ code: String, accountID: String, totp: TOTP, at date: Date = Date())
        async throws(TOTPVerifierError) -> TOTPVerificationResult
    {
        if let throttle, case .limited(let retryAfter) = await throttle.attemptWillBegin(accountID: accountID) {
            logger.notice("TOTP attempt throttled")
            return .throttled(retryAfter: retryAfter)
        }
        let outcome: Result<TOTPVerificationResult, TOTPVerifierError>
        do {
            outcome = .success(try await check(code, accountID: accountID, totp: totp, at: date))
        } catch {
            outcome = .failure(error)
        }
        // The attempt was reserved above: report how it ended, whatever happened.
        let succeeded = (try? outcome.get())?.isAccepted ?? false
        await throttle?.attemptDidEnd(accountID: accountID, succeeded: succeeded)
        let result = try outcome.get()
        switch result {
        case .accepted: logger.debug("TOTP code accepted")
        case .invalid: logger.debug("TOTP code invalid")
        case .replayed: logger.notice("TOTP code replayed")
        case .throttled: break
        }
        return result
    }

    private func check(_ code: String, accountID: String, totp: TOTP, at date: Date)
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
            match = try totp.verify(code, at: date, window: window, after: last)
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

/// The outcome of ``TOTPVerifier/verify(_:accountID:totp:at:)``.
public enum TOTPVerificationResult: Sendable, Hashable {
    /// The code is valid and its step is now the account's last accepted step.
    case accepted(step: UInt64)
    /// The code matches no step in the window.
    case invalid
    /// The code was valid but its step was already used (or overtaken): RFC 6238 §5.2 forbids reuse.
    case replayed
    /// The rate limiter refused the attempt; the code was not checked.
    case throttled(retryAfter: TimeInterval)

    /// `true` only for ``accepted(step:)``.
    public var isAccepted: Bool {
        if case .accepted = self { true } else { false }
    }
}

/// Why ``TOTPVerifier/verify(_:accountID:totp:at:)`` could not give an answer.
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
