import Foundation
import Testing

@testable import PHIGuardCrypto

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("PrivateFile")
struct PrivateFileTests {
    /// A fresh directory for one test, removed afterwards.
    func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("phiguard-pf-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    func mode(of path: String) -> mode_t {
        var status = stat()
        lstat(path, &status)
        return status.st_mode & 0o7777
    }

    @Test("writes mode 0600 (whatever the umask) and reads the bytes back")
    func writesOwnerOnly() throws {
        try withDirectory { directory in
            let path = directory + "/secret.key"
            let previous = umask(0)
            defer { umask(previous) }
            try PrivateFile.write([1, 2, 3], to: path)
            #expect(mode(of: path) == 0o600)
            #expect(try PrivateFile.read(path, maximumByteCount: 16) == [1, 2, 3])
            try PrivateFile.write([4], to: directory + "/public.pub", access: .publiclyReadable)
            #expect(mode(of: directory + "/public.pub") == 0o644)
        }
    }

    @Test("refuses to write over an existing file or through a symbolic link")
    func refusesExisting() throws {
        try withDirectory { directory in
            let path = directory + "/secret.key"
            try PrivateFile.write([1], to: path)
            #expect(throws: PrivateFile.Failure.exists(path: path)) { try PrivateFile.write([2], to: path) }
            #expect(try PrivateFile.read(path, maximumByteCount: 16) == [1])
            let target = directory + "/elsewhere"
            let link = directory + "/link.key"
            #expect(symlink(target, link) == 0)
            #expect(throws: PrivateFile.Failure.exists(path: link)) { try PrivateFile.write([2], to: link) }
            #expect(!FileManager.default.fileExists(atPath: target))
        }
    }

    @Test("replacing writes a new file and renames it over the old one")
    func replaces() throws {
        try withDirectory { directory in
            let path = directory + "/session"
            try PrivateFile.write([1], to: path)
            try PrivateFile.write([2, 3], to: path, replacing: true)
            #expect(try PrivateFile.read(path, maximumByteCount: 16) == [2, 3])
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["session"])
        }
    }

    @Test("reading refuses a symbolic link, a 0644 file, a directory, a missing or an oversized file")
    func readRefusals() throws {
        try withDirectory { directory in
            let path = directory + "/secret.key"
            try PrivateFile.write(Array("key".utf8), to: path)
            let link = directory + "/link.key"
            #expect(symlink(path, link) == 0)
            #expect(throws: PrivateFile.Failure.notRegularFile(path: link)) {
                try PrivateFile.read(link, maximumByteCount: 16)
            }
            #expect(chmod(path, 0o644) == 0)
            #expect(throws: PrivateFile.Failure.insecurePermissions(path: path, mode: "0644")) {
                try PrivateFile.read(path, maximumByteCount: 16)
            }
            #expect(chmod(path, 0o640) == 0)
            #expect(throws: PrivateFile.Failure.insecurePermissions(path: path, mode: "0640")) {
                try PrivateFile.read(path, maximumByteCount: 16)
            }
            #expect(chmod(path, 0o600) == 0)
            #expect(throws: PrivateFile.Failure.tooLarge(path: path, limit: 2)) {
                try PrivateFile.read(path, maximumByteCount: 2)
            }
            #expect(throws: PrivateFile.Failure.notRegularFile(path: directory)) {
                try PrivateFile.read(directory, maximumByteCount: 16)
            }
            #expect(throws: PrivateFile.Failure.notFound(path: directory + "/missing")) {
                try PrivateFile.read(directory + "/missing", maximumByteCount: 16)
            }
        }
    }
}
