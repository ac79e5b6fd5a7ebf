public import Foundation
public import PHIGuardAccess

/// A session filling in the registration form. It has no account and no principal: the only thing
/// it can do is ``LoginFlow/completeRegistration(_:loginName:password:clientAddress:authenticator:confirmationCode:)``.
public struct RegistrationSession: Sendable {
    /// The token to send to the client.
    public let token: SessionToken
    /// The stored record.
    public let record: SessionRecord
}

/// A session opened from a password-recovery link. It has an account but no principal: the only
/// thing it can do is ``LoginFlow/completeRecovery(_:newPassword:)``, after which the user signs in
/// (with their second factor) like everyone else.
public struct RecoverySession: Sendable {
    /// The token (the secret in the recovery link).
    public let token: SessionToken
    /// The stored record.
    public let record: SessionRecord
}

/// A session whose password was right and whose second factor is still due. No principal: it
/// cannot read PHI; the only thing it can do is ``LoginFlow/verifySecondFactor(_:_:clientAddress:)``.
public struct SecondFactorPendingSession: Sendable {
    /// The token to send to the client.
    public let token: SessionToken
    /// The stored record.
    public let record: SessionRecord
}

/// A session that completed sign-in: the only state with an `AuthenticatedPrincipal`.
public struct AuthenticatedSession: Sendable {
    /// The token to send to the client (replaced on every change of state: send it again).
    public let token: SessionToken
    /// The stored record.
    public let record: SessionRecord
    /// The user, for `AccessEngine.decide`.
    public let principal: AuthenticatedPrincipal

    init(token: SessionToken, record: SessionRecord, careTeamPatients: Set<String>? = nil) {
        self.token = token
        self.record = record
        self.principal = AuthenticatedPrincipal(
            subject: Subject(
                id: record.accountID ?? "", roles: record.roles, patientID: record.patientID,
                careTeamPatients: careTeamPatients, attributes: record.attributes),
            sessionHandle: record.handle, authenticatedAt: record.authenticatedAt ?? record.createdAt,
            recentlyAuthenticatedAt: record.recentlyAuthenticatedAt ?? record.createdAt,
            strength: record.strength ?? .singleFactor, validUntil: record.expiresAt)
    }
}

/// What ``LoginFlow/resume(_:)`` found for the token a client presented.
public enum ResumedSession: Sendable {
    /// No token, a token the server did not issue, or one that has ended.
    case anonymous
    /// Registering.
    case registering(RegistrationSession)
    /// Recovering a password.
    case recovering(RecoverySession)
    /// Waiting for the second factor.
    case awaitingSecondFactor(SecondFactorPendingSession)
    /// Signed in.
    case authenticated(AuthenticatedSession)

    /// The principal, only for ``authenticated(_:)``.
    public var principal: AuthenticatedPrincipal? {
        if case .authenticated(let session) = self { session.principal } else { nil }
    }

    /// The state, or `nil` for ``anonymous``.
    public var state: SessionState? { record?.state }

    var record: SessionRecord? {
        switch self {
        case .anonymous: nil
        case .registering(let session): session.record
        case .recovering(let session): session.record
        case .awaitingSecondFactor(let session): session.record
        case .authenticated(let session): session.record
        }
    }
}

/// Where ``LoginFlow/signIn(loginName:password:clientAddress:clientLabel:replacing:)`` leaves the user.
public enum SignInProgress: Sendable {
    /// The password was right; ask for the second factor.
    case awaitingSecondFactor(SecondFactorPendingSession)
    /// Signed in with the password alone (only when the configuration allows single-factor accounts).
    case authenticated(AuthenticatedSession)
}

/// The second factor a user presents.
public enum SecondFactor: Sendable, CustomStringConvertible {
    /// A TOTP code from the enrolled authenticator.
    case totp(String)
    /// One of the account's single-use recovery codes.
    case recoveryCode(String)

    /// The kind only, never the code.
    public var description: String {
        switch self {
        case .totp: "totp(<redacted>)"
        case .recoveryCode: "recoveryCode(<redacted>)"
        }
    }
}

/// A password-recovery link to deliver out of band (e-mail, SMS) — never in the HTTP response.
public struct PasswordRecoveryDelivery: Sendable {
    /// The account to deliver to.
    public let accountID: String
    /// The secret for the link; opening it resumes a ``RecoverySession``.
    public let token: SessionToken
    /// When the link stops working.
    public let expiresAt: Date
}
