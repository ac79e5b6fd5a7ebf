import Foundation
import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardKeys
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh directory (mode 0700) for one test, removed afterwards.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("phiguard-keys-\(UUID())").path
    try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try body(directory)
}

@Suite("KeyDirectory")
struct KeyDirectoryTests {
    @Test("create writes every key owner-only; every key loads; a second create is refused")
    func createAndLoad() throws {
        try withTemporaryDirectory { parent in
            let keys = try KeyDirectory.create(at: parent + "/keys")
            #expect(keys.problems().isEmpty)
            for kind in KeyKind.allCases {
                var status = stat()
                #expect(lstat(keys.filePath(kind), &status) == 0)
                #expect(status.st_mode & 0o777 == 0o600, "\(kind)")
            }
            _ = try keys.fieldKeyring()
            _ = try keys.blindIndexKeyring()
            _ = try keys.auditChainKey()
            #expect(try keys.auditSigningKey().publicKey == keys.auditPublicKey())
            _ = try keys.digestSecret()
            #expect(try keys.backupKey().fingerprint.count == 16)
            #expect(throws: KeyError.exists(path: keys.filePath(.fieldKeyring))) {
                try KeyDirectory.create(at: parent + "/keys")
            }
        }
    }

    @Test("backup.key is the one backup key file format: the header line, then base64; bare base64 is refused")
    func backupKeyFormat() throws {
        try withTemporaryDirectory { parent in
            let keys = try KeyDirectory.create(at: parent + "/keys")
            let path = keys.filePath(.backup)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let lines = text.split(separator: "\n")
            #expect(lines.count == 2 && lines[0] == Substring(BackupKey.fileHeader))
            let key = try keys.backupKey()
            // The same file outside the directory loads the same key (`phiguard backup --backup-key`).
            #expect(try BackupKey.load(path: path).fingerprint == key.fingerprint)
            #expect(!key.description.contains(lines[1]))
            // An older directory's bare base64 backup.key: malformed, named, with the fix; never the key.
            unlink(path)
            #expect(
                FileManager.default.createFile(
                    atPath: path, contents: Data((lines[1] + "\n").utf8), attributes: [.posixPermissions: 0o600]))
            let refused = error { _ = try keys.backupKey() }
            guard case .malformed(let reported, let reason) = refused else {
                Issue.record("expected malformed, got \(String(describing: refused))")
                return
            }
            #expect(reported == path && reason.contains(BackupKey.fileHeader) && !reason.contains(lines[1]))
            #expect(keys.problems() == [.malformed(path: reported, reason: reason)])
        }
    }

    /// The error `body` throws, or `nil`.
    func error(_ body: () throws -> Void) -> KeyError? {
        do { try body() } catch let error as KeyError { return error } catch { return nil }
        return nil
    }

    @Test("a key directory writable by group or others (0777, 0770) is refused, naming it")
    func worldWritableDirectory() throws {
        try withTemporaryDirectory { parent in
            let keys = try KeyDirectory.create(at: parent + "/keys")
            for mode: mode_t in [0o777, 0o770, 0o702] {
                chmod(keys.path, mode)
                let failure = error { _ = try keys.auditChainKey() }
                #expect(failure == .directoryWritableByOthers(path: keys.path, mode: "0" + String(mode, radix: 8)))
                #expect(failure?.description.hasPrefix(keys.path + ": key directory has mode") == true)
                #expect(keys.problems() == [failure].compactMap { $0 })
            }
            chmod(keys.path, 0o750)  // readable by the group is fine, writable is not
            #expect(keys.problems().isEmpty)
        }
    }

    @Test("a key directory reached through a symbolic link is refused")
    func symlinkedDirectory() throws {
        try withTemporaryDirectory { parent in
            let real = try KeyDirectory.create(at: parent + "/real")
            symlink(real.path, parent + "/link")
            let keys = KeyDirectory(path: parent + "/link/")
            let failure = error { _ = try keys.fieldKeyring() }
            #expect(failure == .symbolicLink(path: parent + "/link"))
            #expect(failure?.description.contains("symbolic link") == true)
            #expect(failure?.description.hasPrefix(parent + "/link:") == true)
        }
    }

    @Test("a key file readable by others (0644, 0640, 0604) is refused, naming it and its mode")
    func readableKeyFile() throws {
        try withTemporaryDirectory { parent in
            let keys = try KeyDirectory.create(at: parent + "/keys")
            for kind in [KeyKind.fieldKeyring, .auditChain, .backup] {
                for mode: mode_t in [0o644, 0o640, 0o604] {
                    let file = keys.filePath(kind)
                    chmod(file, mode)
                    let failure = keys.problems()
                    #expect(failure == [.fileAccessibleByOthers(path: file, mode: "0" + String(mode, radix: 8))])
                    #expect(
                        failure.first?.description
                            == "\(file): key file has mode 0\(String(mode, radix: 8)); group or others may access it")
                    chmod(file, 0o600)
                }
            }
            chmod(keys.filePath(.digestSecret), 0o400)  // read-only for the owner is fine
            #expect(keys.problems().isEmpty)
        }
    }

    @Test("a key file that is a symbolic link is refused, even to a 0600 file")
    func symlinkedKeyFile() throws {
        try withTemporaryDirectory { parent in
            let keys = try KeyDirectory.create(at: parent + "/keys")
            let other = try KeyDirectory.create(at: parent + "/other")
            let file = keys.filePath(.auditSigning)
            unlink(file)
            symlink(other.filePath(.auditSigning), file)
            let failure = error { _ = try keys.auditSigningKey() }
            #expect(failure == .symbolicLink(path: file))
            #expect(keys.problems() == [.symbolicLink(path: file)])
        }
    }

    @Test("a key file or directory of another user is refused (the suite runs as root in CI: chown works)")
    func wrongOwner() throws {
        try #require(geteuid() == 0, "needs root to chown; covered where the suite runs as root")
        try withTemporaryDirectory { parent in
            let keys = try KeyDirectory.create(at: parent + "/keys")
            let file = keys.filePath(.digestSecret)
            chown(file, 65534, 65534)
            #expect(keys.problems() == [.wrongOwner(path: file, owner: 65534, expected: 0)])
            chown(file, 0, 0)
            chown(keys.path, 65534, 65534)
            let failure = error { _ = try keys.digestSecret() }
            #expect(failure == .wrongOwner(path: keys.path, owner: 65534, expected: 0))
            #expect(failure?.description == "\(keys.path): belongs to uid 65534, not to uid 0 running PHIGuard")
        }
    }

    @Test("missing, empty, malformed and wrong-length key files name the file, never the contents")
    func badContents() throws {
        try withTemporaryDirectory { parent in
            let keys = try KeyDirectory.create(at: parent + "/keys")
            let chain = keys.filePath(.auditChain)
            unlink(chain)
            #expect(error { _ = try keys.auditChainKey() } == .keyMissing(path: chain, key: .auditChain))
            try write("", to: chain)
            #expect(error { _ = try keys.auditChainKey() } == .malformed(path: chain, reason: "empty file"))
            unlink(chain)
            try write("secret-looking-text!\n", to: chain)
            let failure = error { _ = try keys.auditChainKey() }
            #expect(failure == .malformed(path: chain, reason: "not canonical base64"))
            #expect(failure?.description.contains("secret-looking") == false)
            unlink(chain)
            try write("AAAA\n", to: chain)
            #expect(
                error { _ = try keys.auditChainKey() } == .malformed(path: chain, reason: "the key is not 32 bytes"))
            let field = keys.filePath(.fieldKeyring)
            unlink(field)
            try write("phiguard-field-keyring v1\nactive k1 bm90LWEta2V5\n", to: field)
            let keyringFailure = error { _ = try keys.fieldKeyring() }
            #expect(keyringFailure?.subject == field)
            #expect(keyringFailure?.description.contains("bm90LWEta2V5") == false)
            #expect(
                error { _ = try KeyDirectory(path: parent + "/none").fieldKeyring() }
                    == .directoryMissing(path: parent + "/none"))
        }
    }

    func write(_ text: String, to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) } == bytes.count)
    }

    @Test("keys loaded from the directory work with the libraries that use them")
    func keysWork() throws {
        try withTemporaryDirectory { parent in
            let keys = try KeyDirectory.create(at: parent + "/keys")
            let encryptor = FieldEncryptor(keyring: try keys.fieldKeyring())
            let context = FieldContext(table: "t", recordID: "r", field: "f")
            let envelope = try encryptor.encrypt(Array("x".utf8), context: context)
            let again = FieldEncryptor(keyring: try keys.fieldKeyring())
            #expect(try again.decrypt(envelope, context: context) == Array("x".utf8))
        }
    }
}
