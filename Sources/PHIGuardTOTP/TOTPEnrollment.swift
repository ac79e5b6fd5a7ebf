public import Foundation

/// A TOTP enrolment: pending until the user proves, with one valid code, that their authenticator
/// holds the secret; then active.
///
/// ```swift
/// var enrollment = try TOTPEnrollment(issuer: "Riverside Clinic", accountName: "ana@example.org")
/// let qr = try enrollment.terminalQRCode()       // PHIGuardTOTPQRCode; or any QR image of enrollment.uri
/// // … the user scans it and types the code the app shows …
/// if try enrollment.confirm(typedCode) {
///     // Store the secret (encrypted) and mark the credential active; record the first step
///     // so the confirmation code cannot be used again to sign in.
///     _ = try await replayStore.advance(accountID: id, to: enrollment.lastAcceptedStep!)
/// }
/// ```
public struct TOTPEnrollment: Sendable {
    /// Where the enrolment stands.
    public enum State: Sendable, Hashable {
        /// Waiting for the first valid code; the credential must not be used to sign in yet.
        case pending
        /// Confirmed with the code of this time step.
        case active(confirmedStep: UInt64)
    }

    /// The enrolment URI: secret, configuration, issuer and account.
    public let uri: OTPAuthURI
    /// Pending or active.
    public private(set) var state: State

    /// The credential being enrolled.
    public var totp: TOTP { uri.totp }

    /// The step of the confirming code once active (persist it as the account's last accepted step).
    public var lastAcceptedStep: UInt64? {
        if case .active(let step) = state { step } else { nil }
    }

    /// Starts an enrolment with a new random secret of `secretBitCount` bits.
    ///
    /// - Throws: ``TOTPError/invalidLabel(_:)`` for an issuer or account the URI cannot carry (checked now,
    ///   not when the QR code is drawn), ``TOTPError/invalidSecretBitCount(_:)``, or a secure-memory failure.
    public init(
        issuer: String?, accountName: String, configuration: TOTPConfiguration = .standard,
        secretBitCount: Int = TOTPSecret.defaultBitCount
    ) throws(TOTPError) {
        let totp = TOTP(secret: try TOTPSecret(randomBitCount: secretBitCount), configuration: configuration)
        try self.init(pending: OTPAuthURI(totp: totp, issuer: issuer, accountName: accountName))
    }

    /// Resumes a pending enrolment (for example one whose secret was stored while waiting for the code).
    public init(pending uri: OTPAuthURI) throws(TOTPError) {
        _ = try uri.revealString()  // validates the names
        self.uri = uri
        state = .pending
    }

    /// Checks the user's first code now (the system clock's whole seconds, an exact integer):
    /// ``confirm(_:unixSeconds:window:)`` at `SystemClock().wallClockSeconds()`.
    @discardableResult
    public mutating func confirm(_ code: String, window: Int = 1) throws(TOTPError) -> Bool {
        try confirm(code, unixSeconds: SystemClock().wallClockSeconds(), window: window)
    }

    /// ``confirm(_:unixSeconds:window:)`` at the whole seconds of `date` (see ``TOTP/timeStep(at:)`` on
    /// the precision of a `Date`).
    @discardableResult
    public mutating func confirm(_ code: String, at date: Date, window: Int = 1) throws(TOTPError) -> Bool {
        try confirm(code, unixSeconds: TOTP.unixSeconds(date), window: window)
    }

    /// Checks the user's first code at `unixSeconds` (seconds since 1970, exact); on success the
    /// enrolment becomes ``State/active(confirmedStep:)``.
    ///
    /// Returns `false` (and stays pending) for a wrong code. Confirming an active enrolment again only
    /// accepts a code of a later step, so the confirmation code cannot be replayed.
    @discardableResult
    public mutating func confirm(_ code: String, unixSeconds: Int64, window: Int = 1) throws(TOTPError) -> Bool {
        guard
            case .accepted(let step) = try totp.verify(
                code, unixSeconds: unixSeconds, window: window, after: lastAcceptedStep)
        else { return false }
        state = .active(confirmedStep: step)
        return true
    }
}
