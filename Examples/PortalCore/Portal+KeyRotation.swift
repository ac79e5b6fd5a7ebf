internal import Foundation
internal import PHIGuardAccess
internal import PHIGuardAudit
internal import PHIGuardAuthentication
public import PHIGuardErrors
internal import PHIGuardFieldEncryption
internal import PHIGuardKeys
internal import PHIGuardPostgres
internal import PHIGuardRecords
internal import PHIGuardSQLite

/// How far ``Portal/rotateKeys(token:batchSize:progress:)`` is (reported after each batch).
public struct PortalKeyRotationProgress: Sendable, Hashable {
    /// The field key every envelope is moving to.
    public let targetKeyID: String
    /// Encrypted fields walked so far, including those an interrupted earlier run had walked.
    public let done: Int
    /// Encrypted fields in the patient index, charts, notes and messages.
    public let total: Int
    /// Fields re-encrypted by this run so far.
    public let rewritten: Int
}

/// What ``Portal/rotateKeys(token:batchSize:progress:)`` did.
public struct PortalKeyRotationResult: Sendable, Hashable {
    /// The active field key now (every PHI envelope is under it).
    public let activeKeyID: String
    /// The keys still in `field.keys` as retired (they keep TOTP secrets and break-glass
    /// justifications readable; see the method's documentation).
    public let retiredKeyIDs: [String]
    /// Whether this run finished a rotation an earlier run had begun (and was interrupted).
    public let resumed: Bool
    /// Fields re-encrypted by this run.
    public let rewritten: Int
    /// Fields this run found under the new key already.
    public let alreadyCurrent: Int
    /// Encrypted fields in the patient index, charts, notes and messages.
    public let total: Int
}

/// Why ``Portal/rotateKeys(token:batchSize:progress:)`` could not finish. Nothing is lost either way:
/// every envelope is under the old or the new key, both in `field.keys`, and a rerun resumes.
public enum PortalKeyRotationError: Error, Sendable, Hashable, PublicErrorMappable {
    /// Some envelopes decrypt under no key of `field.keys` (their count): the rotation is left
    /// unfinished, and the old keys stay.
    case unreadableFields(Int)
    /// Another rotation holds the rotation lock (the key directory's `flock`, and on PostgreSQL the
    /// database's advisory lock): nothing was changed; run it again when that one has finished.
    case alreadyRunning
    /// The unfinished rotation this run would resume moves fields to a key (its id) that this key
    /// directory does not hold, and some fields are already under it: the rotation was begun with
    /// another `field.keys` (another host's key directory). Nothing was changed; copy that
    /// `field.keys` here (or resume on that host) instead of generating a second key under the same id.
    case targetKeyMissing(String)

    /// A fixed public problem; the count and key id go to the log only.
    public var errorMapping: MappedError {
        switch self {
        case .unreadableFields(let count):
            MappedError(
                .portalRotationIncomplete, internalCode: "portal.rotation_unreadable",
                logMessage: "envelopes no key of field.keys opens; rotation left unfinished",
                context: ["count": .value(String(count))])
        case .alreadyRunning:
            MappedError(
                .portalRotationRunning, internalCode: "portal.rotation_running",
                logMessage: "another key rotation holds the rotation lock; nothing changed")
        case .targetKeyMissing(let keyID):
            MappedError(
                .portalRotationIncomplete, internalCode: "portal.rotation_key_missing",
                logMessage:
                    "the unfinished rotation's key is not in this field.keys and fields are under it; nothing changed",
                context: ["key": .value(keyID)])
        }
    }
}

extension PublicProblem {
    /// 409: another key rotation is running; nothing was changed.
    public static let portalRotationRunning = PublicProblem(
        code: "rotation_running", status: 409, title: "Key rotation already running",
        detail: "Another key rotation is running. Nothing was changed; run it again when that one has finished.")

