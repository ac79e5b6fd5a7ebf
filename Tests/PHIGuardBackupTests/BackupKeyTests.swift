import Foundation
import PHIGuardBackup
import PHIGuardKeys
import Testing

@Suite("Backup key files")
struct BackupKeyTests {
    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("backup-key-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test("a key file is written 0600, never over an existing file, and read back to the same key")
    func roundTrip() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("backup.key").path
        let key = try BackupKey.generate()
        try key.write(to: path)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && lines[0] == Substring(BackupKey.fileHeader))
        #expect(try BackupKey.load(path: path).fingerprint == key.fingerprint)
        #expect(
            !key.description.contains(lines[1]) && !"\(KeyError.malformed(path: path, reason: "x"))".contains(lines[1]))
        #expect(throws: KeyError.exists(path: path)) { try key.write(to: path) }
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect(throws: KeyError.fileAccessibleByOthers(path: path, mode: "0644")) { try BackupKey.load(path: path) }
    }

    @Test("a symbolic link, a missing file and a file that is not a backup key file are refused with a KeyError")
    func refusals() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let real = directory.appendingPathComponent("real.key").path
        try BackupKey.generate().write(to: real)
        let link = directory.appendingPathComponent("link.key").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
        #expect(throws: KeyError.symbolicLink(path: link)) { try BackupKey.load(path: link) }
        let missing = directory.appendingPathComponent("missing.key").path
        #expect(throws: KeyError.keyMissing(path: missing, key: .backup)) { try BackupKey.load(path: missing) }

        // Bare base64 (the old key directory format), a wrong header, a short key: malformed.
        let base64 = Data(repeating: 7, count: 32).base64EncodedString()
        let cases = [
            "bare": base64 + "\n", "header": "phiguard-backup-key v2\n" + base64 + "\n",
            "short": BackupKey.fileHeader + "\n" + Data(repeating: 7, count: 16).base64EncodedString() + "\n",
            "extra": BackupKey.fileHeader + "\n" + base64 + "\n" + base64 + "\n",
        ]
        for (name, text) in cases {
            let path = directory.appendingPathComponent(name).path
            #expect(
                FileManager.default.createFile(
                    atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]))
            let error = #expect(throws: KeyError.self) { try BackupKey.load(path: path) }
            guard case .malformed(let reported, let reason) = error else {
                Issue.record("\(name): expected malformed, got \(String(describing: error))")
                continue
            }
            #expect(reported == path && !reason.contains(base64), "\(name)")
        }
        // Windows line ends are accepted, to the same key.
        let crlf = directory.appendingPathComponent("crlf").path
        let lf = directory.appendingPathComponent("lf").path
        for (path, end) in [(crlf, "\r\n"), (lf, "\n")] {
            let text = BackupKey.fileHeader + end + base64 + end
            #expect(
                FileManager.default.createFile(
                    atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]))
        }
        #expect(try BackupKey.load(path: crlf).fingerprint == BackupKey.load(path: lf).fingerprint)
    }

    @Test(
        "a key directory's backup.key creates, verifies and restores an SQLite backup; a copy of it loads the same key")
    func keyDirectoryKeyMakesBackups() async throws {
        let world = try BackupWorld()
        defer { world.remove() }
        let keys = try KeyDirectory.create(at: world.file("keys"))
        let key = try keys.backupKey()
        let open = try await world.open()
        try await world.createCharts(0..<6, in: open)
        try await open.close()

        let backup = world.file("clinic.phgbak")
        let manifest = try await DatabaseBackup.createSQLite(database: world.path, key: key, to: backup)
        let report = try await DatabaseBackup.verify(backup: backup, key: try keys.backupKey(), options: world.options)
        #expect(report.envelopes.found == 18 && report.envelopes.failureCount == 0)
        #expect(report.auditRecordsVerified == manifest.audit.map { Int($0.recordCount) })

        // The file copied out of the directory (for the restorers) is the same key, by the same fingerprint.
        let copy = world.file("restorers-backup.key")
        try FileManager.default.copyItem(atPath: keys.filePath(.backup), toPath: copy)
        let copied = try BackupKey.load(path: copy)
        #expect(copied.fingerprint == key.fingerprint && copied.fingerprint.count == 16)
        try FileManager.default.removeItem(atPath: world.path)
        let restored = try await DatabaseBackup.restoreSQLite(
            backup: backup, key: copied, to: world.path, options: world.options)
        #expect(restored.envelopes.found == 18 && restored.envelopes.failureCount == 0)

        // Another directory's key is a wrong key, not tampering.
        let other = try KeyDirectory.create(at: world.file("other-keys")).backupKey()
        #expect(other.fingerprint != key.fingerprint)
        await #expect(throws: BackupError.wrongKey) {
            try await DatabaseBackup.verify(backup: backup, key: other, options: world.options)
        }
    }
}
