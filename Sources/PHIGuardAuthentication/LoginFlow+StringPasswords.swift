import Logging
import PHIGuardPasswords
public import PHIGuardTOTP

/// The `String` conveniences of the password-taking steps. Each copies the `String` once into a
/// `PasswordSecret` (guarded memory) and calls the step that takes one; the `String` itself, and
/// any copies the caller's code made of it, stay in ordinary memory, which Swift cannot zero.
/// Where the password arrives as bytes (a request body, a terminal), make the `PasswordSecret`
/// from those bytes instead (`PasswordSecret(consuming:)`, `PasswordSecret.readLine(from:maximumBytes:)`).
extension LoginFlow {
    /// ``signIn(loginName:passwordSecret:clientAddress:clientLabel:replacing:)`` for a password held
    /// as a `String` (copied once into guarded memory; the `String` stays in ordinary memory).
    public func signIn(
        loginName: String, password: String, clientAddress: String, clientLabel: String? = nil,
        replacing previous: ResumedSession? = nil
    ) async throws(AuthenticationError) -> SignInProgress {
        try await signIn(
            loginName: loginName, passwordSecret: try secret(password), clientAddress: clientAddress,
            clientLabel: clientLabel, replacing: previous)
    }

    /// ``stepUp(_:passwordSecret:secondFactor:clientAddress:)`` for a password held as a `String`.
    public func stepUp(
        _ session: AuthenticatedSession, password: String, secondFactor: SecondFactor?, clientAddress: String
    ) async throws(AuthenticationError) -> AuthenticatedSession {
        try await stepUp(
            session, passwordSecret: try secret(password), secondFactor: secondFactor, clientAddress: clientAddress)
    }

    /// ``completeRegistration(_:loginName:passwordSecret:clientAddress:authenticator:confirmationCode:)``
    /// for a password held as a `String`.
    public func completeRegistration(
        _ session: RegistrationSession, loginName: String, password: String, clientAddress: String,
        authenticator: TOTP? = nil, confirmationCode: String? = nil
    ) async throws(AuthenticationError) -> String? {
        try await completeRegistration(
            session, loginName: loginName, passwordSecret: try secret(password), clientAddress: clientAddress,
            authenticator: authenticator, confirmationCode: confirmationCode)
    }

    /// ``completeRecovery(_:newPasswordSecret:)`` for a password held as a `String`.
    public func completeRecovery(_ session: RecoverySession, newPassword: String) async throws(AuthenticationError) {
        try await completeRecovery(session, newPasswordSecret: try secret(newPassword))
    }

    /// ``changePassword(_:currentPasswordSecret:newPasswordSecret:clientAddress:)`` for passwords held
    /// as `String`s.
    public func changePassword(
        _ session: AuthenticatedSession, currentPassword: String, newPassword: String, clientAddress: String
    ) async throws(AuthenticationError) -> AuthenticatedSession {
        try await changePassword(
            session, currentPasswordSecret: try secret(currentPassword), newPasswordSecret: try secret(newPassword),
            clientAddress: clientAddress)
    }

    /// The one copy of a `String` password into guarded memory. Empty and too-long passwords are
    /// carried through (and refused where they are used, as before); only a failure to allocate
    /// guarded memory fails here, as ``AuthenticationError/unavailable``.
    private func secret(_ password: String) throws(AuthenticationError) -> PasswordSecret {
        do { return try PasswordSecret(password) } catch {
            logger.error("guarded memory for a password failed", metadata: ["error": "\(error)"])
            throw .unavailable
        }
    }
}
