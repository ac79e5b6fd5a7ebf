import Foundation
import Logging
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardFieldEncryption
import PHIGuardKeys
import PHIGuardPasswords
import PHIGuardRateLimit
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTOTP

/// The key directory (`--keys`): every secret the portal needs, none of them in the database. It is a
/// `KeyDirectory` (PHIGuardKeys): the portal never opens a key file itself, and every load checks the
/// directory (owner, not group/world writable, not a link) and the file (owner, 0600, not a link).
///
/// | File | What |
/// |---|---|
/// | `field.keys` | field-encryption keyring: PHI columns, TOTP secrets, login names |
/// | `index.keys` | root key of the login-name blind index (kept apart: it must not rotate with `field.keys`) |
/// | `chain.key`, `signing.key`, `signing.pub` | audit chain HMAC key, checkpoint Ed25519 seed and public key |
/// | `digest.key` | the key of the rate-limit and lockout stores' key digests |
/// | `backup.key` | the backup encryption key (unused by the portal) |
/// | `sealing.key` | the `RowSealingKey` that seals session rows (their roles and patient link) |
///
/// The audit files have the names and format of `phiguard audit keygen`, so
/// `phiguard audit verify --sqlite portal.sqlite --keys DIR` checks the portal's log directly.
struct PortalKeys {
    let keys: KeyDirectory

    init(directory: String) { keys = KeyDirectory(path: directory) }

    /// Generates every key (libsodium's CSPRNG) into a 0700 directory. Refuses to overwrite a key.
    func create() throws {
        do { try KeyDirectory.create(at: keys.path) } catch { throw PortalError(error) }
    }

    /// Runs `body`, turning a key refusal into the portal's error (a missing directory means "not set up").
    private func load<T>(_ body: () throws(KeyError) -> T) throws -> T {
        do { return try body() } catch { throw PortalError(error) }
    }

    func fieldKeyring() throws -> Keyring { try load(keys.fieldKeyring) }

    /// The blind index of login names. It indexes `LoginName.value`, already canonical, so its own
    /// normalisation is `.exact`: the one rule for what is "the same name" is `LoginName`'s.
    func loginIndex() throws -> BlindIndex {
        // 128 bits: login names are unique, so equal index values mean the same name (no collisions wanted).
        try BlindIndex(
            name: "login-name", table: "portal_accounts", field: "login_name", bits: 128, normalization: .exact,
            rootKey: try load(keys.blindIndexKeyring).active)
    }

    /// The blind index of login-name skeletons (`LoginName.skeleton`): unique, so a look-alike of an
    /// existing name cannot register.
    func loginSkeletonIndex() throws -> BlindIndex {
        try BlindIndex(
            name: "login-skeleton", table: "portal_accounts", field: "login_name", bits: 128, normalization: .exact,
            rootKey: try load(keys.blindIndexKeyring).active)
    }

    func chainKey() throws -> AuditChainKey { try load(keys.auditChainKey) }

    func signingKey() throws -> AuditSigningKey { try load(keys.auditSigningKey) }

    func digestSecret() throws -> DigestSecret { try load(keys.digestSecret) }

    /// The key that seals session rows: a row whose roles or patient link were edited in the
    /// database is refused and audited as tampering.
    func sealingKey() throws -> RowSealingKey { try load(keys.rowSealingKey) }
}

/// Everything one run of the portal uses, opened from the database file and the key directory, and
/// closed (audit log first, so its queue and final checkpoint are written) at the end of the run.
struct PortalServices {
    /// The address recorded for rate limits and lockout: a CLI has no remote peer.
    static let clientAddress = "local-cli"
    static let clientLabel = "PatientPortal CLI"

    let options: PortalOptions
    /// The one connection to the file that PHIGuard's stores share.
    let storage: SQLiteDatabase
    let database: PortalDatabase
    /// The last accepted TOTP step of each account (a code is accepted once across runs).
    let totpSteps: SQLiteTOTPReplayStore
    let sessions: SQLiteSessionStore
    let rateLimits: SQLiteRateLimitStore
    let lockout: SQLiteLockoutStore
    let auditSink: SQLiteAuditSink
    let audit: AuditLog
    let flow: LoginFlow
    let engine: AccessEngine
    /// Charts, read through the guarded path (decide, audit, decrypt only the allowed fields).
    let charts: GuardedRecords
    let sessionFile: PortalSessionFile

