import Foundation
import Logging
import PHIGuardAccess
import PHIGuardAudit
public import PHIGuardPasswords
import PHIGuardRateLimit
import PHIGuardTOTP

extension LoginFlow {
    /// Step one: the password. On success the session waits for the second factor (or, for an
    /// account without one when the configuration allows it, is signed in).
    ///
    /// Any previous session of the client (`replacing`) is ended: the result always has a new token.
    ///
    /// `loginName` is canonicalised with ``LoginName``: every spelling of one name finds the same
    /// account and is counted under the same lockout key. A name that cannot be canonicalised
    /// (inner space, invisible character, …) is treated exactly like an unknown one.
    ///
    /// - Throws: ``AuthenticationError/rejected`` for an unknown or malformed login name, a wrong
    ///   password, a disabled account or a missing second factor — the same answer after the same
    ///   Argon2id work;
    ///   ``AuthenticationError/tryLater(retryAfter:)`` when a rate limit or the lockout policy holds the
    ///   attempt back (decided per name and address, whether or not the name exists);
    ///   ``AuthenticationError/unavailable`` when a backend fails.
    ///
    /// The password arrives in guarded memory (`PasswordSecret`) and goes from there
    /// to Argon2id; ``signIn(loginName:password:clientAddress:clientLabel:replacing:)`` is the
    /// `String` convenience.
    public func signIn(
        loginName: String, passwordSecret password: PasswordSecret, clientAddress: String, clientLabel: String? = nil,
        replacing previous: ResumedSession? = nil
    ) async throws(AuthenticationError) -> SignInProgress {
        // A name that cannot be canonicalised reaches no account: it is answered like an unknown one
        // (counted under its own key, the same dummy Argon2id work, the same error).
        let name = try? LoginName(loginName)
        let nameKey = Self.throttleKey(loginName: loginName)
        let charged = try await admit(clientAddress: clientAddress, throttleKey: nameKey, mfa: false)

        var found = AccountLookup.found(nil)
        if let name { found = try await lookUpAccount { try await accounts.account(loginName: name) } }
        guard case .found(let existing) = found, let account = existing else {
            _ = await passwords.verifyUnknownAccount(secret: password)  // the same Argon2id cost as a known name
            if case .tampered(let rowID) = found {
                // The row was edited outside PHIGuard (already audited as tampering): refused like a wrong password.
                try await countFailure(charged, clientAddress: clientAddress, account: rowID, reason: .tamperedRecord)
            }
            try await countFailure(charged, clientAddress: clientAddress, account: nil, reason: .unknownAccount)
        }
        let verification = try await verifyPassword(password, of: account)
        guard verification.isValid else {
            try await countFailure(charged, clientAddress: clientAddress, account: account.id, reason: .wrongPassword)
        }
        guard !account.isDisabled else {
            try await countFailure(charged, clientAddress: clientAddress, account: account.id, reason: .accountDisabled)
        }
        if account.totp == nil, configuration.requireSecondFactor {
            await auditor.failure(
                mfa: false, account: account.id, clientAddress: clientAddress, reason: .secondFactorNotEnrolled)
            throw .rejected
        }
        await forgetFailures(throttleKey: nameKey)
        if case .validNeedsRehash = verification { await rehash(password, account: account) }
        if let previous { try await end(previous) }

        let token = try newToken()
        if account.totp != nil {
            let record = try newRecord(
                .awaitingSecondFactor, token: token, accountID: account.id,
                lifetime: configuration.secondFactorTimeout, clientLabel: clientLabel)
            try await storeCall { try await sessions.insert(record) }
            await auditor.session(
                .sessionCreated, account: account.id, handle: record.handle, reason: "password-verified")
            return .awaitingSecondFactor(SecondFactorPendingSession(token: token, record: record))
        }
        let placeholder = try newRecord(
            .authenticated, token: token, accountID: account.id, lifetime: configuration.absoluteLifetime,
            clientLabel: clientLabel)
        let record = authenticatedRecord(
            token: token, account: account, strength: .singleFactor, from: placeholder, authenticatedAt: nil,
            clientLabel: clientLabel)
        try await storeCall { try await sessions.insert(record) }
        try await recordSignIn(record, method: "password")
        return .authenticated(try await authenticatedSession(token: token, record: record))
    }

