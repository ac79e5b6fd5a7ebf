import Foundation
import Logging
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardCrypto
import PHIGuardFieldEncryption
import PHIGuardPasswords
import PHIGuardRateLimit
import PHIGuardRecords
import PHIGuardSQLite
import PHIGuardTOTP

/// The key directory (`--keys`): every secret the portal needs, none of them in the database.
///
/// | File | Mode | What |
/// |---|---|---|
/// | `field.keys` | 0600 | field-encryption keyring (`KeyringFile`): PHI columns, TOTP secrets, login names |
/// | `index.keys` | 0600 | root key of the login-name blind index (kept apart: it must not rotate with `field.keys`) |
/// | `chain.key` | 0600 | audit chain HMAC key |
/// | `signing.key` | 0600 | audit checkpoint Ed25519 seed |
/// | `signing.pub` | 0644 | audit checkpoint public key |
/// | `ratelimit.key` | 0600 | the key of the rate-limit store's key digests |
/// | `sealing.key` | 0600 | the `RowSealingKey` that seals session rows (their roles and patient link) |
///
/// The audit files have the names and format of `phiguard audit keygen`, so
/// `phiguard audit verify --sqlite portal.sqlite --keys DIR` checks the portal's log directly.
struct PortalKeys {
    static let fieldKeyring = "field.keys"
    static let indexKeyring = "index.keys"
    static let chainKey = "chain.key"
    static let signingKey = "signing.key"
    static let signingPublicKey = "signing.pub"
    static let rateLimitSecret = "ratelimit.key"
    static let sealingKey = "sealing.key"
    static let all = [
        fieldKeyring, indexKeyring, chainKey, signingKey, signingPublicKey, rateLimitSecret, sealingKey,
    ]

    let directory: String

    private func path(_ name: String) -> String { directory + "/" + name }

    /// Whether any key file exists already.
    var anyExists: Bool { Self.all.contains { FileManager.default.fileExists(atPath: path($0)) } }

    /// Generates every key (libsodium's CSPRNG, through PHIGuard's key APIs) into a 0700 directory.
    /// Refuses to overwrite a key. Prints nothing.
    func create() throws {
        guard !anyExists else { throw PortalError.alreadyInitialized }
        if !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        try KeyringFile.write(Keyring(active: try FieldKey.generate(id: "field-1")), to: path(Self.fieldKeyring))
        try KeyringFile.write(Keyring(active: try FieldKey.generate(id: "index-1")), to: path(Self.indexKeyring))
        try write(try AuditKeyMaterial.newChainKeyBase64(), to: Self.chainKey)
        let seed = try AuditKeyMaterial.newSigningSeedBase64()
        try write(seed, to: Self.signingKey)
        try write(
            try AuditSigningKey(base64: seed).publicKey.base64, to: Self.signingPublicKey, access: .publiclyReadable)
        // 32 random bytes from libsodium; PHIGuard has no generic "new secret" call, and the audit chain
        // key is exactly that (32 CSPRNG bytes, base64).
        try write(try AuditKeyMaterial.newChainKeyBase64(), to: Self.rateLimitSecret)
        try write(try AuditKeyMaterial.newChainKeyBase64(), to: Self.sealingKey)
    }

    func fieldKeyring() throws -> Keyring { try KeyFileProvider(path: path(Self.fieldKeyring)).keyring() }

    /// The blind index of login names. It indexes `LoginName.value`, already canonical, so its own
    /// normalisation is `.exact`: the one rule for what is "the same name" is `LoginName`'s.
    func loginIndex() throws -> BlindIndex {
        // 128 bits: login names are unique, so equal index values mean the same name (no collisions wanted).
        try BlindIndex(
            name: "login-name", table: "portal_accounts", field: "login_name", bits: 128, normalization: .exact,
            rootKey: try KeyFileProvider(path: path(Self.indexKeyring)).keyring().active)
    }

    /// The blind index of login-name skeletons (`LoginName.skeleton`): unique, so a look-alike of an
    /// existing name cannot register.
    func loginSkeletonIndex() throws -> BlindIndex {
        try BlindIndex(
            name: "login-skeleton", table: "portal_accounts", field: "login_name", bits: 128, normalization: .exact,
            rootKey: try KeyFileProvider(path: path(Self.indexKeyring)).keyring().active)
    }

