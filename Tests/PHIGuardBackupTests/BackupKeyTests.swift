import Foundation
import PHIGuardBackup
import Testing

@Suite("Backup key files")
struct BackupKeyTests {
    @Test("a key file is written 0600, never over an existing file, and read back to the same key")
    func roundTrip() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("backup-key-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("backup.key").path
        let key = try BackupKey.generate()
        try key.write(to: path)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        #expect(try BackupKey.load(path: path).fingerprint == key.fingerprint)
        #expect(!key.description.contains(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")[1]))
        #expect(throws: BackupError.destinationExists(path: path)) { try key.write(to: path) }
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect(throws: BackupError.self) { try BackupKey.load(path: path) }
    }
}