    /// 503: a key rotation stopped short (some stored values open under no key); rerun after the fix.
    public static let portalRotationIncomplete = PublicProblem(
        code: "rotation_incomplete", status: 503, title: "Key rotation incomplete",
        detail: "Some stored values could not be re-encrypted; nothing was lost. See the log, then run it again.")
}

extension Portal {
    /// The checkpoint job name prefix of a field-key rotation (the target key id follows).
    static let rotationJobPrefix = "patient-portal.field-keys:"

    /// Moves every PHI envelope (patient index, charts, notes, messages) to a new field key, through
    /// `ReencryptionJob` (decrypt, re-encrypt, verify, compare-and-swap write) with its checkpoint in
    /// the database (`SQLiteReencryptionCheckpointStore`, or on PostgreSQL
    /// `PostgresReencryptionCheckpointStore` over `PostgresRecordStore.reencryptionSource`: the same
    /// steps either way). Admins only; the refusal and the rotation are audited (`AuditEvent.keyRotated`).
    ///
    /// Crash-safe in every step, so a `kill -9` anywhere followed by a rerun loses nothing:
    /// 1. the rotation's checkpoint row is written first, naming the new key id;
    /// 2. `field.keys` is replaced atomically with the new key active and the old one retired
    ///    (a rerun that finds the named key missing generates it under that id);
    /// 3. the job walks every encrypted cell in order, checkpointing after each batch; each cell is
    ///    one committed `UPDATE` (old or new envelope, never half), and a cell already under the
    ///    new key is skipped, so a rerun resumes from the checkpoint;
    /// 4. a second pass from the start catches a cell written under the old key meanwhile (the
    ///    portal instance that wrote it had loaded the old keyring); then the checkpoint row goes.
    ///
    /// The old key stays in `field.keys` as retired: TOTP secrets and break-glass justifications are
    /// sealed with the same keyring and are not moved by this rotation.
    ///
    /// One rotation at a time: the run holds an exclusive `flock` on the key directory and, on
    /// PostgreSQL, a session advisory lock of the database (instances with key directories of their
    /// own); a second run meanwhile is refused (``PortalKeyRotationError/alreadyRunning``) before it
    /// reads or changes anything. A resumed rotation whose key this key directory lacks is refused
    /// (``PortalKeyRotationError/targetKeyMissing(_:)``) once a field is under that key id.
    ///
    /// Other running portal instances (PostgreSQL: every instance sharing the database) keep the
    /// keyring they loaded at ``open(_:creating:)`` and must be restarted afterwards: until then,
    /// what they write is under the old key (a rotation still running moves it in its sweep; after
    /// it, the retired key keeps it readable and the next rotation moves it), and a field already
    /// under the new key fails closed there (the read is refused with a typed error, nothing is written).
    public func rotateKeys(
        token: String?, batchSize: Int = 200, progress: @Sendable (PortalKeyRotationProgress) -> Void = { _ in }
    ) async throws -> PortalKeyRotationResult {
        let session = try await session(token)
        let actor = session.principal.subject.id
        let now = engine.clock.now
        guard !PortalRoles.administrators.isDisjoint(with: session.principal.subject.roles) else {
            try await audit.append(
                try AuditEvent.keyRotated(
                    keyRingID: "field.keys", fromKeyID: nil, toKeyID: encryptor.keyring.activeKeyID, actorID: actor,
                    succeeded: false, reason: "not-permitted", at: now),
                durability: .committed)
            throw PortalError.notPermitted("keys-rotate")
        }
        do {
            return try await RotationLock.holding(
                keyDirectory: configuration.keyDirectory, storage: storage, logger: configuration.logger
            ) {
                try await rotateKeysLocked(actor: actor, now: now, batchSize: batchSize, progress: progress)
            }
        } catch let error as PortalKeyRotationError {
            let reason: String? =
                switch error {
                case .alreadyRunning: "already-running"
                case .targetKeyMissing: "target-key-missing"
                case .unreadableFields: nil
                }
            if let reason {
                try await audit.append(
                    try AuditEvent.keyRotated(
                        keyRingID: "field.keys", fromKeyID: nil, toKeyID: encryptor.keyring.activeKeyID,
                        actorID: actor, succeeded: false, reason: reason, at: now),
                    durability: .committed)
            }
            throw error
        }
    }