    /// Step two: the second factor (a TOTP code, or a single-use recovery code). On success the
    /// session is authenticated under a new token; the pending token stops working.
    ///
    /// - Throws: ``AuthenticationError/rejected`` for a wrong, replayed or malformed code;
    ///   ``AuthenticationError/tryLater(retryAfter:)`` when codes for this account are throttled;
    ///   ``AuthenticationError/sessionEnded`` if the pending session expired (5 minutes by default)
    ///   or was used already.
    public func verifySecondFactor(
        _ pending: SecondFactorPendingSession, _ factor: SecondFactor, clientAddress: String
    ) async throws(AuthenticationError) -> AuthenticatedSession {
        let record = try await requireCurrent(pending.record, in: .awaitingSecondFactor)
        guard let accountID = record.accountID else { throw .sessionEnded }
        let accountKey = Self.throttleKey(accountID: accountID)
        let charged = try await admit(
            clientAddress: clientAddress, throttleKey: accountKey, mfa: true, account: accountID)
        let lookup = try await lookUpAccount { try await accounts.account(id: accountID) }
        guard let account = lookup.account, !account.isDisabled else {
            _ = try await storeCall { try await sessions.remove(record.tokenHash) }
            let reason: AuthenticationFailureReason =
                if case .tampered = lookup { .tamperedRecord } else { .accountDisabled }
            await auditor.failure(
                mfa: true, account: accountID, handle: record.handle, clientAddress: clientAddress, reason: reason)
            throw .rejected
        }
        if let failure = try await check(factor, account: account) {
            try await countFailure(
                charged, clientAddress: clientAddress, account: accountID, handle: record.handle, reason: failure,
                mfa: true)
        }
        await forgetFailures(throttleKey: accountKey)
        let token = try newToken()
        let authenticated = authenticatedRecord(
            token: token, account: account, strength: .multiFactor, from: record, authenticatedAt: nil,
            clientLabel: nil)
        try await rotate(record, to: authenticated)
        do {
            try await auditor.required {
                () throws -> [AuditEvent] in
                [
                    try .mfa(
                        factor.isRecoveryCode ? .mfaRecoveryCodeUsed : .mfaVerified, userID: accountID,
                        succeeded: true, factor: factor.auditName, sessionID: authenticated.handle, at: clock.now),
                    try .login(
                        succeeded: true, userID: accountID, sessionID: authenticated.handle,
                        method: "password-\(factor.auditName)", at: clock.now),
                ]
            }
        } catch {
            _ = try? await sessions.remove(authenticated.tokenHash)
            throw error
        }
        return try await authenticatedSession(token: token, record: authenticated)
    }

    /// Re-authentication for sensitive actions: the password again (and the second factor, if the
    /// account has one). The session keeps its handle and limits, gets a new token, and its
    /// `AuthenticatedPrincipal.recentlyAuthenticatedAt` becomes now.
    ///
    /// ``stepUp(_:password:secondFactor:clientAddress:)`` is the `String` convenience.
    public func stepUp(
        _ session: AuthenticatedSession, passwordSecret password: PasswordSecret, secondFactor: SecondFactor?,
        clientAddress: String
    ) async throws(AuthenticationError) -> AuthenticatedSession {
        let record = try await requireCurrent(session.record, in: .authenticated)
        let (account, charged) = try await verifyCurrentPassword(password, record: record, clientAddress: clientAddress)
        if account.totp != nil {
            guard let secondFactor, try await check(secondFactor, account: account) == nil else {
                try await countFailure(
                    charged, clientAddress: clientAddress, account: account.id, handle: record.handle,
                    reason: .wrongCode, mfa: true)
            }
        }
        await forgetFailures(throttleKey: Self.throttleKey(accountID: account.id))
        let updated = try await reissue(record, for: account)
        try await recordSignIn(updated.record, method: "step-up")
        return updated
    }

    // MARK: Steps shared by the transitions

    /// The rate limits (per address, global), then the lockout admission for `throttleKey`, which
    /// counts the attempt as a failure before any credential is checked (``forgetFailures(throttleKey:)``
    /// erases it on success). Returns what the count changed, for ``countFailure(_:clientAddress:account:handle:reason:mfa:)``.
    func admit(
        clientAddress: String, throttleKey: String, mfa: Bool, account: String? = nil
    ) async throws(AuthenticationError) -> LockoutEvent {
        try await checkRateLimits(clientAddress: clientAddress, mfa: mfa, account: account)
        let admission: LockoutAdmission
        do { admission = try await throttle.admitAttempt(account: throttleKey, address: clientAddress) } catch {
            // Nothing was tested: a store that cannot count refuses the attempt (fail closed).
            logger.error("lockout store failed", metadata: ["error": "\(error)"])
            throw .unavailable
        }
        switch admission {
        case .admitted(let event): return event
        case .refused(.delayed(let retryAfter)), .refused(.lockedOut(let retryAfter)):
            await auditor.failure(mfa: mfa, account: account, clientAddress: clientAddress, reason: .throttled)
            throw .tryLater(retryAfter: retryAfter)
        case .refused(.open):  // a store never refuses with an open gate; treat it as a closed one
            await auditor.failure(mfa: mfa, account: account, clientAddress: clientAddress, reason: .throttled)
            throw .tryLater(retryAfter: .seconds(1))
        }
    }

