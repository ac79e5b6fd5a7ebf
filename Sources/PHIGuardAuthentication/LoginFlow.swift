public import CoreMetrics
import Foundation
public import Logging
public import PHIGuardAccess
public import PHIGuardAudit
internal import PHIGuardCrypto
public import PHIGuardPasswords
public import PHIGuardRateLimit
public import PHIGuardTOTP

/// The sign-in state machine: the only way to move a session between states, and the only maker of
/// `AuthenticatedPrincipal`s.
///
/// ```text
///               beginRegistration            completeRegistration
///  anonymous ───────────────────▶ registering ───────────────────▶ anonymous (account created)
///      │    requestPasswordRecovery + link      completeRecovery
///      ├───────────────────────────▶ recovering ─────────────────▶ anonymous (all sessions revoked)
///      │ signIn (password)                     verifySecondFactor
///      └──────────────────▶ awaiting-second-factor ───────────────▶ authenticated ──┐ stepUp,
///                                                                        ▲          │ changePassword,
///                                                                        └──────────┘ privilegesChanged
/// ```
///
/// Each transition is a method that takes the typed session it starts from
/// (``RegistrationSession``, ``RecoverySession``, ``SecondFactorPendingSession``,
/// ``AuthenticatedSession``), re-reads it from the store, checks its preconditions, and stores the
/// next state under a **new** token (the old one stops working in the same step). Only
/// ``AuthenticatedSession`` carries a principal, and `AccessEngine` accepts nothing else.
///
/// ```swift
/// let flow = try LoginFlow(accounts: myUsers, sessions: InMemorySessionStore(),
///                          passwords: try PasswordHasher(), totp: try TOTPVerifier(replayStore: replay),
///                          audit: auditLog)
/// switch try await flow.signIn(loginName: name, password: password, clientAddress: ip) {
/// case .awaitingSecondFactor(let pending): setCookie(pending.token.cookieValue)  // ask for the code
/// case .authenticated(let session): setCookie(session.token.cookieValue)
/// }
/// // next request, with the code:
/// guard case .awaitingSecondFactor(let pending) = try await flow.resume(cookie) else { … }
/// let session = try await flow.verifySecondFactor(pending, .totp(code), clientAddress: ip)
/// setCookie(session.token.cookieValue)
/// let decision = engine.decide(session.principal, .read, chart)
/// ```
///
/// Failures are uniform (``AuthenticationError/rejected``) whatever the reason; unknown login names
/// cost a dummy Argon2id verification so timing does not tell them apart. The reason goes to the
/// audit log (``AuthenticationFailureReason``) and the logger, and is counted (``LoginMetricLabel``).
public final class LoginFlow: Sendable {
    /// The limits checked before any credential is looked at, and before a registration is completed.
    public struct RateLimits: Sendable, Hashable {
        /// Per client address (against credential stuffing from one source).
        public var perAddress: RateLimit?
        /// For all attempts together (a ceiling on what the service spends on Argon2id).
        public var global: RateLimit?
        /// Completed registrations per client address (against probing names and mass sign-ups).
        public var registrationPerAddress: RateLimit?
        /// Completed registrations in all.
        public var registrationGlobal: RateLimit?

        /// Limits; the defaults are 30 attempts a minute per address (burst 10) and 600 a minute in
        /// all, and for registration 10 an hour per address (burst 5) and 600 an hour in all (burst 60).
        public init(
            perAddress: RateLimit? = Self.defaultPerAddress, global: RateLimit? = Self.defaultGlobal,
            registrationPerAddress: RateLimit? = Self.defaultRegistrationPerAddress,
            registrationGlobal: RateLimit? = Self.defaultRegistrationGlobal
        ) {
            self.perAddress = perAddress
            self.global = global
            self.registrationPerAddress = registrationPerAddress
            self.registrationGlobal = registrationGlobal
        }

        /// 10 registrations an hour per address, burst 5.
        public static let defaultRegistrationPerAddress = try! RateLimit(
            "registration-per-address", count: 10, per: .seconds(3600), burst: 5)
        /// 600 registrations an hour in all, burst 60.
        public static let defaultRegistrationGlobal = try! RateLimit(
            "registration-global", count: 600, per: .seconds(3600), burst: 60)

        /// 30 a minute per address, burst 10.
        public static let defaultPerAddress = try! RateLimit(
            "login-per-address", count: 30, per: .seconds(60), burst: 10)
        /// 600 a minute in all, burst 100.
        public static let defaultGlobal = try! RateLimit("login-global", count: 600, per: .seconds(60), burst: 100)
    }