    /// The rotation itself, under the rotation lock (everything is read after taking it).
    private func rotateKeysLocked(
        actor: String, now: Date, batchSize: Int, progress: @Sendable (PortalKeyRotationProgress) -> Void
    ) async throws -> PortalKeyRotationResult {
        let directory = KeyDirectory(path: configuration.keyDirectory)
        var keyring: Keyring
        do { keyring = try directory.fieldKeyring() } catch { throw PortalError(error) }
        let previousKeyID = keyring.activeKeyID
        let rotation = try RotationStores(
            storage: storage, recordStore: recordStore,
            schemas: [patientIndex.schema, charts.schema, notes.schema, messages.schema])
        let pending = try await rotation.unfinishedJobs().first { $0.hasPrefix(Self.rotationJobPrefix) }
        let target = pending.map { String($0.dropFirst(Self.rotationJobPrefix.count)) } ?? newKeyID(keyring, at: now)
        let checkpoints = try await rotation.checkpoints(job: Self.rotationJobPrefix + target)
        if pending == nil { try await checkpoints.begin() }
        if !keyring.keys.contains(where: { $0.id == target }) {
            // A resumed rotation whose key this directory lacks: generating it is safe only while no
            // field is under that id (the earlier run stopped before its first write); otherwise
            // those fields were sealed by a key held elsewhere, and a second key under the same id
            // would leave them (or the new ones) unreadable for good.
            if pending != nil, try await Self.anyField(of: rotation.source, underKey: target) {
                throw PortalKeyRotationError.targetKeyMissing(target)
            }
            keyring = try keyring.rotated(to: try FieldKey.generate(id: target))
            do { try directory.replaceKeyring(.fieldKeyring, with: keyring) } catch { throw PortalError(error) }
            try await audit.append(
                try AuditEvent.keyRotated(
                    keyRingID: "field.keys", fromKeyID: previousKeyID, toKeyID: target, actorID: actor,
                    reason: "key-added", at: now),
                durability: .committed)
        }

        let rotated = FieldEncryptor(keyring: keyring, logger: configuration.logger)
        let source = rotation.source
        let total = try await rotation.fieldCount()
        var walked = 0
        if let position = try await checkpoints.load() { walked = try await rotation.fieldCount(through: position) }
        let walkedBefore = walked
        let activeKeyID = keyring.activeKeyID
        let main = try await ReencryptionJob(
            encryptor: rotated, source: source, checkpoints: checkpoints.store, batchSize: batchSize
        ).run { report in
            progress(
                PortalKeyRotationProgress(
                    targetKeyID: activeKeyID, done: min(walkedBefore + report.scanned, total), total: total,
                    rewritten: report.rewritten))
        }
        // From the start again: a cell written under the old key behind the walk is moved now.
        let sweep = try await ReencryptionJob(encryptor: rotated, source: source, batchSize: batchSize).run()
        let unreadable = main.unreadableCount + sweep.unreadableCount
        guard unreadable == 0 else { throw PortalKeyRotationError.unreadableFields(unreadable) }
        try await checkpoints.finish()
        try await audit.append(
            try AuditEvent.keyRotated(
                keyRingID: "field.keys", fromKeyID: pending == nil ? previousKeyID : nil, toKeyID: activeKeyID,
                actorID: actor, reason: "re-encrypted", at: engine.clock.now),
            durability: .committed)
        return PortalKeyRotationResult(
            activeKeyID: activeKeyID, retiredKeyIDs: keyring.retiredKeyIDs, resumed: pending != nil,
            rewritten: main.rewritten + sweep.rewritten, alreadyCurrent: main.alreadyCurrent, total: total)
    }

