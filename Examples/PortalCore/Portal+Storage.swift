internal import Foundation
internal import Logging
internal import PHIGuardAudit
internal import PHIGuardAuthentication
internal import PHIGuardFieldEncryption
internal import PHIGuardPostgres
internal import PHIGuardRateLimit
internal import PHIGuardRecords
internal import PHIGuardSQLite
internal import PHIGuardTOTP
internal import PostgresNIO

/// The database a ``Portal`` keeps its stores in: one SQLite file (one shared connection), or a
/// PostgreSQL database (a `PostgresClient` pool, shared by every portal instance that names it).
enum PortalDatabase: Sendable {
    case sqlite(SQLiteDatabase)
    /// The client and the task running it (cancelled by ``close()``).
    case postgres(PostgresClient, runner: Task<Void, Never>)

    /// Whether the configuration names PostgreSQL (``PortalConfiguration/databaseURL``).
    static func isPostgres(_ configuration: PortalConfiguration) -> Bool { configuration.databaseURL != nil }

    /// Refuses to open a portal that does not exist yet (``PortalError/notInitialized``) or to create
    /// one over an existing one (``PortalError/alreadyInitialized``). SQLite: whether the file exists.
    /// PostgreSQL: the server is reached first (a TLS, `pg_hba` or password mistake is its typed
    /// `PostgresConnectionError`, never "not initialized"), then whether the audit tables exist.
    static func checkInitialized(_ configuration: PortalConfiguration, creating: Bool) async throws {
        let exists: Bool
        if let text = configuration.databaseURL {
            let url = try PostgresConnectionURL(text)
            try await url.checkConnection(logger: configuration.logger)
            let database = try open(url, logger: configuration.logger)
            defer { database.cancelRunner() }
            guard case .postgres(let client, _) = database else { return }
            do {
                try await PostgresAuditSink(client: client, logger: configuration.logger).verifyTablesExist()
                exists = true
            } catch {
                exists = false
            }
        } else {
            exists = FileManager.default.fileExists(atPath: configuration.databasePath)
        }
        if creating, exists { throw PortalError.alreadyInitialized }
        if !creating, !exists { throw PortalError.notInitialized }
    }

    /// Opens the database the configuration names (the SQLite file is created if missing).
    static func open(_ configuration: PortalConfiguration) async throws -> PortalDatabase {
        if let text = configuration.databaseURL {
            return try open(try PostgresConnectionURL(text), logger: configuration.logger)
        }
        return .sqlite(try await SQLiteDatabase.open(path: configuration.databasePath, logger: configuration.logger))
    }

    /// A client for `url` (verified TLS unless the URL says otherwise), running until ``close()``.
    private static func open(_ url: PostgresConnectionURL, logger: Logger) throws -> PortalDatabase {
        var configuration = url.clientConfiguration()
        configuration.options.maximumConnections = 8
        configuration.options.connectTimeout = .seconds(5)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return .postgres(client, runner: Task { await client.run() })
    }

    private func cancelRunner() {
        if case .postgres(_, let runner) = self { runner.cancel() }
    }

    /// Closes the SQLite connection, or stops the PostgreSQL client (its connections close).
    func close() async throws {
        switch self {
        case .sqlite(let database): try await database.close()
        case .postgres(_, let runner):
            runner.cancel()
            await runner.value
        }
    }
}

/// Every PHIGuard store the portal uses, on SQLite (`PHIGuardSQLite`) or PostgreSQL
/// (`PHIGuardPostgres`): the same set either way, so the rest of the portal never knows which.
///
/// | What | SQLite | PostgreSQL |
/// |---|---|---|
/// | accounts, care teams (sealed rows) | `SQLiteAccountDirectory`, `SQLiteCareTeamStore` | `PostgresAccountDirectory`, `PostgresCareTeamStore` |
/// | patient index and charts | `SQLiteRecordStore` | `PostgresRecordStore` |
/// | rate limits, lockout | `SQLiteRateLimitStore`, `SQLiteLockoutStore` | `PostgresRateLimitStore`, `PostgresLockoutStore` |
/// | sessions (sealed rows) | `SQLiteSessionStore` | `PostgresSessionStore` |
/// | TOTP steps, recovery codes | `SQLiteTOTPReplayStore`, `SQLiteRecoveryCodeStore` | `PostgresTOTPReplayStore`, `PostgresRecoveryCodeStore` |
/// | break-glass grants | `SQLiteBreakGlassStore` | `PostgresBreakGlassStore` |
/// | audit log and checkpoints | `SQLiteAuditSink` | `PostgresAuditSink` |
///
/// On PostgreSQL every store is shared by all instances: a TOTP step, a session end, a lockout or
/// an audit append on one is seen by the others at once (the audit sink appends under an advisory
/// lock, so concurrent instances keep one chain).
struct PortalStores: Sendable {
    let accounts: any AccountAdministration
    let careTeams: any CareTeamStore
    let recordStore: any RecordStore
    let rateLimits: any RateLimitStore
    let lockout: any LockoutStore
    let sessions: any SessionStore
    let totpSteps: any TOTPReplayStore
    let recoveryCodes: any RecoveryCodeStore
    let breakGlass: any BreakGlassStore
    let auditSink: any AuditSink & AuditRecordSource

