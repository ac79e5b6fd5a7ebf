import Logging
import PHIGuardAccess
import PHIGuardAudit
public import PHIGuardTOTP

extension LoginFlow {
    // MARK: Recovery codes

    /// Issues a fresh set of single-use recovery codes for the signed-in account and replaces any
    /// earlier set (every earlier code stops working). Show the codes once; only their keyed hashes
    /// are stored (the `recoveryCodes` store given to the flow). Each code is accepted once by
    /// ``verifySecondFactor(_:_:clientAddress:)`` instead of a TOTP code.
    ///
    /// The session must be current and **multi-factor**: codes replace the second factor, so only a
    /// session that passed it may issue them (an account without an authenticator has nothing to recover).
    ///
    /// - Throws: ``AuthenticationError/sessionEnded`` (the session is not current),
    ///   ``AuthenticationError/rejected`` (the session is single-factor),
    ///   ``AuthenticationError/unavailable`` (the flow has no recovery-code store, or a backend failed).
    public func issueRecoveryCodes(for session: AuthenticatedSession, count: Int = RecoveryCodeHasher.defaultCount)
        async throws(AuthenticationError) -> [RecoveryCode]
    {
        let record = try await requireCurrent(session.record, in: .authenticated)
        guard let accountID = record.accountID else { throw .sessionEnded }
        guard record.strength == .multiFactor else { throw .rejected }
        guard let recoveryCodeHasher, let recoveryCodes else {
            logger.error("recovery codes requested, but the flow has no recovery-code store")
            throw .unavailable
        }
        let codes: [RecoveryCode]
        do { codes = try recoveryCodeHasher.generate(count: count) } catch {
            logger.error("recovery code generation failed", metadata: ["error": "\(error)"])
            throw .unavailable
        }
        try await auditor.required {
            [
                try AuditEvent.mfa(
                    .mfaEnrolled, userID: accountID, succeeded: true, factor: "recovery-codes",
                    sessionID: record.handle, at: clock.now)
            ]
        }
        try await storeCall { try await recoveryCodes.replaceCodes(codes.map(\.hash), accountID: accountID) }
        return codes
    }
}