    /// Whether any field of `source` is sealed under `keyID` (a full walk; only when resuming a
    /// rotation whose key is missing).
    private static func anyField(of source: any ReencryptionSource, underKey keyID: String) async throws -> Bool {
        var position: FieldContext?
        while true {
            let page = try await source.fields(after: position, limit: 500)
            if page.contains(where: { $0.envelope.keyID == keyID }) { return true }
            guard let last = page.last else { return false }
            position = last.context
        }
    }

    /// `field-YYYYMMDDTHHMMSSZ` (UTC), with `-2`, `-3`, … if the keyring already has that id.
    private func newKeyID(_ keyring: Keyring, at date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let base = "field-" + formatter.string(from: date)
        let taken = Set(keyring.keys.map(\.id)).union(keyring.revokedKeyIDs)
        var candidate = base
        var suffix = 2
        while taken.contains(candidate) {
            candidate = base + "-\(suffix)"
            suffix += 1
        }
        return candidate
    }
}

/// The re-encryption source and checkpoint store of the portal's database: the SQLite ones
/// (`PHIGuardSQLite`) or their PostgreSQL twins (`PHIGuardPostgres`), behind the few calls
/// ``Portal/rotateKeys(token:batchSize:progress:)`` makes, so its steps are the same on both.
enum RotationStores {
    case sqlite(SQLiteDatabase, SQLiteRecordReencryptionSource)
    case postgres(PostgresRecordStore, PostgresRecordReencryptionSource)

    /// One job's checkpoint: the SQLite or PostgreSQL store.
    enum Checkpoints {
        case sqlite(SQLiteReencryptionCheckpointStore)
        case postgres(PostgresReencryptionCheckpointStore)

        var store: any ReencryptionCheckpointStore {
            switch self {
            case .sqlite(let store): store
            case .postgres(let store): store
            }
        }

        func begin() async throws {
            switch self {
            case .sqlite(let store): try await store.begin()
            case .postgres(let store): try await store.begin()
            }
        }

        func finish() async throws {
            switch self {
            case .sqlite(let store): try await store.finish()
            case .postgres(let store): try await store.finish()
            }
        }

        func load() async throws -> FieldContext? { try await store.load() }
    }

    /// The stores of `storage`, whose record store `recordStore` is (the one `PortalStores` opened there).
    init(storage: PortalDatabase, recordStore: any RecordStore, schemas: [RecordSchema]) throws {
        switch (storage, recordStore) {
        case (.sqlite(let database), let store as SQLiteRecordStore):
            self = .sqlite(database, try store.reencryptionSource(schemas: schemas))
        case (.postgres, let store as PostgresRecordStore):
            self = .postgres(store, store.reencryptionSource(schemas: schemas))
        default:
            // Not reached: `PortalStores` opens the record store in the same database.
            throw PortalError.notInitialized
        }
    }

    var source: any ReencryptionSource {
        switch self {
        case .sqlite(_, let source): source
        case .postgres(_, let source): source
        }
    }

    func fieldCount() async throws -> Int {
        switch self {
        case .sqlite(_, let source): try await source.fieldCount()
        case .postgres(_, let source): try await source.fieldCount()
        }
    }

    func fieldCount(through position: FieldContext) async throws -> Int {
        switch self {
        case .sqlite(_, let source): try await source.fieldCount(through: position)
        case .postgres(_, let source): try await source.fieldCount(through: position)
        }
    }

    func unfinishedJobs() async throws -> [String] {
        switch self {
        case .sqlite(let database, _): try await SQLiteReencryptionCheckpointStore.unfinishedJobs(in: database)
        case .postgres(let store, _): try await PostgresReencryptionCheckpointStore.unfinishedJobs(in: store)
        }
    }

    func checkpoints(job: String) async throws -> Checkpoints {
        switch self {
        case .sqlite(let database, _): .sqlite(try await SQLiteReencryptionCheckpointStore.open(in: database, job: job))
        case .postgres(let store, _): .postgres(try await PostgresReencryptionCheckpointStore.open(in: store, job: job))
        }
    }
}
