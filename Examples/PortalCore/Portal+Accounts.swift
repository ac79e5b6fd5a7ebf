public import Foundation
internal import PHIGuardAccess
internal import PHIGuardAuthentication
public import PHIGuardPasswords
internal import PHIGuardTOTP

/// A password-recovery link for the out-of-band channel (e-mail, SMS, a letter): never shown to
/// the client that asked (``Portal/requestPasswordRecovery(loginName:clientAddress:deliver:)``).
public struct PortalRecoveryMessage: Sendable {
    /// The account the link is for.
    public let accountID: String
    /// The secret the link carries: the recovery session's token (``Portal/completeRecovery(link:newPassword:)``).
    public let link: String
    /// When the link stops working.
    public let expiresAt: Date
}

extension Portal {
    // MARK: Password change

    /// Changes the signed-in user's password (through `LoginFlow.changePassword`: the current
    /// password is checked with the sign-in throttle, the new one against the policy). Every
    /// **other** session of the account ends; this one continues under the returned new token.
    ///
    /// A session that must change its temporary password (``PortalIdentity/passwordChangeRequired``)
    /// may do this and nothing else; the change clears the requirement on the account and rotates
    /// this session once more (`LoginFlow.accountPrivilegesChanged`), so the returned token is a
    /// session without it.
    public func changePassword(
        token: String?, current: PasswordSecret, new: PasswordSecret, clientAddress: String? = nil
    ) async throws -> String {
        let session = try await session(token, attempt: nil, allowingPasswordChange: true)
        let rotated = try await flow.changePassword(
            session, currentPasswordSecret: current, newPasswordSecret: new,
            clientAddress: clientAddress ?? configuration.clientAddress)
        guard Self.requiresPasswordChange(rotated) else { return rotated.token.cookieValue }
        let accountID = rotated.principal.subject.id
        try await clearPasswordChange(accountID: accountID)
        guard let refreshed = try await flow.accountPrivilegesChanged(accountID: accountID, current: rotated) else {
            throw AuthenticationError.sessionEnded
        }
        return refreshed.token.cookieValue
    }

    /// The account attribute that marks a temporary password (value `required`): set by
    /// ``addStaff(token:loginName:roles:)``, cleared by a password change or a recovery. Sign-in
    /// copies it into the session, where ``session(_:attempt:)`` refuses everything but the change.
    public static let passwordChangeAttribute = "password-change"

    /// Removes ``passwordChangeAttribute`` from the account (its other attributes kept).
    func clearPasswordChange(accountID: String) async throws {
        guard var attributes = try await accounts.account(id: accountID)?.attributes,
            attributes.removeValue(forKey: Self.passwordChangeAttribute) != nil
        else { return }
        try await accounts.setAttributes(attributes, accountID: accountID)
    }

    // MARK: Password recovery

    /// Starts password recovery for `loginName` (through `LoginFlow.requestPasswordRecovery`: the
    /// same work, the same audit and the same answer whether or not the account exists). For an
    /// active account, `deliver` gets the link to send **out of band**; for an unknown or disabled
    /// one it is not called. Either way this returns nothing, so a front end cannot tell the client
    /// which case it was: answer "if the account exists, we sent a link".
    public func requestPasswordRecovery(
        loginName: String, clientAddress: String? = nil,
        deliver: (PortalRecoveryMessage) async throws -> Void
    ) async throws {
        let delivery = try await flow.requestPasswordRecovery(
            loginName: loginName, clientAddress: clientAddress ?? configuration.clientAddress)
        guard let delivery else { return }
        try await deliver(
            PortalRecoveryMessage(
                accountID: delivery.accountID, link: delivery.token.cookieValue, expiresAt: delivery.expiresAt))
    }

    /// Sets a new password from a recovery link (through `LoginFlow.completeRecovery`): every
    /// session of the account ends, the link included. A recovery session never has a principal:
    /// the user signs in afterwards, second factor and all. A used, expired or unknown link is
    /// `AuthenticationError.sessionEnded`.
    public func completeRecovery(link: String, newPassword: PasswordSecret) async throws {
        guard case .recovering(let session) = try await flow.resume(link) else {
            throw AuthenticationError.sessionEnded
        }
        try await flow.completeRecovery(session, newPasswordSecret: newPassword)
        // The user chose this password: a temporary one is gone (every session ended above).
        if let accountID = session.record.accountID { try await clearPasswordChange(accountID: accountID) }
    }

    // MARK: Recovery codes

    /// A new set of single-use recovery codes for the signed-in user (through
    /// `LoginFlow.issueRecoveryCodes`: the earlier set stops working; only keyed hashes are stored).
    /// Needs a session that passed its second factor. Show the codes once.
    public func newRecoveryCodes(token: String?) async throws -> [String] {
        let session = try await session(token)
        return try await flow.issueRecoveryCodes(for: session).map { $0.reveal() }
    }
}
