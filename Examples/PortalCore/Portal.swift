internal import Foundation
internal import Logging
internal import PHIGuardAccess
internal import PHIGuardAudit
public import PHIGuardAuthentication
internal import PHIGuardFieldEncryption
internal import PHIGuardKeys
internal import PHIGuardPasswords
internal import PHIGuardRateLimit
internal import PHIGuardRecords
internal import PHIGuardTOTP

/// The patient portal's service layer: every operation a front end (the `PatientPortal` CLI, a web
/// portal, an attack suite) needs, over PHIGuard's stores and guarded paths.
///
/// - Every stored thing is in a PHIGuard store built from one `SQLiteDatabase` (one connection to
///   one file) or, with ``PortalConfiguration/databaseURL``, from one PostgreSQL database shared by
///   every instance (the same stores' `PHIGuardPostgres` twins): accounts (sealed rows), care teams,
///   sessions, lockout, rate limits, TOTP steps, recovery codes, break-glass grants, the audit log,
///   and the patient index and charts (a record store, every PHI value an envelope bound to its row
///   and field). See `PortalStores`.
/// - Operations take the session token a cookie or the CLI's session file holds. A token that is
///   missing, ended, or belongs to a session without a principal (registering, awaiting the second
///   factor, recovering) is ``PortalError/notSignedIn``, and a PHI request from such a session is
///   audited as denied.
/// - PHI is read, listed, searched and updated only through `GuardedRecords` (decide, audit committed,
///   decrypt only the permitted fields) and break-glass only through `EmergencyAccess`.
///
/// Open one with ``open(_:creating:)`` and ``close()`` it at the end (the audit queue and a final
/// checkpoint are written then).
public final class Portal: Sendable {
    /// The configuration it was opened with.
    public let configuration: PortalConfiguration
    let storage: PortalDatabase
    let accounts: any AccountAdministration
    let careTeams: any CareTeamStore
    let recordStore: any RecordStore
    let totpSteps: any TOTPReplayStore
    let breakGlassStore: any BreakGlassStore
    let auditSink: any AuditSink & AuditRecordSource
    let audit: AuditLog
    /// The copy of every audit checkpoint outside the database (``PortalConfiguration/auditWitnessPath``).
    let auditWitness: FileCheckpointWitness
    /// The sign-in flow (sessions, lockout, rate limits, TOTP replay, recovery codes).
    public let flow: LoginFlow
    let engine: AccessEngine
    let encryptor: FieldEncryptor
    let passwords: PasswordHasher
    /// The patient index (name, date of birth, MRN, SSN), listed and searched through `list`.
    let patientIndex: GuardedRecords
    /// The charts (one per patient, chart id = patient id), read and updated through `read`/`update`.
    let charts: GuardedRecords
    /// Clinical notes (labelled; listed per patient through `list`, created through `create`).
    let notes: GuardedRecords
    /// Messages between a patient and their care team.
    let messages: GuardedRecords
    let emergency: EmergencyAccess

    /// The SQLite file the portal keeps everything in (an attack suite scans its bytes); on
    /// PostgreSQL, the path the portal's local files (log, checkpoint witness) are named after.
    public var databaseFilePath: String { configuration.databasePath }

    /// Where the charts are kept (their table, id column and sealed columns): what a storage-level
    /// check (the attack suite's at-rest and tampering scenarios) looks for. Names only, no data.
    public var chartStorage: PortalChartStorage {
        PortalChartStorage(
            table: charts.schema.table, recordIDColumn: charts.schema.recordIDColumn,
            encryptedColumns: charts.schema.fields.filter { $0.storage == .encrypted }.map(\.column))
    }

    /// Whether the stores are in PostgreSQL (``PortalConfiguration/databaseURL``) rather than SQLite.
    public var usesPostgreSQL: Bool { PortalDatabase.isPostgres(configuration) }

    private init(
        configuration: PortalConfiguration, storage: PortalDatabase, accounts: any AccountAdministration,
        careTeams: any CareTeamStore, recordStore: any RecordStore, totpSteps: any TOTPReplayStore,
        breakGlassStore: any BreakGlassStore, auditSink: any AuditSink & AuditRecordSource, audit: AuditLog,
        auditWitness: FileCheckpointWitness, flow: LoginFlow,
        engine: AccessEngine, encryptor: FieldEncryptor, passwords: PasswordHasher, patientIndex: GuardedRecords,
        charts: GuardedRecords, notes: GuardedRecords, messages: GuardedRecords, emergency: EmergencyAccess
    ) {
        self.configuration = configuration
        self.storage = storage
        self.accounts = accounts
        self.careTeams = careTeams
        self.recordStore = recordStore
        self.totpSteps = totpSteps
        self.breakGlassStore = breakGlassStore
        self.auditSink = auditSink
        self.audit = audit
        self.auditWitness = auditWitness
        self.flow = flow
        self.engine = engine
        self.encryptor = encryptor
        self.passwords = passwords
        self.patientIndex = patientIndex
        self.charts = charts
        self.notes = notes
        self.messages = messages
        self.emergency = emergency
    }

