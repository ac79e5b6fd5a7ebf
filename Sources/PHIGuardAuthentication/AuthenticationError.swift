public import PHIGuardPasswords

/// What a sign-in step tells the user when it does not succeed. Deliberately coarse: the precise
/// reason (unknown account, wrong password, wrong code, replayed code, disabled account) goes to the
/// audit log and the logger only.
public enum AuthenticationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The credentials were not accepted. The same answer, after comparable work, for an unknown
    /// account, a wrong password, a wrong or replayed code and a disabled account.
    case rejected
    /// Too many attempts from this address or for this login name: wait `retryAfter`. Answered the
    /// same way for names that have no account, so it reveals nothing about existence.
    case tryLater(retryAfter: Duration)
    /// The session has ended (expired, revoked, rotated by another request) or was never issued:
    /// sign in again.
    case sessionEnded
    /// The new password breaks the password policy (the user's own input, so they are told which rules).
    case passwordNotAccepted([PasswordPolicyViolation])
    /// The login name chosen at registration breaks the login-name rules (``LoginName``,
    /// ``LoginName/checkRegistrable()``): a property of the string alone, never of whether it is taken.
    case loginNameNotAccepted(LoginNameError)
    /// A backend (session store, account directory, audit log, password hasher) failed; nothing changed.
    case unavailable

    /// A description without account names, codes or tokens.
    public var description: String {
        switch self {
        case .rejected: "sign-in rejected"
        case .tryLater(let retryAfter): "too many attempts; retry after \(retryAfter)"
        case .sessionEnded: "session ended"
        case .passwordNotAccepted(let violations): "password not accepted: \(violations)"
        case .loginNameNotAccepted(let reason): "login name not accepted: \(reason)"
        case .unavailable: "authentication backend unavailable"
        }
    }
}

/// The internal reason behind an ``AuthenticationError``: written to the audit log (`reason`) and
/// the logger, never shown to the user.
public enum AuthenticationFailureReason: String, Sendable, Hashable, CaseIterable {
    /// No account has this login name.
    case unknownAccount = "unknown-account"
    /// The password did not match.
    case wrongPassword = "wrong-password"
    /// The account is disabled.
    case accountDisabled = "account-disabled"
    /// The account has no second factor enrolled and the configuration requires one.
    case secondFactorNotEnrolled = "second-factor-not-enrolled"
    /// The TOTP code did not match.
    case wrongCode = "wrong-code"
    /// The TOTP code was valid but already used.
    case replayedCode = "replayed-code"
    /// The recovery code was not one of the account's unused codes.
    case wrongRecoveryCode = "wrong-recovery-code"
    /// A session that passed only the password tried to replace an enrolled second factor
    /// (`LoginFlow.enrollSecondFactor(_:authenticator:confirmationCode:)`): refused, so that a stolen
    /// password cannot swap the authenticator.
    case secondFactorReplacementNeedsSecondFactor = "second-factor-replacement-needs-second-factor"
    /// The login name or address is delayed or locked by the lockout policy.
    case throttled = "throttled"
    /// A rate limit (per address, global) refused the attempt.
    case rateLimited = "rate-limited"
    /// A backend failed.
    case backendFailure = "backend-failure"
    /// A stored row (session, account, care-team membership) failed its seal check: it was edited
    /// without the `RowSealingKey` and was refused (also audited as `integrity.tamper-detected`).
    case tamperedRecord = "tampered-record"
}
