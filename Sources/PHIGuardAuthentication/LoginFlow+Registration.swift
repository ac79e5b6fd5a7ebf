import Logging
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardPasswords
public import PHIGuardTOTP

extension LoginFlow {
    // MARK: Registration

    /// Opens a registration session (the client's previous session, if any, is ended).
    ///
    /// A registration session has no account and no principal. It reaches no other state: completing
    /// it creates the account and ends the session; the user then signs in like everyone else.
    public func beginRegistration(clientLabel: String? = nil, replacing previous: ResumedSession? = nil)
        async throws(AuthenticationError) -> RegistrationSession
    {
        if let previous { try await end(previous) }
        let token = try newToken()
        let record = try newRecord(
            .registering, token: token, accountID: nil, lifetime: configuration.registrationLifetime,
            clientLabel: clientLabel)
        try await storeCall { try await sessions.insert(record) }
        return RegistrationSession(token: token, record: record)
    }

    /// Creates the account and ends the registration session. Returns the new account id; the user is
    /// **not** signed in.
    ///
    /// When the configuration requires a second factor, the user must enrol one here: `authenticator`
    /// (from a `TOTPEnrollment` you showed as a QR code) and a `confirmationCode` it produced.
    ///
    /// - Throws: ``AuthenticationError/passwordNotAccepted(_:)`` when the password breaks the policy;
    ///   ``AuthenticationError/rejected`` when the name is taken or the confirmation code is wrong;
    ///   ``AuthenticationError/sessionEnded`` when the registration session has ended.
    public func completeRegistration(
        _ session: RegistrationSession, loginName: String, password: String, authenticator: TOTP? = nil,
        confirmationCode: String? = nil
    ) async throws(AuthenticationError) -> String {
        let record = try await requireCurrent(session.record, in: .registering)
        let usage: PasswordPolicy.Usage = authenticator == nil ? .singleFactor : .withMultiFactor
        let violations = passwordPolicy.violations(of: password, usage: usage, contextWords: [loginName])
        guard violations.isEmpty else { throw .passwordNotAccepted(violations) }
        var confirmedStep: UInt64?
        if let authenticator {
            guard let confirmationCode,
                let step = try? authenticator.verify(confirmationCode, at: clock.now, window: totp.window)
            else { throw .rejected }
            confirmedStep = step
        } else if configuration.requireSecondFactor {
            throw .rejected
        }
        let hash: String
        do { hash = try await passwords.hash(password) } catch {
            logger.error("password hashing failed", metadata: ["error": "\(error)"])
            throw .unavailable
        }
        let created = try await directoryCall {
            try await accounts.createAccount(loginName: loginName, passwordHash: hash, totp: authenticator)
        }
        _ = try await storeCall { try await sessions.remove(record.tokenHash) }
        guard let accountID = created else { throw .rejected }
        if let confirmedStep {
            // The confirmation code is spent: it must not also sign the new account in (RFC 6238 §5.2).
            do { _ = try await totp.replayStore.advance(accountID: accountID, to: confirmedStep) } catch {
                logger.error("TOTP replay store failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                throw .unavailable
            }
        }
        logger.info("account registered", metadata: ["account": "\(accountID)"])
        return accountID
    }

    // MARK: Password recovery

    /// Starts password recovery for `loginName`. Returns the link secret to deliver **out of band**
    /// to the account's owner, or `nil` when no active account has that name — answer the client the
    /// same way in both cases ("if the account exists, we sent a link").
    ///
    /// - Throws: ``AuthenticationError/tryLater(retryAfter:)`` when the address or the service is over
    ///   its rate limit.
    public func requestPasswordRecovery(loginName: String, clientAddress: String)
        async throws(AuthenticationError) -> PasswordRecoveryDelivery?
    {
        try await admitWithoutCounting(
            clientAddress: clientAddress, throttleKey: Self.throttleKey(loginName: loginName))
        guard let account = try await directoryCall({ try await accounts.account(loginName: loginName) }),
            !account.isDisabled
        else { return nil }
        let token = try newToken()
        let record = try newRecord(
            .recovering, token: token, accountID: account.id, lifetime: configuration.recoveryLifetime,
            clientLabel: nil)
        try await storeCall { try await sessions.insert(record) }
        await auditor.session(.sessionCreated, account: account.id, handle: record.handle, reason: "recovery-requested")
        return PasswordRecoveryDelivery(accountID: account.id, token: token, expiresAt: record.absoluteExpiresAt)
    }

    /// Sets a new password from a recovery session, then revokes **every** session of the account
    /// (the recovery session included). The user signs in afterwards, second factor and all:
    /// recovery never produces a principal.
    ///
    /// - Throws: ``AuthenticationError/passwordNotAccepted(_:)``, ``AuthenticationError/sessionEnded``
    ///   (link expired or used), ``AuthenticationError/unavailable``.
    public func completeRecovery(_ session: RecoverySession, newPassword: String) async throws(AuthenticationError) {
        let record = try await requireCurrent(session.record, in: .recovering)
        guard let accountID = record.accountID,
            let account = try await directoryCall({ try await accounts.account(id: accountID) }), !account.isDisabled
        else { throw .sessionEnded }
        try await setPassword(newPassword, for: account)
        let revoked = try await storeCall { try await sessions.removeSessions(accountID: accountID, except: nil) }
        for ended in revoked {
            await auditor.session(
                .sessionRevoked, account: accountID, handle: ended.handle, reason: "password-recovered")
        }
    }

    /// Checks `password` against the policy, hashes it and stores the hash.
    func setPassword(_ password: String, for account: Account) async throws(AuthenticationError) {
        let usage: PasswordPolicy.Usage = account.totp == nil ? .singleFactor : .withMultiFactor
        let violations = passwordPolicy.violations(of: password, usage: usage)
        guard violations.isEmpty else { throw .passwordNotAccepted(violations) }
        let hash: String
        do { hash = try await passwords.hash(password) } catch {
            logger.error("password hashing failed", metadata: ["error": "\(error)"])
            throw .unavailable
        }
        try await directoryCall { try await accounts.setPasswordHash(hash, accountID: account.id) }
    }
}
