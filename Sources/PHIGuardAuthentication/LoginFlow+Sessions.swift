import Foundation
import Logging
import PHIGuardAccess
import PHIGuardAudit
public import PHIGuardPasswords

extension LoginFlow {
    /// Changes the signed-in user's password: verifies the current one, checks the new one against
    /// the policy, stores its hash, revokes every **other** session of the account and rotates this one.
    /// A new password the stored hash verifies (the current one again) is refused with
    /// ``AuthenticationError/passwordNotAccepted(_:)`` holding `PasswordPolicyViolation.sameAsCurrent`,
    /// and nothing changes.
    ///
    /// ``changePassword(_:currentPassword:newPassword:clientAddress:)`` is the `String` convenience.
    public func changePassword(
        _ session: AuthenticatedSession, currentPasswordSecret currentPassword: PasswordSecret,
        newPasswordSecret newPassword: PasswordSecret, clientAddress: String
    ) async throws(AuthenticationError) -> AuthenticatedSession {
        let record = try await requireCurrent(session.record, in: .authenticated)
        let account = try await verifyCurrentPassword(currentPassword, record: record, clientAddress: clientAddress)
            .account
        await forgetFailures(throttleKey: Self.throttleKey(accountID: account.id))
        // The same password again (checked against the stored hash, so any spelling the hasher
        // treats as the same counts) is no change: a temporary or leaked password stays known.
        guard try await !verifyPassword(newPassword, of: account, handle: record.handle).isValid else {
            throw .passwordNotAccepted([.sameAsCurrent])
        }
        try await setPassword(newPassword, for: account)
        try await revokeOthers(of: account.id, keeping: record.handle, reason: "password-changed")
        let rotated = try await reissue(record, for: account)
        await auditor.session(
            .sessionRefreshed, account: account.id, handle: rotated.record.handle, reason: "password-changed")
        return rotated
    }

    /// Call after an account's roles (or patient link, or status) changed: revokes every session of
    /// the account except `current`, which is rotated with the account's new roles and returned.
    /// Pass `current: nil` (an administrator changed someone else's roles) to revoke them all.
    @discardableResult
    public func accountPrivilegesChanged(accountID: String, current: AuthenticatedSession? = nil)
        async throws(AuthenticationError) -> AuthenticatedSession?
    {
        let kept = current?.record.accountID == accountID ? current?.record : nil
        try await revokeOthers(of: accountID, keeping: kept?.handle, reason: "privileges-changed")
        guard let kept else { return nil }
        let record = try await requireCurrent(kept, in: .authenticated)
        guard let account = try await lookUpAccount({ try await accounts.account(id: accountID) }).account,
            !account.isDisabled
        else {
            _ = try await storeCall { try await sessions.remove(record.tokenHash) }
            await auditor.session(
                .sessionRevoked, account: accountID, handle: record.handle, reason: "account-disabled")
            throw .sessionEnded
        }
        let rotated = try await reissue(record, for: account)
        await auditor.session(
            .sessionRefreshed, account: accountID, handle: rotated.record.handle, reason: "privileges-changed")
        return rotated
    }

    /// Revokes every session of `accountID` (for example when an administrator disables it); returns how many.
    @discardableResult
    public func revokeAllSessions(accountID: String, reason: String = "revoked") async throws(AuthenticationError)
        -> Int
    {
        try await revokeOthers(of: accountID, keeping: nil, reason: reason)
    }

    /// The signed-in user's sessions (of every state), oldest first.
    public func sessions(of session: AuthenticatedSession) async throws(AuthenticationError) -> [SessionSummary] {
        let record = try await requireCurrent(session.record, in: .authenticated)
        guard let accountID = record.accountID else { throw .sessionEnded }
        let now = clock.now
        return try await storeCall { try await sessions.sessions(accountID: accountID) }
            .filter { !$0.isExpired(at: now) && verifiesSeal($0) }
            .map {
                SessionSummary(
                    handle: $0.handle, createdAt: $0.createdAt, lastSeenAt: $0.lastSeenAt, expiresAt: $0.expiresAt,
                    clientLabel: $0.clientLabel, isCurrent: $0.handle == record.handle)
            }
    }

    /// Ends one of the signed-in user's own sessions by handle; returns whether one was ended. Handles
    /// of other accounts' sessions are ignored (`false`), so this cannot end someone else's session.
    @discardableResult
    public func endSession(handle: String, of session: AuthenticatedSession) async throws(AuthenticationError) -> Bool {
        let record = try await requireCurrent(session.record, in: .authenticated)
        guard let accountID = record.accountID else { throw .sessionEnded }
        let owned = try await storeCall { try await sessions.sessions(accountID: accountID) }.filter(verifiesSeal)
        guard let target = owned.first(where: { $0.handle == handle }),
            try await storeCall({ try await sessions.remove(target.tokenHash) }) != nil
        else { return false }
        await auditor.session(.sessionRevoked, account: accountID, handle: handle, reason: "ended-by-owner")
        return true
    }

    @discardableResult
    func revokeOthers(of accountID: String, keeping handle: String?, reason: String) async throws(AuthenticationError)
        -> Int
    {
        let revoked = try await storeCall { try await sessions.removeSessions(accountID: accountID, except: handle) }
        for record in revoked {
            await auditor.session(.sessionRevoked, account: accountID, handle: record.handle, reason: reason)
        }
        return revoked.count
    }
}
