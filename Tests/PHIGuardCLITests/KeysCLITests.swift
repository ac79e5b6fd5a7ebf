import Foundation
import PHIGuardTestSupport
import Testing

/// Runs the built `phiguard keys …` end to end (`swift test` builds the executable first).
@Suite("phiguard keys")
struct KeysCLITests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let binary = Fixture.repositoryRoot.appendingPathComponent(".build/debug/phiguard")

    func phiguard(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "phiguard-keys-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The base64 key strings in a key file.
    func keyMaterial(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            return parts.count == 3 ? String(parts[2]) : nil
        }
    }

    @Test("generate writes a 0600 key file and prints only the id and fingerprint")
    func generate() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("field.keys").path
        let run = try phiguard(["keys", "generate", "--out", path, "--id", "2026-11"])
        #expect(run.status == 0, "\(run.stderr)")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(run.stdout.contains("2026-11"))
        #expect(run.stdout.contains("fingerprint"))
        let secrets = try keyMaterial(path)
        #expect(secrets.count == 1)
        #expect(try Data(base64Encoded: #require(secrets.first))?.count == 32)
        for secret in secrets { #expect(!run.stdout.contains(secret) && !run.stderr.contains(secret)) }

        // Never overwrites.
        let again = try phiguard(["keys", "generate", "--out", path])
        #expect(again.status == 73)
        #expect(try keyMaterial(path) == secrets)
    }

    @Test("inspect lists ids, status and fingerprints as JSON; rotate adds a key; revoke drops one")
    func inspectAndRotate() throws {
        struct Report: Decodable {
            struct Key: Decodable {
                var id: String
                var status: String
                var fingerprint: String
            }
            var activeKeyID: String
            var keys: [Key]
        }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("field.keys").path
        #expect(try phiguard(["keys", "generate", "--out", path, "--id", "k1"]).status == 0)
        let rotated = try phiguard(["keys", "rotate", path, "--id", "k2", "--json"])
        #expect(rotated.status == 0, "\(rotated.stderr)")
        let inspected = try phiguard(["keys", "inspect", path, "--json"])
        #expect(inspected.status == 0)
        let report = try JSONDecoder().decode(Report.self, from: Data(inspected.stdout.utf8))
        #expect(report.activeKeyID == "k2")
        #expect(report.keys.map(\.id) == ["k2", "k1"])
        #expect(report.keys.map(\.status) == ["active", "retired"])
        #expect(report.keys.allSatisfy { $0.fingerprint.count == 16 })
        for secret in try keyMaterial(path) { #expect(!inspected.stdout.contains(secret)) }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        #expect(try phiguard(["keys", "rotate", path, "--revoke", "k1"]).status == 0)
        let afterRevoke = try JSONDecoder().decode(
            Report.self, from: Data(try phiguard(["keys", "inspect", path, "--json"]).stdout.utf8))
        #expect(afterRevoke.keys.map(\.status) == ["active", "revoked"])
        #expect(try keyMaterial(path).count == 1)
        // The active key cannot be revoked.
        #expect(try phiguard(["keys", "rotate", path, "--revoke", "k2"]).status == 65)
    }

    @Test("insecure permissions, missing files and malformed files get their exit codes")
    func failures() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("field.keys").path
        #expect(try phiguard(["keys", "generate", "--out", path]).status == 0)
        chmod(path, 0o644)
        let insecure = try phiguard(["keys", "inspect", path])
        #expect(insecure.status == 65)
        #expect(insecure.stderr.contains("chmod 600"))
        for secret in try keyMaterial(path) { #expect(!insecure.stderr.contains(secret)) }

        #expect(try phiguard(["keys", "inspect", path + ".missing"]).status == 66)

        let garbage = directory.appendingPathComponent("garbage.keys").path
        _ = FileManager.default.createFile(
            atPath: garbage, contents: Data("not a keyring\n".utf8), attributes: [.posixPermissions: 0o600])
        let malformed = try phiguard(["keys", "inspect", garbage])
        #expect(malformed.status == 65)
        #expect(!malformed.stderr.contains("not a keyring"))
    }
}