    func chainKey() throws -> AuditChainKey { try AuditChainKey(base64: try readSecret(Self.chainKey)) }

    func signingKey() throws -> AuditSigningKey { try AuditSigningKey(base64: try readSecret(Self.signingKey)) }

    /// The key that seals session rows: a row whose roles or patient link were edited in the
    /// database is refused and audited as tampering.
    func sealingKey() throws -> RowSealingKey { try RowSealingKey(base64: try readSecret(Self.sealingKey)) }

    /// The key of the lockout and rate-limit stores' digests (the stores take ownership of it).
    func rateLimitSecret() throws -> DigestSecret {
        guard let data = Data(base64Encoded: try readSecret(Self.rateLimitSecret)),
            let secret = try? DigestSecret(copying: data)
        else {
            throw PortalError.badKeyFile(Self.rateLimitSecret)
        }
        return secret
    }

    /// Writes `text` to a new file (never following or replacing anything), mode 0600 unless `access` says otherwise.
    private func write(_ text: String, to name: String, access: PrivateFile.Access = .ownerOnly) throws {
        var bytes = Array((text + "\n").utf8)
        defer { Sodium.zero(&bytes) }
        do {
            try PrivateFile.write(bytes, to: path(name), access: access)
        } catch {
            throw PortalError.cannotWrite(name)
        }
    }

    /// Reads a key file only its owner can access (like `KeyFileProvider`), refusing symbolic links.
    private func readSecret(_ name: String) throws -> String {
        var bytes: [UInt8]
        do {
            bytes = try PrivateFile.read(path(name), maximumByteCount: 4095)
        } catch {
            if case .notFound = error { throw PortalError.notInitialized }
            throw PortalError.badKeyFile(name)
        }
        defer { Sodium.zero(&bytes) }
        guard !bytes.isEmpty else { throw PortalError.badKeyFile(name) }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
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
        let encryptor = FieldEncryptor(keyring: try keys.fieldKeyring(), logger: logger)
        let policy = try CompiledPolicy(yaml: try String(contentsOfFile: options.policy, encoding: .utf8))
        // What is open so far is closed again if a later step fails (a stored audit tail no writer
        // could have made, a key that cannot be read): an unclosed SQLite connection must not be left
        // to its deinitialiser.
        var opened: [() async throws -> Void] = []
        do {
            let database = try await PortalDatabase.open(
                path: options.database, encryptor: encryptor, loginIndex: try keys.loginIndex(),
                skeletonIndex: try keys.loginSkeletonIndex(), logger: logger)
            opened.append { try await database.close() }
            // One clock for every component (sessions, lockout, rate limits, audit, access rules).
            let clock = SystemClock()
            // PHIGuard's stores share one connection (and one thread) to the file.
            let storage = try await SQLiteDatabase.open(path: options.database, logger: logger)
            opened.append { try await storage.close() }
            // One digest secret for both stores: their digests are domain-separated by their labels.
            let secret = try keys.rateLimitSecret()
            let rateLimits = try await SQLiteRateLimitStore.open(in: storage, keyDigestSecret: secret, clock: clock)
            let lockout = try await SQLiteLockoutStore.open(in: storage, keyDigestSecret: secret, clock: clock)
            let sessions = try await SQLiteSessionStore.open(in: storage)
            let totpSteps = try await SQLiteTOTPReplayStore.open(in: storage)
            let auditSink = try await SQLiteAuditSink.open(in: storage, logger: logger)
            let audit = try await AuditLog(
                sink: auditSink, chainKey: try keys.chainKey(), signingKey: try keys.signingKey(), clock: clock,
                logger: logger)
            opened.append { try await audit.close() }
            let flow = try LoginFlow(
                accounts: database, sessions: sessions, passwords: try PasswordHasher(),
                // LoginFlow counts codes in `lockout` with the other second-factor attempts.
                totp: try TOTPVerifier(replayStore: totpSteps, lockout: nil, logger: logger), throttle: lockout,
                rateLimiter: RateLimiter(store: rateLimits, logger: logger), audit: audit, clock: clock, logger: logger,
                sealingKey: try keys.sealingKey())
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
