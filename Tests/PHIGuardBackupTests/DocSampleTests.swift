// The code sample of the article "Backups you can restore" (Sources/PHIGuardBackup/PHIGuardBackup.docc/
// BackupsYouCanRestore.md), compiled and run here: keep the two in step.
import Foundation
import PHIGuardAudit
import PHIGuardBackup
import PHIGuardFieldEncryption
import PHIGuardKeys
import PHIGuardRecords
import Testing

// MARK: Article sample (begin)

/// The keys a backup's contents must verify with, and how the charts' envelopes were sealed.
func backupOptions(
    keyring: Keyring, chainKey: AuditChainKey, checkpointKey: AuditCheckpointPublicKey,
    charts: RecordSchema
) -> BackupVerificationOptions {
    BackupVerificationOptions(
        keyring: keyring, auditVerifier: AuditVerifier(chainKey: chainKey, checkpointKey: checkpointKey),
        contextRules: EnvelopeContextRule.rules(for: charts))
}

/// Nightly: snapshot the live database (the portal keeps running), then prove the file restores.
func nightlyBackup(database: String, to file: String, keyFile: String, options: BackupVerificationOptions)
    async throws -> BackupManifest
{
    let key = try BackupKey.load(path: keyFile)
    let manifest = try await DatabaseBackup.createSQLite(database: database, key: key, to: file)
    let report = try await DatabaseBackup.verify(backup: file, key: key, options: options)
    guard report.envelopes.failureCount == 0, report.auditRecordsVerified == Int(manifest.audit?.recordCount ?? 0)
    else { throw BackupError.malformed("unexpected verification report") }
    return manifest
}

/// After an incident (the portal stopped): replace the database with the verified backup.
func restoreAfterIncident(file: String, to database: String, keyFile: String, options: BackupVerificationOptions)
    async throws
{
    let key = try BackupKey.load(path: keyFile)
    do {
        try await DatabaseBackup.restoreSQLite(backup: file, key: key, to: database, force: true, options: options)
    } catch {
        // .wrongKey, .tampered, .truncated, .auditChainBroken, …: the database was left as it was.
        print("restore refused: \(error)")
        throw error
    }
}

// MARK: Article sample (end)

@Suite("Backup article sample")
struct BackupDocSampleTests {
    @Test("the article's nightly backup and restore run as written")
    func sample() async throws {
        let world = try BackupWorld()
        defer { world.remove() }
        let open = try await world.open()
        try await world.createCharts(0..<3, in: open)
        try await open.close()
        let keyFile = world.file("backup.key")
        try BackupKey.generate().write(to: keyFile)
        let options = backupOptions(
            keyring: world.keyring, chainKey: world.chainKey, checkpointKey: world.signingKey.publicKey,
            charts: world.schema)
        let file = world.file("nightly.phgbak")
        let manifest = try await nightlyBackup(database: world.path, to: file, keyFile: keyFile, options: options)
        #expect(manifest.audit?.recordCount == 3)
        try await restoreAfterIncident(file: file, to: world.path, keyFile: keyFile, options: options)
        let reopened = try await world.open()
        #expect(try await reopened.records.read("c-2", as: world.clinician)["name"] == "Patient 2")
        try await reopened.close()
    }
}
