import Logging
import PHIGuardAccess
import PHIGuardAudit
public import PHIGuardPasswords
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

    /// Ends the registration session and, **if the name is free**, creates the account. Returns the
    /// new account id, or `nil` when the name — or a name that looks like it (``LoginName/skeleton``)
    /// — is taken. Answer the client the same way in both cases ("if the name is free, the account
    /// is created after confirmation; sign in to check"), and tell the owner of a taken name out of
    /// band if you like: the flow has done the same work either way (policy check, confirmation code,
    /// Argon2id hash, one directory call). The user is **not** signed in.
    ///
    /// When the configuration requires a second factor, the user must enrol one here: `authenticator`
    /// (from a `TOTPEnrollment` you showed as a QR code) and a `confirmationCode` it produced.
    ///
    /// Completed registrations are rate-limited per `clientAddress` and in all
    /// (``LoginFlow/RateLimits/registrationPerAddress``, ``LoginFlow/RateLimits/registrationGlobal``).
    ///
    /// - Throws: ``AuthenticationError/loginNameNotAccepted(_:)`` when the name breaks the login-name
    ///   rules (``LoginName``, ``LoginName/checkRegistrable()``: a property of the string, not of the
    ///   directory); ``AuthenticationError/passwordNotAccepted(_:)`` when the password breaks the
    ///   policy; ``AuthenticationError/rejected`` when the confirmation code is wrong;
    ///   ``AuthenticationError/tryLater(retryAfter:)`` over a rate limit;
    ///   ``AuthenticationError/sessionEnded`` when the registration session has ended.
    ///
    /// ``completeRegistration(_:loginName:password:clientAddress:authenticator:confirmationCode:)`` is
    /// the `String` convenience.
    public func completeRegistration(
        _ session: RegistrationSession, loginName: String, passwordSecret password: PasswordSecret,
        clientAddress: String,
        authenticator: TOTP? = nil, confirmationCode: String? = nil
    ) async throws(AuthenticationError) -> String? {
        let record = try await requireCurrent(session.record, in: .registering)
        try await checkRateLimits(clientAddress: clientAddress, mfa: false, account: nil, registration: true)
        let name: LoginName
        do throws(LoginNameError) {
            name = try LoginName(loginName)
            try name.checkRegistrable()
        } catch {
            throw .loginNameNotAccepted(error)
        }
        let usage: PasswordPolicy.Usage = authenticator == nil ? .singleFactor : .withMultiFactor
        let violations = passwordPolicy.violations(ofSecret: password, usage: usage, contextWords: [name.value])
        guard violations.isEmpty else { throw .passwordNotAccepted(violations) }
        var confirmedStep: UInt64?
        if let authenticator {
            guard let confirmationCode,
                let step = try? authenticator.verify(
                    confirmationCode, unixSeconds: clock.wallClockSeconds(), window: totp.window)
            else { throw .rejected }
            confirmedStep = step
        } else if configuration.requireSecondFactor {
            throw .rejected
        }
        let hash: String
        do { hash = try await passwords.hash(secret: password) } catch {
            logger.error("password hashing failed", metadata: ["error": "\(error)"])
            throw .unavailable
        }
        let created = try await directoryCall {
            try await accounts.createAccount(loginName: name, passwordHash: hash, totp: authenticator)
        }
        _ = try await storeCall { try await sessions.remove(record.tokenHash) }
        guard let accountID = created else {
            logger.notice("registration for a taken or look-alike login name: no account created")
            return nil
        }
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
    /// The work is the same whether or not the account exists, so timing does not tell them apart:
    /// the same directory lookup, a fresh token, a recovery record inserted into the session store
    /// and an audit event. For an unknown or disabled account (or a name that cannot be
    /// canonicalised) the record has no account — nothing can complete it, and its token is dropped —
    /// and it expires like any other (``purgeExpiredSessions()``); the audit event says
    /// `recovery-requested-unknown-account` with no actor.
    ///
    /// - Throws: ``AuthenticationError/tryLater(retryAfter:)`` when the address or the service is over
    ///   its rate limit.
    public func requestPasswordRecovery(loginName: String, clientAddress: String)
        async throws(AuthenticationError) -> PasswordRecoveryDelivery?
    {
        try await admitWithoutCounting(
            clientAddress: clientAddress, throttleKey: Self.throttleKey(loginName: loginName))
        var found: Account?
        if let name = try? LoginName(loginName) {
            found = try await lookUpAccount { try await accounts.account(loginName: name) }.account
        }
        let account = found.flatMap { $0.isDisabled ? nil : $0 }
        let token = try newToken()
        let record = try newRecord(
            .recovering, token: token, accountID: account?.id, lifetime: configuration.recoveryLifetime,
            clientLabel: nil)
        try await storeCall { try await sessions.insert(record) }
        await auditor.recoveryRequested(account: account?.id, handle: record.handle)
        guard let account else { return nil }
        return PasswordRecoveryDelivery(accountID: account.id, token: token, expiresAt: record.absoluteExpiresAt)
    }

    /// Sets a new password from a recovery session, then revokes **every** session of the account
    /// (the recovery session included). The user signs in afterwards, second factor and all:
    /// recovery never produces a principal.
    ///
    /// - Throws: ``AuthenticationError/passwordNotAccepted(_:)``, ``AuthenticationError/sessionEnded``
    ///   (link expired or used), ``AuthenticationError/unavailable``.
    ///
    /// ``completeRecovery(_:newPassword:)`` is the `String` convenience.
    public func completeRecovery(_ session: RecoverySession, newPasswordSecret newPassword: PasswordSecret)
        async throws(AuthenticationError)
    {
        let record = try await requireCurrent(session.record, in: .recovering)
        guard let accountID = record.accountID,
            let account = try await lookUpAccount({ try await accounts.account(id: accountID) }).account,
            !account.isDisabled
        else { throw .sessionEnded }
        try await setPassword(newPassword, for: account)
        let revoked = try await storeCall { try await sessions.removeSessions(accountID: accountID, except: nil) }
        for ended in revoked {
            await auditor.session(
                .sessionRevoked, account: accountID, handle: ended.handle, reason: "password-recovered")
        }
    }

    /// Checks `password` against the policy, hashes it and stores the hash.
    func setPassword(_ password: PasswordSecret, for account: Account) async throws(AuthenticationError) {
        let usage: PasswordPolicy.Usage = account.totp == nil ? .singleFactor : .withMultiFactor
        let violations = passwordPolicy.violations(ofSecret: password, usage: usage)
        guard violations.isEmpty else { throw .passwordNotAccepted(violations) }
        let hash: String
        do { hash = try await passwords.hash(secret: password) } catch {
            logger.error("password hashing failed", metadata: ["error": "\(error)"])
            throw .unavailable
        }
        try await directoryCall { try await accounts.setPasswordHash(hash, accountID: account.id) }
    }
}
