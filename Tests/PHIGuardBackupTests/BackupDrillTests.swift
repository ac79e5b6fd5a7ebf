import Foundation
import PHIGuardAudit
import PHIGuardBackup
import PHIGuardFieldEncryption
import PHIGuardKeys
import PHIGuardRecords
import PHIGuardSQLite
import SQLiteNIO
import Testing

@Suite("Backup restore drill")
struct BackupDrillTests {
    @Test("create while writing, corrupt the live database, restore: the charts read back and the audit chain verifies")
    func restoreDrill() async throws {
        let world = try BackupWorld()
        defer { world.remove() }
        let open = try await world.open()
        try await world.createCharts(0..<40, in: open)
        let key = try BackupKey.generate()
        let backup = world.file("clinic.phgbak")

        // An online backup: another connection keeps creating charts while VACUUM INTO reads.
        let writer = Task { try await world.createCharts(40..<80, in: open) }
        let manifest = try await DatabaseBackup.createSQLite(database: world.path, key: key, to: backup)
        try await writer.value
        try await open.close()

        let audit = try #require(manifest.audit)
        #expect(manifest.kind == .sqlite && audit.recordCount >= 40 && audit.lastSequence == audit.recordCount)
        #expect(try FileManager.default.attributesOfItem(atPath: backup)[.posixPermissions] as? Int == 0o600)
        let report = try await DatabaseBackup.verify(backup: backup, key: key, options: world.options)
        let envelopes = report.envelopes
        // Every chart in the snapshot has three envelopes, all authenticated under GuardedRecords' context.
        #expect(envelopes.found >= 120 && envelopes.found % 3 == 0)
        #expect(envelopes.decrypted == envelopes.found && envelopes.keyChecked == 0 && envelopes.failureCount == 0)
        #expect(report.auditRecordsVerified == Int(audit.recordCount))
        let chartsInBackup = envelopes.found / 3

        // Disaster: the live file's pages are overwritten.
        let handle = try #require(FileHandle(forWritingAtPath: world.path))
        try handle.seek(toOffset: 4096)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 64 * 1024))
        try handle.close()
        await #expect(throws: (any Error).self) { try await BackupDrillTests.quickCheck(world.path) }

        // Restore refuses to overwrite without --force, and leaves the damaged file as it was.
        let refused = await #expect(throws: BackupError.self) {
            try await DatabaseBackup.restoreSQLite(backup: backup, key: key, to: world.path, options: world.options)
        }
        #expect(refused == .destinationExists(path: world.path))
        let restored = try await DatabaseBackup.restoreSQLite(
            backup: backup, key: key, to: world.path, force: true, options: world.options)
        #expect(restored.auditRecordsVerified == Int(audit.recordCount))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: world.directory.path).sorted() == [
                "clinic.phgbak", "clinic.sqlite",
            ])

        // The application opens the restored file: every chart in the backup reads back, the chain
        // verifies, and new audited work continues the chain.
        let reopened = try await world.open()
        for index in 0..<chartsInBackup {
            let chart = try await reopened.records.read("c-\(index)", as: world.clinician)
            #expect(chart["name"] == "Patient \(index)" && chart["notes"] == "follow up in \(index) weeks")
        }
        try await world.createCharts(1000..<1001, in: reopened)
        let verification = try await AuditVerifier(chainKey: world.chainKey, checkpointKey: world.signingKey.publicKey)
            .verify(reopened.sink)
        #expect(verification.isIntact)
        try await reopened.close()
    }

    static func quickCheck(_ path: String) async throws {
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        let rows: [SQLiteRow]
        do {
            rows = try await connection.query("PRAGMA quick_check", [])
            try await connection.close()
        } catch {
            try await connection.close()
            throw error
        }
        guard case .text("ok") = rows.first?.column("quick_check") ?? .null else { throw CancellationError() }
    }

    @Test("verify refuses a snapshot whose audit chain was edited")
    func brokenAuditChain() async throws {
        let world = try BackupWorld()
        defer { world.remove() }
        let open = try await world.open()
        try await world.createCharts(0..<5, in: open)
        try await open.close()
        try await BackupDrillTests.execute(
            world.path, "UPDATE audit_records SET actor_id = 'u-intruder' WHERE sequence = 3")
        let key = try BackupKey.generate()
        let backup = world.file("b.phgbak")
        try await DatabaseBackup.createSQLite(database: world.path, key: key, to: backup)
        let error = await #expect(throws: BackupError.self) {
            try await DatabaseBackup.verify(backup: backup, key: key, options: world.options)
        }
        guard case .auditChainBroken(let breaks, _) = error else {
            Issue.record("expected a broken chain, got \(String(describing: error))")
            return
        }
        #expect(breaks >= 1)
    }

    @Test("verify refuses envelopes moved between rows, and envelopes under a key the keyring lacks")
    func undecryptableEnvelopes() async throws {
        let world = try BackupWorld()
        defer { world.remove() }
        let open = try await world.open()
        try await world.createCharts(0..<5, in: open)
        try await open.close()
        let key = try BackupKey.generate()
        let intact = world.file("intact.phgbak")
        try await DatabaseBackup.createSQLite(database: world.path, key: key, to: intact)

        // A keyring without k1 (as after losing the key file): every envelope names an unknown key.
        var options = world.options
        options.keyring = try Keyring(active: try FieldKey.generate(id: "k2"))
        let unknown = await #expect(throws: BackupError.self) {
            try await DatabaseBackup.verify(backup: intact, key: key, options: options)
        }
        guard case .envelopesUndecryptable(let count, let first) = unknown else {
            Issue.record("expected undecryptable envelopes, got \(String(describing: unknown))")
            return
        }
        #expect(count == 15 && first.reason == .unknownKeyID("k1"))

        // Chart c-1's diagnosis copied into c-2: well-formed, right key, wrong context.
        try await BackupDrillTests.execute(
            world.path, "UPDATE charts SET diagnosis = (SELECT diagnosis FROM charts WHERE id = 'c-1') WHERE id = 'c-2'"
        )
        let moved = world.file("moved.phgbak")
        try await DatabaseBackup.createSQLite(database: world.path, key: key, to: moved)
        let error = await #expect(throws: BackupError.self) {
            try await DatabaseBackup.verify(backup: moved, key: key, options: world.options)
        }
        guard case .envelopesUndecryptable(let movedCount, let movedFirst) = error else {
            Issue.record("expected undecryptable envelopes, got \(String(describing: error))")
            return
        }
        #expect(movedCount == 1 && movedFirst.reason == .doesNotDecrypt && movedFirst.column == "diagnosis")
        // Without the rule the moved envelope is only checked for structure and key: it passes as such.
        options = world.options
        options.contextRules = []
        let keyOnly = try await DatabaseBackup.verify(backup: moved, key: key, options: options)
        #expect(keyOnly.envelopes.keyChecked == 15 && keyOnly.envelopes.decrypted == 0)
    }

    static func execute(_ path: String, _ sql: String) async throws {
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        _ = try await connection.query(sql, [])
        try await connection.close()
    }
}
