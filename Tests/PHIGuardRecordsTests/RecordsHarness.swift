import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardRecords
import PHIGuardTestSupport
import PHIGuardTesting
import Synchronization

/// Care teams: user `u-physician` and `u-nurse-team` look after patient `p-1`.
struct Teams: CareTeamDirectory {
    func isOnCareTeam(subjectID: String, patientID: String) -> Bool {
        patientID == "p-1" && ["u-physician", "u-nurse-team"].contains(subjectID)
    }
}

/// Counts every seal and open, then hands them to a real `FieldEncryptor`.
final class CountingCipher: RecordCipher {
    let inner: FieldEncryptor
    let opened = Mutex<[String]>([])
    let sealed = Mutex<[String]>([])
    init(_ inner: FieldEncryptor) { self.inner = inner }
    func seal(_ plaintext: String, context: FieldContext) throws(FieldEncryptionError) -> [UInt8] {
        sealed.withLock { $0.append(context.field) }
        return try inner.seal(plaintext, context: context)
    }
    func open(_ envelope: [UInt8], context: FieldContext) throws(FieldEncryptionError) -> String {
        opened.withLock { $0.append(context.field) }
        return try inner.open(envelope, context: context)
    }
    var openCount: Int { opened.withLock { $0.count } }
    func reset() {
        opened.withLock { $0.removeAll() }
        sealed.withLock { $0.removeAll() }
    }
}

/// The sample hospital policy, a chart schema with all ten chart fields, a store with chart `c-1` of
/// patient `p-1`, and principals for each role.
struct RecordsHarness {
    static let chartFields = [
        "demographics", "contact", "insurance", "problems", "medications", "allergies", "vitals", "labs",
        "immunizations", "billing",
    ]
    static func value(_ field: String) -> String { "value of \(field)" }

    /// 2027-01-15T08:00:00Z: inside the front desk's 06:00–22:00 window.
    let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
    let engine: AccessEngine
    let encryptor: FieldEncryptor
    let cipher: CountingCipher
    let sink = RecordingAuditSink()
    let chainKey: AuditChainKey
    let log: AuditLog
    let schema: RecordSchema
    let store: any RecordStore
    let records: GuardedRecords
    let grants: any BreakGlassStore
    let emergency: EmergencyAccess

    init(
        store: (RecordSchema) async throws -> any RecordStore = { _ in InMemoryRecordStore() },
        grants: any BreakGlassStore = InMemoryBreakGlassStore()
    ) async throws {
        let yaml = try String(
            contentsOf: Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital.yaml"),
            encoding: .utf8)
        engine = AccessEngine(policy: try CompiledPolicy(yaml: yaml), clock: clock, careTeams: Teams())
        encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
        cipher = CountingCipher(encryptor)
        chainKey = try AuditChainKey.generate()
        log = try await AuditLog(
            sink: sink, chainKey: chainKey, signingKey: try AuditSigningKey.generate(),
            configuration: .init(retryInterval: .milliseconds(20)))
        schema = try RecordSchema(
            resourceType: "chart", table: "charts", fields: Self.chartFields.map { RecordField.encrypted($0) })
        self.store = try await store(schema)
        records = try GuardedRecords(schema: schema, store: self.store, engine: engine, cipher: cipher, audit: log)
        self.grants = grants
        emergency = EmergencyAccess(
            engine: engine, store: grants, encryptor: encryptor, audit: log, reviewerRoles: ["auditor"])
        try await seed("c-1", patient: "p-1")
    }

    /// Writes a chart directly into the store, every field encrypted bound to its row.
    func seed(_ id: String, patient: String) async throws {
        var columns: [String: StoredValue] = [:]
        for field in Self.chartFields {
            let context = FieldContext(table: "charts", recordID: id, field: field)
            columns[field] = .bytes(try encryptor.encrypt(Self.value(field), context: context).bytes)
        }
        _ = try await store.insert(StoredRecord(id: id, patientID: patient, columns: columns), schema: schema)
    }

    func principal(_ id: String, _ roles: [String], patientID: String? = nil) -> AuthenticatedPrincipal {
        let now = clock.now
        return AuthenticatedPrincipal(
            subject: Subject(id: id, roles: roles, patientID: patientID), sessionHandle: "s-\(id)",
            authenticatedAt: now, recentlyAuthenticatedAt: now, strength: .multiFactor,
            validUntil: now.addingTimeInterval(3600))
    }

    /// The audit records so far.
    func auditRecords() async throws -> [AuditRecord] {
        try await sink.entries(from: 0, limit: 10_000).compactMap {
            if case .record(let record) = $0 { record } else { nil }
        }
    }

    /// Flushes a checkpoint and verifies the whole log.
    func verifyLog() async throws -> AuditVerificationReport {
        try await log.flush()
        return AuditVerifier(chainKey: chainKey, checkpointKey: log.checkpointPublicKey).verify(
            entries: try await sink.entries(from: 0, limit: 10_000), checkpoints: try await sink.checkpoints())
    }
}