    /// The rate limits and the lockout gate, counting nothing: for requests that test no credential
    /// (password recovery).
    func admitWithoutCounting(clientAddress: String, throttleKey: String) async throws(AuthenticationError) {
        try await checkRateLimits(clientAddress: clientAddress, mfa: false, account: nil)
        let gate: LoginGate
        do { gate = try await throttle.gate(account: throttleKey, address: clientAddress) } catch {
            logger.error("lockout store failed", metadata: ["error": "\(error)"])
            throw .unavailable
        }
        switch gate {
        case .open: return
        case .delayed(let retryAfter), .lockedOut(let retryAfter):
            await auditor.failure(mfa: false, account: nil, clientAddress: clientAddress, reason: .throttled)
            throw .tryLater(retryAfter: retryAfter)
        }
    }

    /// The per-address and global rate limits (of sign-in attempts, or of registrations).
    func checkRateLimits(
        clientAddress: String, mfa: Bool, account: String?, registration: Bool = false
    ) async throws(AuthenticationError) {
        var checks: [RateLimitCheck] = []
        let perAddressLimit = registration ? rateLimits.registrationPerAddress : rateLimits.perAddress
        let globalLimit = registration ? rateLimits.registrationGlobal : rateLimits.global
        if let perAddress = perAddressLimit { checks.append(RateLimitCheck(perAddress, key: clientAddress)) }
        if let global = globalLimit { checks.append(RateLimitCheck(global, key: "all")) }
        guard !checks.isEmpty else { return }
        let decision: RateLimitDecision
        do { decision = try await rateLimiter.check(checks) } catch {
            logger.error("rate-limit check invalid", metadata: ["error": "\(error)"])
            throw .unavailable
        }
        guard decision.allowed else {
            await auditor.failure(mfa: mfa, account: account, clientAddress: clientAddress, reason: .rateLimited)
            throw .tryLater(retryAfter: decision.retryAfter)
        }
    }

    /// Audits a failure that ``admit(clientAddress:throttleKey:mfa:account:)`` has already counted
    /// (`charged`), with the lockout it started if any, and throws the uniform rejection.
    func countFailure(
        _ charged: LockoutEvent, clientAddress: String, account: String?, handle: String? = nil,
        reason: AuthenticationFailureReason, mfa: Bool = false
    ) async throws(AuthenticationError) -> Never {
        await auditor.failure(mfa: mfa, account: account, handle: handle, clientAddress: clientAddress, reason: reason)
        if case .accountLocked(_, let duration) = charged {
            await auditor.lockout(account: account, clientAddress: clientAddress, duration: duration)
        }
        throw .rejected
    }

    /// Resets the lockout counters after a success. A store failure is logged, not fatal: the
    /// credentials were right, and the counters only make later attempts wait longer.
    func forgetFailures(throttleKey: String) async {
        do { try await throttle.recordSuccess(account: throttleKey) } catch {
            logger.error("lockout store failed to reset counters", metadata: ["error": "\(error)"])
        }
    }