    /// Opens the portal. Without `creating`, a missing database is ``PortalError/notInitialized``;
    /// with it, an existing database is ``PortalError/alreadyInitialized`` and the keys are created
    /// first (`KeyDirectory.create`, which refuses to overwrite a key).
    public static func open(_ configuration: PortalConfiguration, creating: Bool = false) async throws -> Portal {
        try await PortalDatabase.checkInitialized(configuration, creating: creating)
        if creating {
            do { _ = try KeyDirectory.create(at: configuration.keyDirectory) } catch { throw PortalError(error) }
        }
        let logger = configuration.logger
        let clock = configuration.clock
        // Every key first: a refused key file stops the run before any connection is open.
        let keys = try PortalKeys(directory: configuration.keyDirectory)
        let encryptor = FieldEncryptor(keyring: keys.fieldKeyring, logger: logger)
        let policy = try CompiledPolicy(yaml: try String(contentsOfFile: configuration.policyPath, encoding: .utf8))
        let schemas = try PortalSchemas(indexKey: keys.blindIndexRoot)
        let witness = try FileCheckpointWitness(path: configuration.auditWitnessPath)
        let storage = try await PortalDatabase.open(configuration)
        // What is open so far is closed again if a later step fails.
        var audit: AuditLog?
        do {
            let stores = try await PortalStores.open(
                in: storage, keys: keys, encryptor: encryptor, schemas: schemas, clock: clock, logger: logger)
            let accounts = stores.accounts
            let careTeams = stores.careTeams
            let recordStore = stores.recordStore
            let totpSteps = stores.totpSteps
            let breakGlassStore = stores.breakGlass
            let auditSink = stores.auditSink
            let log = try await AuditLog(
                sink: auditSink, chainKey: keys.chainKey, signingKey: keys.signingKey,
                checkpointExporter: witness.exporter(logger: logger), clock: clock, logger: logger)
            audit = log
            let passwords = try PasswordHasher()
            let flow = try LoginFlow(
                accounts: accounts, sessions: stores.sessions, passwords: passwords,
                // LoginFlow counts codes in `lockout` with the other second-factor attempts.
                totp: try TOTPVerifier(replayStore: totpSteps, lockout: nil, logger: logger),
                recoveryCodes: (try keys.recoveryCodeHasher(), stores.recoveryCodes), throttle: stores.lockout,
                rateLimiter: RateLimiter(store: stores.rateLimits, logger: logger), audit: log, clock: clock,
                // TOTP is optional for patients; staff sessions without it reach nothing (`session(_:attempt:)`).
                configuration: LoginConfiguration(requireSecondFactor: false), logger: logger,
                sealingKey: keys.sealingKey, careTeams: careTeams)
            // Principals carry their care-team patients (read per request by the flow), so the engine
            // needs no directory of its own.
            let engine = AccessEngine(policy: policy, clock: clock, logger: logger)
            let patientIndex = try GuardedRecords(
                schema: schemas.patientIndex, store: recordStore, engine: engine, encryptor: encryptor, audit: log)
            let charts = try GuardedRecords(
                schema: schemas.chart, store: recordStore, engine: engine, encryptor: encryptor, audit: log)
            let notes = try GuardedRecords(
                schema: schemas.note, store: recordStore, engine: engine, encryptor: encryptor, audit: log)
            let messages = try GuardedRecords(
                schema: schemas.message, store: recordStore, engine: engine, encryptor: encryptor, audit: log)
            // List cursors survive between runs of the CLI and across instances.
            var cursorKey = keys.cursorKey()
            try patientIndex.useCursorKey(&cursorKey)
            let emergency = EmergencyAccess(
                engine: engine, store: breakGlassStore, encryptor: encryptor, audit: log,
                reviewerRoles: PortalRoles.breakGlassReviewers)
            return Portal(
                configuration: configuration, storage: storage, accounts: accounts, careTeams: careTeams,
                recordStore: recordStore, totpSteps: totpSteps, breakGlassStore: breakGlassStore,
                auditSink: auditSink, audit: log, auditWitness: witness, flow: flow, engine: engine,
                encryptor: encryptor,
                passwords: passwords, patientIndex: patientIndex, charts: charts, notes: notes, messages: messages,
                emergency: emergency)
        } catch {
            if let audit { try? await audit.close() }
            try? await storage.close()
            throw error
        }
    }

    /// Writes the audit queue and a final checkpoint, then closes the database (on PostgreSQL, stops
    /// the client: its connections close).
    public func close() async throws {
        var failure: (any Error)?
        do { try await audit.close() } catch { failure = error }
        do { try await storage.close() } catch { failure = failure ?? error }
        if let failure { throw failure }
    }
}

/// The portal's roles (Examples/Policies/hospital.yaml) and which of them are staff.
public enum PortalRoles {
    /// Every role the portal assigns.
    public static let all: [String] = [
        "patient", "physician", "nurse", "charge-nurse", "front-desk", "billing-clerk", "auditor", "admin",
    ]
    /// Roles that may review (and revoke) anyone's break-glass grant.
    public static let breakGlassReviewers: Set<String> = ["auditor"]
    /// Roles that administer staff accounts.
    public static let administrators: Set<String> = ["admin"]

    /// Whether `roles` holds a staff role (anything but `patient`): staff must enrol TOTP.
    public static func isStaff(_ roles: [String]) -> Bool { roles.contains { $0 != "patient" } }
}

/// Where ``Portal`` keeps its charts (``Portal/chartStorage``).
public struct PortalChartStorage: Sendable, Hashable {
    /// The table (`portal_charts`).
    public let table: String
    /// The column holding the chart id (the patient id).
    public let recordIDColumn: String
    /// The columns holding sealed envelopes (every chart field).
    public let encryptedColumns: [String]
}
