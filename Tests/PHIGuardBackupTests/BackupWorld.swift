import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardBackup
import PHIGuardFieldEncryption
import PHIGuardRecords
import PHIGuardSQLite

/// A clinic on one real SQLite file (WAL): charts through `GuardedRecords` and `SQLiteRecordStore`
/// with encrypted fields, audited by `AuditLog` into `SQLiteAuditSink` in the same file.
final class BackupWorld: Sendable {
    static let policy = """
        version: 1
        timeZone: UTC
        resourceTypes:
          - name: chart
            fields: [name, diagnosis, notes]
            actions: [read, create, update]
        roles:
          - name: clinician
        rules:
          - id: clinician-charts
            effect: allow
            roles: clinician
            actions: [read, create, update]
            resourceTypes: chart
        """

    let directory: URL
    let path: String
    let keyring: Keyring
    let chainKey: AuditChainKey
    let signingKey: AuditSigningKey
    let schema: RecordSchema
    let engine: AccessEngine

    init(keyring: Keyring? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("backup-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = directory.appendingPathComponent("clinic.sqlite").path
        self.keyring = try keyring ?? Keyring(active: try FieldKey.generate(id: "k1"))
        chainKey = try AuditChainKey.generate()
        signingKey = try AuditSigningKey.generate()
        schema = try RecordSchema(
            resourceType: "chart", table: "charts",
            fields: [.encrypted("name"), .encrypted("diagnosis"), .encrypted("notes")])
        engine = AccessEngine(policy: try CompiledPolicy(yaml: Self.policy))
    }

    func file(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    var clinician: AuthenticatedPrincipal {
        let now = Date()
        return AuthenticatedPrincipal(
            subject: Subject(id: "u-clinician", roles: ["clinician"]), sessionHandle: "s-1", authenticatedAt: now,
            recentlyAuthenticatedAt: now, strength: .multiFactor, validUntil: now.addingTimeInterval(3600))
    }

    var options: BackupVerificationOptions {
        BackupVerificationOptions(
            keyring: keyring, auditVerifier: AuditVerifier(chainKey: chainKey, checkpointKey: signingKey.publicKey),
            contextRules: EnvelopeContextRule.rules(for: schema))
    }

    static func values(_ index: Int) -> [String: String] {
        ["name": "Patient \(index)", "diagnosis": "J45.\(index % 10) asthma", "notes": "follow up in \(index) weeks"]
    }

    /// The open stores of the world's database.
    struct Open {
        let sink: SQLiteAuditSink
        let log: AuditLog
        let store: SQLiteRecordStore
        let records: GuardedRecords

        func close() async throws {
            try await log.close()
            try await sink.close()
            try await store.close()
        }
    }

    func open() async throws -> Open {
        let sink = try await SQLiteAuditSink.open(path: path)
        let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
        let store = try await SQLiteRecordStore.open(path: path, schemas: [schema])
        let records = try GuardedRecords(
            schema: schema, store: store, engine: engine, encryptor: FieldEncryptor(keyring: keyring), audit: log)
        return Open(sink: sink, log: log, store: store, records: records)
    }

    /// Creates charts `range` (chart `c-<i>` of patient `p-<i>`), each audited.
    func createCharts(_ range: Range<Int>, in open: Open) async throws {
        for index in range {
            try await open.records.create(
                "c-\(index)", patientID: "p-\(index)", values: Self.values(index), as: clinician)
        }
        try await open.log.flush()
    }
}
