internal import PHIGuardAccess
internal import PHIGuardAuthentication
public import PHIGuardTOTP

extension Portal {
    // MARK: Second-factor enrolment

    /// The issuer shown by authenticator apps for the portal's accounts.
    static let authenticatorIssuer = "PHIGuard Portal"

    /// Starts enrolling a TOTP authenticator for the signed-in account: a fresh secret, as an
    /// otpauth URI to show as a QR code (`TOTPEnrollment.terminalQRCode()` in `PHIGuardTOTPQRCode`).
    /// Nothing is stored: the front end keeps the returned enrolment (server-side, or in a private
    /// file for the CLI) until the user types a code for ``confirmSecondFactorEnrollment(token:pending:code:)``.
    /// Its label (the URI's account name) is the account id, which the confirmation checks.
    ///
    /// A **password-only** session may enrol: that is how a staff account without an authenticator
    /// gets one (such a session reaches no PHI, ``session(_:attempt:)``). An account that already has an
    /// authenticator needs a session that passed it (`LoginFlow.enrollSecondFactor` refuses otherwise;
    /// this checks it early, so nobody scans a QR code that cannot be confirmed).
    public func beginSecondFactorEnrollment(token: String?) async throws -> TOTPEnrollment {
        let session = try await enrollingSession(token)
        let accountID = session.principal.subject.id
        if try await accounts.account(id: accountID)?.totp != nil, session.principal.strength != .multiFactor {
            throw PortalError.notPermitted("mfa-replace-needs-second-factor")
        }
        return try TOTPEnrollment(issuer: Self.authenticatorIssuer, accountName: accountID)
    }

    /// Finishes the enrolment ``beginSecondFactorEnrollment(token:)`` started, through
    /// `LoginFlow.enrollSecondFactor`: `code` must come from the pending authenticator (its step is
    /// then spent: it cannot sign in), the enrolment is audited `mfa.enrolled` and the secret stored
    /// encrypted in a sealed row. `pending` must have been started for this account (its label is
    /// the account id), else ``PortalError/invalidInput(_:)``.
    ///
    /// The session is not upgraded: a password-only session stays password-only (a staff member
    /// still reaches no PHI with it) until the user signs in again with a code. Replacing an
    /// authenticator ends the account's other sessions.
    public func confirmSecondFactorEnrollment(token: String?, pending: TOTPEnrollment, code: String) async throws {
        let session = try await enrollingSession(token)
        guard pending.uri.accountName == session.principal.subject.id else {
            throw PortalError.invalidInput("pending-enrolment")
        }
        try await flow.enrollSecondFactor(session, authenticator: pending.totp, confirmationCode: code)
    }

    /// The current authenticated session, password-only staff sessions included (enrolment is the
    /// one thing they may do), but not one that must change its temporary password first (whoever
    /// saw the temporary password must not be able to put their own authenticator on the account):
    /// refused and audited `password-change-required`, as everything else is.
    private func enrollingSession(_ token: String?) async throws -> AuthenticatedSession {
        guard case .authenticated(let session) = try await flow.resume(token) else { throw PortalError.notSignedIn }
        if Self.requiresPasswordChange(session) {
            try await auditRefusal(
                handle: session.record.handle,
                PortalAttempt(action: "enroll", resourceType: "second-factor", patientID: nil),
                reason: "password-change-required")
            throw PortalError.notPermitted("password-change-required")
        }
        return session
    }
}
