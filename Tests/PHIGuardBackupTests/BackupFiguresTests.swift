import Foundation
import NIOCore
import PHIGuardAudit
import PHIGuardBackup
import PHIGuardFieldEncryption
import PHIGuardKeys
import PHIGuardRecords
import PHIGuardSQLite
import SQLiteNIO
import Testing

/// Restore times of a 300-patient and a 100,000-patient database (opt-in: `PHIGUARD_BACKUP_FIGURES=1`).
/// Prints figures; asserts only that each restore verified (never a time).
@Suite(
    "Backup figures", .serialized,
    .enabled(if: ProcessInfo.processInfo.environment["PHIGUARD_BACKUP_FIGURES"] == "1"))
struct BackupFiguresTests {
    /// One chart per patient (three encrypted fields, sealed by `FieldEncryptor` for `GuardedRecords`'
    /// context, inserted in one transaction into the `SQLiteRecordStore` table) and two audit events
    /// per patient (a create and a read, chained by `AuditLog` into `SQLiteAuditSink` in the same file).
    static func populate(_ world: BackupWorld, patients: Int) async throws {
        let store = try await SQLiteRecordStore.open(path: world.path, schemas: [world.schema])
        try await store.close()
        let encryptor = FieldEncryptor(keyring: world.keyring)
        let connection = try await SQLiteConnection.open(storage: .file(path: world.path))
        _ = try await connection.query("BEGIN", [])
        for index in 0..<patients {
            var binds: [SQLiteData] = [.text("c-\(index)"), .text("p-\(index)")]
            for (field, value) in BackupWorld.values(index).sorted(by: { $0.key < $1.key }) {
                let context = FieldContext(table: "charts", recordID: "c-\(index)", field: field)
                binds.append(.blob(ByteBuffer(bytes: try encryptor.encrypt(value, context: context).bytes)))
            }
            _ = try await connection.query(
                "INSERT INTO charts (id, patient_id, diagnosis, name, notes) VALUES (?, ?, ?, ?, ?)", binds)
        }
        _ = try await connection.query("COMMIT", [])
        try await connection.close()
        let sink = try await SQLiteAuditSink.open(path: world.path)
        let log = try await AuditLog(sink: sink, chainKey: world.chainKey, signingKey: world.signingKey)
        for index in 0..<patients {
            for action in ["create", "read"] {
                try await log.append(
                    try .accessDecision(
                        actorID: "u-clinician", role: "clinician", action: action, resourceType: "chart",
                        resourceID: "c-\(index)", patientID: "p-\(index)",
                        fieldsReturned: ["name", "diagnosis", "notes"],
                        allowed: true, ruleIDs: ["clinician-charts"]), durability: .queued)
            }
        }
        try await log.close()
        try await sink.close()
    }

    static func seconds(_ body: () async throws -> Void) async throws -> Double {
        let start = ContinuousClock.now
        try await body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    @Test("create, verify and restore times", arguments: [300, 100_000])
    func figures(patients: Int) async throws {
        let world = try BackupWorld()
        defer { world.remove() }
        let populate = try await Self.seconds { try await Self.populate(world, patients: patients) }
        let key = try BackupKey.generate()
        let backup = world.file("figures.phgbak")
        let create = try await Self.seconds {
            try await DatabaseBackup.createSQLite(database: world.path, key: key, to: backup)
        }
        var report: BackupVerificationReport?
        let verify = try await Self.seconds {
            report = try await DatabaseBackup.verify(backup: backup, key: key, options: world.options)
        }
        var restored: BackupVerificationReport?
        let restore = try await Self.seconds {
            restored = try await DatabaseBackup.restoreSQLite(
                backup: backup, key: key, to: world.file("restored.sqlite"), options: world.options)
        }
        #expect(report?.envelopes.decrypted == patients * 3 && report?.auditRecordsVerified == patients * 2)
        #expect(restored?.envelopes.decrypted == patients * 3)
        let size = { (path: String) in (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
        print(
            String(
                format: "BACKUP FIGURES patients=%d database=%d bytes backup=%d bytes populate=%.2fs create=%.2fs "
                    + "verify=%.2fs restore(decrypt+verify+rename+re-verify)=%.2fs",
                patients, size(world.path), size(backup), populate, create, verify, restore))
    }
}
