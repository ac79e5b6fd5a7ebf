import Logging
import PHIGuardAccess
import PHIGuardAudit
public import PHIGuardTOTP

extension LoginFlow {
    // MARK: Second-factor enrolment

    /// Enrols (or replaces) the TOTP authenticator of the signed-in account, after checking a code it
    /// produced.
    ///
    /// Show the user a fresh `TOTPEnrollment` (its otpauth URI as a QR code), keep its authenticator
    /// server-side until they type a code, then call this with both.
    ///
    /// - The session must be current. A password-only (single-factor) session may enrol the **first**
    ///   authenticator: that is how an account created without one (staff whose portal requires a
    ///   second factor, a patient who opts in) gets it. **Replacing** an enrolled authenticator
    ///   requires a **multi-factor** session, so a stolen password cannot swap the second factor:
    ///   otherwise refused with ``AuthenticationError/rejected`` and audited `mfa.failed`
    ///   (reason `second-factor-replacement-needs-second-factor`).
    /// - `confirmationCode` is checked against `authenticator` (the **new** one) through the flow's
    ///   TOTP verifier: its step is recorded in the replay store, so the same code cannot complete a
    ///   sign-in afterwards (RFC 6238 §5.2). A wrong or replayed code: ``AuthenticationError/rejected``,
    ///   audited `mfa.failed`, nothing stored. The code is not charged to the lockout counters: the
    ///   caller holds the secret it is checked against, so guessing it gains nothing.
    /// - Then `mfa.enrolled` (factor `totp`) is audited (required: if it cannot be recorded nothing is
    ///   stored) and the authenticator stored with `AccountAdministration.setTOTP(_:accountID:)`: the
    ///   flow's directory must adopt ``AccountAdministration`` (else ``AuthenticationError/unavailable``).
    /// - The session is **not** changed: its token and its strength stay as they were (a password-only
    ///   session stays single-factor; sign in again, or ``stepUp(_:passwordSecret:secondFactor:clientAddress:)``,
    ///   with a new code to get a multi-factor session). When an authenticator was **replaced**, every
    ///   other session of the account is revoked (they were opened with the old one). Recovery codes
    ///   issued earlier stay valid; issue a new set with ``issueRecoveryCodes(for:count:)``.
    ///
    /// - Throws: ``AuthenticationError/sessionEnded`` (the session is not current, or its account is
    ///   gone or disabled), ``AuthenticationError/rejected`` (see above),
    ///   ``AuthenticationError/unavailable`` (a backend failed).
    public func enrollSecondFactor(
        _ session: AuthenticatedSession, authenticator: TOTP, confirmationCode: String
    ) async throws(AuthenticationError) {
        let record = try await requireCurrent(session.record, in: .authenticated)
        guard let accountID = record.accountID else { throw .sessionEnded }
        guard let administration = accounts as? any AccountAdministration else {
            logger.error("second-factor enrolment requested, but the account directory cannot store it")
            throw .unavailable
        }
        guard let account = try await lookUpAccount({ try await accounts.account(id: accountID) }).account,
            !account.isDisabled
        else { throw .sessionEnded }
        let replacing = account.totp != nil
        if replacing, record.strength != .multiFactor {
            await auditor.failure(
                mfa: true, account: accountID, handle: record.handle,
                reason: .secondFactorReplacementNeedsSecondFactor)
            throw .rejected
        }
        let result: TOTPVerificationResult
        do {
            result = try await totp.verifyUncounted(
                confirmationCode, accountID: accountID, totp: authenticator, unixSeconds: clock.wallClockSeconds())
        } catch {
            if case .totp = error {
                await auditor.failure(mfa: true, account: accountID, handle: record.handle, reason: .wrongCode)
                throw .rejected
            }
            logger.error("TOTP replay store failed", metadata: ["error": "\(error)"])
            throw .unavailable
        }
        switch result {
        case .accepted: break
        case .invalid, .replayed:
            let reason: AuthenticationFailureReason = if case .replayed = result { .replayedCode } else { .wrongCode }
            await auditor.failure(mfa: true, account: accountID, handle: record.handle, reason: reason)
            throw .rejected
        case .throttled(let retryAfter): throw .tryLater(retryAfter: retryAfter)
        }
        try await auditor.required {
            [
                try AuditEvent.mfa(
                    .mfaEnrolled, userID: accountID, succeeded: true, factor: "totp",
                    reason: replacing ? "replaced" : nil, sessionID: record.handle, at: clock.now)
            ]
        }
        try await directoryCall { try await administration.setTOTP(authenticator, accountID: accountID) }
        if replacing {
            try await revokeOthers(of: accountID, keeping: record.handle, reason: "second-factor-replaced")
        }
        logger.info("second factor enrolled", metadata: ["account": "\(accountID)"])
    }
}