    /// `nil` if `factor` is right for `account`, else why not. Malformed codes count as wrong.
    func check(_ factor: SecondFactor, account: Account) async throws(AuthenticationError)
        -> AuthenticationFailureReason?
    {
        switch factor {
        case .totp(let code):
            guard let authenticator = account.totp else { return .wrongCode }
            let result: TOTPVerificationResult
            do {
                // Counted once, in `throttle`, by `admit`: not again in the verifier's own lockout store.
                result = try await totp.verifyUncounted(
                    code, accountID: account.id, totp: authenticator, unixSeconds: clock.wallClockSeconds())
            } catch {
                if case .totp = error { return .wrongCode }
                logger.error("TOTP replay store failed", metadata: ["error": "\(error)"])
                throw .unavailable
            }
            switch result {
            case .accepted: return nil
            case .invalid: return .wrongCode
            case .replayed: return .replayedCode
            case .throttled(let retryAfter): throw .tryLater(retryAfter: retryAfter)
            }
        case .recoveryCode(let code):
            guard let recoveryCodeHasher, let recoveryCodes, let hash = try? recoveryCodeHasher.hash(code) else {
                return .wrongRecoveryCode
            }
            let consumed: Bool
            do { consumed = try await recoveryCodes.consume(hash, accountID: account.id) } catch {
                logger.error(
                    "recovery code store failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                throw .unavailable
            }
            return consumed ? nil : .wrongRecoveryCode
        }
    }

    /// Verifies the signed-in user's current password (step-up, password change). The attempt is
    /// counted as a failure until the caller, once every check has passed, forgets it.
    func verifyCurrentPassword(_ password: PasswordSecret, record: SessionRecord, clientAddress: String)
        async throws(AuthenticationError) -> (account: Account, charged: LockoutEvent)
    {
        guard let accountID = record.accountID else { throw .sessionEnded }
        let accountKey = Self.throttleKey(accountID: accountID)
        let charged = try await admit(
            clientAddress: clientAddress, throttleKey: accountKey, mfa: false, account: accountID)
        guard let account = try await lookUpAccount({ try await accounts.account(id: accountID) }).account,
            !account.isDisabled
        else {
            _ = try await storeCall { try await sessions.removeSessions(accountID: accountID, except: nil) }
            throw .sessionEnded
        }
        let verification = try await verifyPassword(password, of: account, handle: record.handle)
        guard verification.isValid else {
            try await countFailure(
                charged, clientAddress: clientAddress, account: accountID, handle: record.handle, reason: .wrongPassword
            )
        }
        return (account, charged)
    }

    /// Checks `password` against the account's stored hash, one way for every transition (sign-in,
    /// step-up, password change): an overloaded or cancelled hasher answers `unavailable`; a password
    /// that cannot be right (empty, too long) is `.invalid`, a wrong guess; a stored hash that cannot
    /// be used is logged and audited as a backend failure (never as the user's wrong password) and
    /// answered `rejected`, the same answer as any other failure.
    func verifyPassword(_ password: PasswordSecret, of account: Account, handle: String? = nil)
        async throws(AuthenticationError) -> PasswordVerification
    {
        do {
            return try await passwords.verify(secret: password, against: account.passwordHash)
        } catch {
            switch error {
            case .overloaded, .cancelled:
                throw .unavailable
            case .passwordTooLong, .emptyPassword, .invalidEncoding:
                return .invalid
            default:
                logger.error("stored password hash unusable", metadata: ["error": "\(error)"])
                await auditor.failure(mfa: false, account: account.id, handle: handle, reason: .backendFailure)
                throw .rejected
            }
        }
    }

    /// Audits a completed sign-in (required: on failure the new session is removed and the step refused).
    func recordSignIn(_ record: SessionRecord, method: String) async throws(AuthenticationError) {
        guard let accountID = record.accountID else { return }
        do {
            try await auditor.required { () throws -> [AuditEvent] in
                [
                    try .login(
                        succeeded: true, userID: accountID, sessionID: record.handle, method: method, at: clock.now)
                ]
            }
        } catch {
            _ = try? await sessions.remove(record.tokenHash)
            throw error
        }
    }

    /// Replaces an outdated hash while the password is in hand (best effort: failure is logged).
    func rehash(_ password: PasswordSecret, account: Account) async {
        do {
            let fresh = try await passwords.hash(secret: password)
            try await accounts.setPasswordHash(fresh, accountID: account.id)
        } catch {
            logger.warning("password rehash skipped", metadata: ["error": "\(String(reflecting: type(of: error)))"])
        }
    }

    /// The lockout key of a login name as typed: its canonical form's key (``LoginName/throttleKey``),
    /// so every spelling that reaches one account shares one counter. A name that cannot be
    /// canonicalised reaches no account; it is counted under a key of its own (trimmed, NFKC,
    /// lower-cased, at most 1,024 bytes of input), as an unknown name would be, and never under a
    /// valid name's key (it holds a character no canonical name has, or is empty or too long).
    static func throttleKey(loginName: String) -> String {
        if let name = try? LoginName(loginName) { return name.throttleKey }
        let bounded = String(decoding: loginName.utf8.prefix(LoginName.maximumInputByteCount), as: UTF8.self)
        return "name:"
            + bounded.trimmingCharacters(in: .whitespacesAndNewlines)
            .precomposedStringWithCompatibilityMapping.lowercased()
    }

    /// The lockout key of an account's second factor and re-authentication.
    static func throttleKey(accountID: String) -> String { "account:" + accountID }
}

extension SecondFactor {
    var isRecoveryCode: Bool {
        if case .recoveryCode = self { true } else { false }
    }

    var auditName: String { isRecoveryCode ? "recovery-code" : "totp" }
}
