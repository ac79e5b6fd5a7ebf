import Foundation
import PHIGuardTestSupport
import Testing

/// The restore drill with the built `phiguard backup` on the PatientPortal example's database:
/// back up, corrupt, restore, and the portal works and its audit log verifies.
@Suite("phiguard backup", .serialized)
struct BackupCLITests {
    static func phiguard(_ arguments: [String]) throws -> BuiltProduct.Run {
        try BuiltProduct.run("phiguard", arguments)
    }

    @Test("keygen, create, verify (every portal envelope decrypts), corrupt, restore --force, sign in again")
    func portalDrill() throws {
        let portal = try PatientPortalTests.Portal()
        defer { portal.remove() }
        #expect(try portal.signIn("alice").status == 0)
        #expect(try portal.run(["chart"]).stdout.contains("medications: Salbutamol"))

        let key = portal.directory.appendingPathComponent("backup.key").path
        let backup = portal.directory.appendingPathComponent("portal.phgbak").path
        let keygen = try Self.phiguard(["backup", "keygen", "--out", key])
        #expect(keygen.status == 0 && keygen.stdout.contains("fingerprint"), "\(keygen.stderr)")
        #expect(try Self.phiguard(["backup", "keygen", "--out", key]).status == 73)

        let create = try Self.phiguard(
            ["backup", "create", "--backup-key", key, "--sqlite", portal.database, "--out", backup, "--json"])
        #expect(create.status == 0, "\(create.stderr)")
        #expect(create.stdout.contains(#""kind":"sqlite""#) && create.stdout.contains(#""auditRecords":"#))
        #expect(
            try Self.phiguard(["backup", "create", "--backup-key", key, "--sqlite", portal.database, "--out", backup])
                .status == 73)

        // How the portal seals its fields: every envelope in its database is then authenticated.
        // (PortalCore's schemas: `portal_patients` and `portal_charts`, each field bound to table, id and
        // field name; the account directory's TOTP secrets to (`phiguard_accounts`, id, `totp_secret`).)
        let chartFields = [
            "demographics", "contact", "insurance", "problems", "medications", "allergies", "vitals", "labs",
            "immunizations", "billing",
        ]
        let noteContexts =
            ["author", "date", "body"].map { "portal_notes.\($0)=id" }
            + ["portal_notes.diagnosis_codes=id:diagnosis-codes"]
            + ["sender", "date", "body"].map { "portal_messages.\($0)=id" }
        let contexts =
            ([
                "phiguard_accounts.totp_secret=id", "portal_patients.name=id",
                "portal_patients.birth_date=id:birth-date",
                "portal_patients.mrn=id", "portal_patients.ssn=id",
            ] + chartFields.map { "portal_charts.\($0)=id" } + noteContexts).flatMap { ["--context", $0] }
        let keys = ["--field-keys", portal.keys + "/field.keys", "--keys", portal.keys]
        let verify = try Self.phiguard(["backup", "verify", backup, "--backup-key", key, "--json"] + keys + contexts)
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stdout.contains(#""envelopesKeyChecked":0"#), "\(verify.stdout)")
        #expect(!verify.stdout.contains(#""envelopesDecrypted":0"#))
        // The key directory's backup.key is the same key file format: it makes and verifies backups too
        // (a different key from keygen's, so each backup refuses the other key as the wrong key).
        let directoryKey = portal.keys + "/backup.key"
        let directoryBackup = portal.directory.appendingPathComponent("directory-key.phgbak").path
        let made = try Self.phiguard(
            ["backup", "create", "--backup-key", directoryKey, "--sqlite", portal.database, "--out", directoryBackup])
        #expect(made.status == 0, "\(made.stderr)")
        let verified = try Self.phiguard(
            ["backup", "verify", directoryBackup, "--backup-key", directoryKey] + keys + contexts)
        #expect(verified.status == 0, "\(verified.stderr)")
        let wrongKey = try Self.phiguard(["backup", "verify", directoryBackup, "--backup-key", key] + keys + contexts)
        #expect(wrongKey.status == 1 && wrongKey.stderr.contains("different backup key"), "\(wrongKey.stderr)")
        // Another key file (the audit chain key) is not a backup key: refused, exit 65, naming the file.
        let chainKey = portal.keys + "/chain.key"
        let notBackupKey = try Self.phiguard(
            ["backup", "create", "--backup-key", chainKey, "--sqlite", portal.database, "--out", directoryBackup + "2"])
        #expect(notBackupKey.status == 65 && notBackupKey.stderr.contains(chainKey), "\(notBackupKey.stderr)")
        #expect(notBackupKey.stderr.contains("phiguard-backup-key v1"))
        // Without the audit keys, a snapshot with an audit log is not called verified.
        let noAudit = try Self.phiguard(
            ["backup", "verify", backup, "--backup-key", key, "--field-keys", portal.keys + "/field.keys"])
        #expect(noAudit.status == 1 && noAudit.stderr.contains("audit"))
        // A flipped byte: refused, exit 1.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: backup))
        let tampered = portal.directory.appendingPathComponent("tampered.phgbak").path
        bytes[bytes.count / 2] ^= 1
        try bytes.write(to: URL(fileURLWithPath: tampered))
        let refused = try Self.phiguard(["backup", "verify", tampered, "--backup-key", key] + keys)
        #expect(refused.status == 1 && refused.stderr.contains("does not authenticate"), "\(refused.stderr)")

        // Disaster, then the restore: refused without --force, done with it.
        let handle = try #require(FileHandle(forWritingAtPath: portal.database))
        try handle.seek(toOffset: 8192)
        try handle.write(contentsOf: Data(repeating: 0, count: 32 * 1024))
        try handle.close()
        let restore = ["backup", "restore", backup, "--backup-key", key, "--to", portal.database] + keys + contexts
        #expect(try Self.phiguard(restore).status == 73)
        let restored = try Self.phiguard(restore + ["--force"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("restored and verified"))

        // The portal works on the restored file, and its log (with the new sign-in) verifies.
        #expect(try portal.run(["logout"]).status == 0)
        #expect(try portal.signIn("alice").status == 0)
        #expect(try portal.run(["chart"]).stdout.contains("medications: Salbutamol"))
        let audit = try Self.phiguard(["audit", "verify", "--sqlite", portal.database, "--keys", portal.keys])
        #expect(audit.status == 0 && audit.stdout.hasPrefix("intact: "), "\(audit.stdout) \(audit.stderr)")
    }
}