    let accounts: any AccountDirectory
    let sessions: any SessionStore
    let passwords: PasswordHasher
    let totp: TOTPVerifier
    let recoveryCodeHasher: RecoveryCodeHasher?
    let recoveryCodes: (any RecoveryCodeStore)?
    let throttle: any LockoutStore
    let rateLimiter: RateLimiter
    let rateLimits: RateLimits
    let passwordPolicy: PasswordPolicy
    let auditor: LoginAuditor
    /// Seals every session record the flow writes; verifies every record it reads.
    let sealing: RowSealingKey
    /// Where the care-team memberships of authenticated principals are loaded from, per request.
    let careTeams: (any CareTeamStore)?
    /// The clock for every lifetime (inject a manual one in tests).
    public let clock: any PHIGuardClock
    /// The lifetimes and rules.
    public let configuration: LoginConfiguration
    let logger: Logger

    /// A flow over your account directory and a session store.
    ///
    /// - Parameters:
    ///   - accounts: your user table.
    ///   - sessions: where sessions live.
    ///   - passwords: the Argon2id hasher (its parameters decide the cost of every attempt).
    ///   - totp: the TOTP verifier (replay protection). Codes are counted in `throttle`, with every
    ///     other second-factor attempt, and not in the verifier's own lockout store.
    ///   - recoveryCodes: the hasher and store of single-use recovery codes, if you issue them.
    ///   - throttle: progressive delays and temporary lock per login name and per account: by default an
    ///     `InMemoryLockoutStore` on `clock`; `SQLiteLockoutStore` to survive restarts,
    ///     `PostgresLockoutStore` for several instances.
    ///   - rateLimiter: the store for ``RateLimits`` (by default in memory, on `clock`; PostgreSQL for
    ///     several instances).
    ///   - rateLimits: the per-address and global limits.
    ///   - passwordPolicy: what new passwords must satisfy (registration, change, recovery).
    ///   - audit: the audit log; sign-ins, second factors and session events are recorded there. A
    ///     successful step is refused (``AuthenticationError/unavailable``) if its event cannot be recorded.
    ///   - clock: the time source of sessions and audit events (its wall reading). Give the same clock
    ///     to the lockout and rate-limit stores.
    ///   - configuration: lifetimes; throws ``LoginConfigurationError`` if invalid.
    ///   - logger: where failures and their internal reasons are logged (never passwords, codes or tokens).
    ///   - metrics: makes the counters of failed sign-ins (by ``AuthenticationFailureReason``) and
    ///     lockouts (labels in ``LoginMetricLabel``); the process-wide `MetricsSystem.factory` by default.
    ///   - sealingKey: the key that seals every session record the flow writes, and against which it
    ///     checks every record it reads (see <doc:SealedAuthorizationData>). Required (the flow throws
    ///     ``LoginConfigurationError/sealingKeyRequired``) unless `sessions` is an
    ///     ``InMemorySessionStore``, whose records never outlive the process: then `nil` means a
    ///     fresh random key for this flow.
    ///   - careTeams: where the care-team memberships of a signed-in user are read from, on every
    ///     ``resume(_:)`` and sign-in: they become the principal's `Subject.careTeamPatients`, so a
    ///     membership changed in the database counts from the next request on.
    public init(
        accounts: any AccountDirectory, sessions: any SessionStore, passwords: PasswordHasher, totp: TOTPVerifier,
        recoveryCodes: (hasher: RecoveryCodeHasher, store: any RecoveryCodeStore)? = nil,
        throttle: (any LockoutStore)? = nil, rateLimiter: RateLimiter? = nil,
        rateLimits: RateLimits = RateLimits(), passwordPolicy: PasswordPolicy = PasswordPolicy(),
        audit: AuditLog? = nil, clock: any PHIGuardClock = SystemClock(),
        configuration: LoginConfiguration = LoginConfiguration(),
        logger: Logger = Logger(label: "phiguard.authentication"),
        metrics: any MetricsFactory = MetricsSystem.factory, sealingKey: RowSealingKey? = nil,
        careTeams: (any CareTeamStore)? = nil
    ) throws(LoginConfigurationError) {
        try configuration.validate()
        if let sealingKey {
            self.sealing = sealingKey
        } else if sessions is InMemorySessionStore {
            do { self.sealing = try RowSealingKey.generate() } catch { throw .invalidSealingKey("\(error)") }
        } else {
            throw .sealingKeyRequired
        }
        self.careTeams = careTeams
        self.accounts = accounts
        self.sessions = sessions
        self.passwords = passwords
        self.totp = totp
        self.recoveryCodeHasher = recoveryCodes?.hasher
        self.recoveryCodes = recoveryCodes?.store
        self.throttle = throttle ?? InMemoryLockoutStore(clock: clock)
        if let rateLimiter {
            self.rateLimiter = rateLimiter
        } else {
            do {
                self.rateLimiter = RateLimiter(store: try InMemoryRateLimitStore(clock: clock), logger: logger)
            } catch {
                throw .invalidRateLimiter("\(error)")
            }
        }
        self.rateLimits = rateLimits
        self.passwordPolicy = passwordPolicy
        self.auditor = LoginAuditor(log: audit, logger: logger, clock: clock, counters: LoginCounters(factory: metrics))
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: Resuming

    /// Finds the session for the token a client presented (its cookie value), or ``ResumedSession/anonymous``.
    ///
    /// Strict mode: a value that is malformed, was never issued, was rotated away or has expired is
    /// refused (the result is anonymous; nothing is created under it). An authenticated session's
    /// idle limit moves forward (never past the absolute limit): written to the store when at least
    /// `LoginConfiguration.idleRefreshInterval` has passed since its last recorded use, so most
    /// requests only read (see ``LoginConfiguration/idleRefreshInterval`` for the exactness bound).
    public func resume(_ cookieValue: String?) async throws(AuthenticationError) -> ResumedSession {
        guard let cookieValue else { return .anonymous }
        guard let token = SessionToken(cookieValue: cookieValue) else {
            logger.notice("malformed session token refused")
            return .anonymous
        }
        guard let record = try await current(token.hash) else {
            logger.notice("session token not issued or no longer valid; refused (strict mode)")
            return .anonymous
        }
        switch record.state {
        case .registering: return .registering(RegistrationSession(token: token, record: record))
        case .recovering: return .recovering(RecoverySession(token: token, record: record))
        case .awaitingSecondFactor:
            return .awaitingSecondFactor(SecondFactorPendingSession(token: token, record: record))
        case .authenticated:
            guard record.accountID != nil, record.strength != nil, record.authenticatedAt != nil else {
                // A stored row that claims to be signed in without saying who, or how: never honour it.
                logger.error("authenticated session record incomplete; removed")
                _ = try await storeCall { try await sessions.remove(record.tokenHash) }
                return .anonymous
            }
            let now = clock.now
            guard needsIdleRefresh(record, at: now) else {
                return .authenticated(try await authenticatedSession(token: token, record: record))
            }
            var touched = record
            touched.lastSeenAt = now
            touched.idleExpiresAt = min(now.adding(configuration.idleTimeout), record.absoluteExpiresAt)
            try await storeCall {
                try await sessions.touch(record.tokenHash, lastSeenAt: now, idleExpiresAt: touched.idleExpiresAt)
            }
            return .authenticated(try await authenticatedSession(token: token, record: touched))
        }
    }

    /// Whether a use at `now` must be written: at least the refresh interval since the last recorded
    /// use, or a clock that went back (then the idle limit is recomputed from the earlier reading).
    func needsIdleRefresh(_ record: SessionRecord, at now: Date) -> Bool {
        let interval = configuration.effectiveIdleRefreshInterval
        guard interval > .zero else { return true }
        let elapsed = now.timeIntervalSince(record.lastSeenAt)
        return elapsed < 0 || elapsed >= interval.seconds
    }

    /// Ends whatever session `resumed` is (sign-out, or abandoning a registration or recovery).
    public func end(_ resumed: ResumedSession) async throws(AuthenticationError) {
        guard let record = resumed.record else { return }
        if try await storeCall({ try await sessions.remove(record.tokenHash) }) != nil, let account = record.accountID {
            await auditor.session(.sessionRevoked, account: account, handle: record.handle, reason: "signed-out")
        }
    }

    /// Signs `session` out.
    public func signOut(_ session: AuthenticatedSession) async throws(AuthenticationError) {
        try await end(.authenticated(session))
    }

    /// Removes every expired session from the store (run it periodically); returns how many.
    public func purgeExpiredSessions() async throws(AuthenticationError) -> Int {
        let now = clock.now
        return try await storeCall { try await sessions.removeExpired(at: now) }
    }

    // MARK: Shared steps

    /// The stored record under `hash` if it exists and has not expired; an expired one is removed
    /// (and its end audited).
    ///
    /// A record whose seal does not verify (edited in the database, or written before sealing) is
    /// removed, audited as `integrity.tamper-detected` and answered as no session (fail closed).
    func current(_ hash: SessionTokenHash) async throws(AuthenticationError) -> SessionRecord? {
        guard let record = try await storeCall({ try await sessions.session(tokenHash: hash) }) else { return nil }
        guard verifiesSeal(record) else {
            logger.error("session record failed its seal check; refused and removed")
            _ = try await storeCall { try await sessions.remove(hash) }
            await auditor.tampered(
                table: Self.sessionSealPurpose, rowID: record.handle, claimedAccount: record.accountID,
                handle: record.handle)
            return nil
        }
        guard record.isExpired(at: clock.now) else { return record }
        if try await storeCall({ try await sessions.remove(hash) }) != nil, let account = record.accountID {
            await auditor.session(
                .sessionExpired, account: account, handle: record.handle, reason: record.state.rawValue)
        }
        return nil
    }

    /// Re-reads `record` and requires it to be current and in `state`.
    func requireCurrent(_ record: SessionRecord, in state: SessionState) async throws(AuthenticationError)
        -> SessionRecord
    {
        guard let stored = try await current(record.tokenHash), stored.state == state,
            stored.handle == record.handle
        else { throw .sessionEnded }
        return stored
    }

    /// A new record in `state`, with a fresh handle, lasting `lifetime` (no idle extension).
    func newRecord(
        _ state: SessionState, token: SessionToken, accountID: String?, lifetime: Duration, clientLabel: String?
    ) throws(AuthenticationError) -> SessionRecord {
        let now = clock.now
        let ends = now.adding(lifetime)
        return sealed(
            SessionRecord(
                tokenHash: token.hash, handle: try Self.newHandle(), state: state, accountID: accountID, roles: [],
                patientID: nil, strength: nil, createdAt: now, lastSeenAt: now, idleExpiresAt: ends,
                absoluteExpiresAt: ends, authenticatedAt: nil, recentlyAuthenticatedAt: nil,
                clientLabel: clientLabel.map { String($0.prefix(200)) }))
    }

    /// An authenticated record for `account`, keeping `handle` and `createdAt` when rotating.
    func authenticatedRecord(
        token: SessionToken, account: Account, strength: AuthenticationStrength, from previous: SessionRecord,
        authenticatedAt: Date?, clientLabel: String?
    ) -> SessionRecord {
        let now = clock.now
        let absolute =
            previous.state == .authenticated
            ? previous.absoluteExpiresAt : now.adding(configuration.absoluteLifetime)
        return sealed(
            SessionRecord(
                tokenHash: token.hash, handle: previous.handle, state: .authenticated, accountID: account.id,
                roles: account.roles, patientID: account.patientID, strength: strength, createdAt: previous.createdAt,
                lastSeenAt: now, idleExpiresAt: min(now.adding(configuration.idleTimeout), absolute),
                absoluteExpiresAt: absolute, authenticatedAt: authenticatedAt ?? now, recentlyAuthenticatedAt: now,
                clientLabel: clientLabel ?? previous.clientLabel, attributes: account.attributes))
    }

    /// A still-authenticated session under a fresh token, with the account's current roles and patient
    /// link; handle, strength, sign-in time and absolute expiry are kept (step-up, password change,
    /// privilege change).
    func reissue(_ record: SessionRecord, for account: Account) async throws(AuthenticationError)
        -> AuthenticatedSession
    {
        let token = try newToken()
        let rotated = authenticatedRecord(
            token: token, account: account, strength: record.strength ?? .singleFactor, from: record,
            authenticatedAt: record.authenticatedAt, clientLabel: nil)
        try await rotate(record, to: rotated)
        return try await authenticatedSession(token: token, record: rotated)
    }

    /// Stores `new` in place of `old` (token rotation); a lost race means the session ended.
    func rotate(_ old: SessionRecord, to new: SessionRecord) async throws(AuthenticationError) {
        guard try await storeCall({ try await sessions.replace(old.tokenHash, with: new) }) else {
            throw .sessionEnded
        }
    }

    /// A fresh token (libsodium randomness).
    func newToken() throws(AuthenticationError) -> SessionToken {
        do { return try SessionToken() } catch {
            logger.error("could not allocate a session token", metadata: ["error": "\(error)"])
            throw .unavailable
        }
    }

    static func newHandle() throws(AuthenticationError) -> String {
        guard let bytes = try? Sodium.randomBytes(count: 16) else { throw .unavailable }
        return "s-" + Hex.encode(bytes)
    }

    /// Runs a store call; its failure becomes ``AuthenticationError/unavailable`` (logged by type).
    func storeCall<T>(_ body: () async throws -> T) async throws(AuthenticationError) -> T {
        do { return try await body() } catch {
            logger.error("session store failed", metadata: ["error": "\(error)"])
            throw .unavailable
        }
    }

    /// Runs a directory call; its failure becomes ``AuthenticationError/unavailable`` (logged by type only).
    func directoryCall<T>(_ body: () async throws -> T) async throws(AuthenticationError) -> T {
        do { return try await body() } catch {
            logger.error("account directory failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            throw .unavailable
        }
    }
}