    /// Opens the services. Without `creating`, a missing database or key is `notInitialized`.
    static func open(_ options: PortalOptions, creating: Bool = false, logger: Logger) async throws -> PortalServices {
        let keys = PortalKeys(directory: options.keys)
        guard creating || FileManager.default.fileExists(atPath: options.database) else {
            throw PortalError.notInitialized
        }
        // Every key first: a refused key file must stop the run before any connection is open.
        let fieldKeyring = try keys.fieldKeyring()
        let loginIndex = try keys.loginIndex()
        let skeletonIndex = try keys.loginSkeletonIndex()
        let digestSecret = try keys.digestSecret()
        let chainKey = try keys.chainKey()
        let signingKey = try keys.signingKey()
        let encryptor = FieldEncryptor(keyring: fieldKeyring, logger: logger)
        let policy = try CompiledPolicy(yaml: try String(contentsOfFile: options.policy, encoding: .utf8))
        let sealingKey = try keys.sealingKey()
        // What is open so far is closed again if a later step fails (a stored audit tail no writer
        // could have made): an unclosed SQLite connection must not be left to its deinitialiser.
        var opened: [() async throws -> Void] = []
        do {
            let database = try await PortalDatabase.open(
                path: options.database, encryptor: encryptor, loginIndex: loginIndex, skeletonIndex: skeletonIndex,
                logger: logger)
            opened.append { try await database.close() }
            // One clock for every component (sessions, lockout, rate limits, audit, access rules).
            let clock = SystemClock()
            // PHIGuard's stores share one connection (and one thread) to the file.
            let storage = try await SQLiteDatabase.open(path: options.database, logger: logger)
            opened.append { try await storage.close() }
            // One digest secret for both stores: their digests are domain-separated by their labels.
            let rateLimits = try await SQLiteRateLimitStore.open(
                in: storage, keyDigestSecret: digestSecret, clock: clock)
            let lockout = try await SQLiteLockoutStore.open(in: storage, keyDigestSecret: digestSecret, clock: clock)
            let sessions = try await SQLiteSessionStore.open(in: storage)
            let totpSteps = try await SQLiteTOTPReplayStore.open(in: storage)
            let auditSink = try await SQLiteAuditSink.open(in: storage, logger: logger)
            let audit = try await AuditLog(
                sink: auditSink, chainKey: chainKey, signingKey: signingKey, clock: clock, logger: logger)
            opened.append { try await audit.close() }
            let flow = try LoginFlow(
                accounts: database, sessions: sessions, passwords: try PasswordHasher(),
                // LoginFlow counts codes in `lockout` with the other second-factor attempts.
                totp: try TOTPVerifier(replayStore: totpSteps, lockout: nil, logger: logger), throttle: lockout,
                rateLimiter: RateLimiter(store: rateLimits, logger: logger), audit: audit, clock: clock, logger: logger,
                sealingKey: sealingKey)
            let engine = AccessEngine(
                policy: policy, clock: clock, careTeams: try await database.careTeams(), logger: logger)
            let charts = try GuardedRecords(
                schema: try PortalDatabase.chartSchema(), store: database, engine: engine, encryptor: encryptor,
                audit: audit)
            return PortalServices(
                options: options, storage: storage, database: database, totpSteps: totpSteps, sessions: sessions,
                rateLimits: rateLimits, lockout: lockout,
                auditSink: auditSink, audit: audit, flow: flow, engine: engine, charts: charts,
                sessionFile: PortalSessionFile(path: options.sessionFile))
        } catch {
            for close in opened.reversed() { try? await close() }
            throw error
        }
    }

    /// Writes the audit queue and a final checkpoint, then closes both connections.
    func close() async throws {
        var failure: (any Error)?
        do { try await audit.close() } catch { failure = error }
        for step in [{ () async throws in try await storage.close() }, { try await database.close() }] {
            do { try await step() } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }

    /// The session the session file names (strict: a value the server did not issue is anonymous).
    func resume() async throws -> ResumedSession {
        try await flow.resume(try sessionFile.read())
    }
}