    /// Opens (and on PostgreSQL migrates: `CREATE … IF NOT EXISTS`) every store in `database`.
    static func open(
        in database: PortalDatabase, keys: PortalKeys, encryptor: FieldEncryptor, schemas: PortalSchemas,
        clock: any PHIGuardClock, logger: Logger
    ) async throws -> PortalStores {
        let recordSchemas = [schemas.patientIndex, schemas.chart, schemas.note, schemas.message]
        switch database {
        case .sqlite(let storage):
            return PortalStores(
                accounts: try await SQLiteAccountDirectory.open(
                    in: storage, sealingKey: keys.sealingKey, encryptor: encryptor),
                careTeams: try await SQLiteCareTeamStore.open(in: storage, sealingKey: keys.sealingKey),
                recordStore: try await SQLiteRecordStore.open(
                    in: storage, schemas: recordSchemas, careTeams: try PortalSchemas.careTeamTable()),
                rateLimits: try await SQLiteRateLimitStore.open(
                    in: storage, keyDigestSecret: keys.digestSecret(), clock: clock),
                lockout: try await SQLiteLockoutStore.open(
                    in: storage, keyDigestSecret: keys.digestSecret(), clock: clock),
                sessions: try await SQLiteSessionStore.open(in: storage),
                totpSteps: try await SQLiteTOTPReplayStore.open(in: storage),
                recoveryCodes: try await SQLiteRecoveryCodeStore.open(in: storage),
                breakGlass: try await SQLiteBreakGlassStore.open(in: storage),
                auditSink: try await SQLiteAuditSink.open(in: storage, logger: logger))
        case .postgres(let client, _):
            let accounts = PostgresAccountDirectory(
                client: client, sealingKey: keys.sealingKey, encryptor: encryptor, logger: logger)
            try await accounts.migrate()
            // The care-team store makes `phiguard_care_teams` (with its seal column) before the
            // record store's `CREATE TABLE IF NOT EXISTS` of the same table, which then does nothing.
            let careTeams = PostgresCareTeamStore(client: client, sealingKey: keys.sealingKey, logger: logger)
            try await careTeams.migrate()
            let recordStore = PostgresRecordStore(
                client: client, schemas: recordSchemas, careTeams: try PortalSchemas.careTeamTable(), logger: logger)
            try await recordStore.migrate()
            let rateLimits = try PostgresRateLimitStore(
                client: client, keyDigestSecret: keys.digestSecret(), logger: logger)
            try await rateLimits.migrate()
            let lockout = try PostgresLockoutStore(
                client: client, keyDigestSecret: keys.digestSecret(), clock: clock, logger: logger)
            try await lockout.migrate()
            let sessions = PostgresSessionStore(client: client, logger: logger)
            try await sessions.migrate()
            let totpSteps = try PostgresTOTPReplayStore(client: client, logger: logger)
            try await totpSteps.migrate()
            let recoveryCodes = try PostgresRecoveryCodeStore(client: client, logger: logger)
            try await recoveryCodes.migrate()
            let breakGlass = PostgresBreakGlassStore(client: client, logger: logger)
            try await breakGlass.migrate()
            let auditSink = try PostgresAuditSink(client: client, logger: logger)
            try await auditSink.migrate()
            return PortalStores(
                accounts: accounts, careTeams: careTeams, recordStore: recordStore, rateLimits: rateLimits,
                lockout: lockout, sessions: sessions, totpSteps: totpSteps, recoveryCodes: recoveryCodes,
                breakGlass: breakGlass, auditSink: auditSink)
        }
    }
}
