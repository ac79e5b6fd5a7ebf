import Foundation
import PHIGuardTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `phiguard audit` loads its secret keys through PHIGuardKeys: a 0644 or linked key is refused,
/// naming the file and the problem (it used to be read with no check at all).
@Suite("phiguard audit key checks", .serialized)
struct AuditKeysCLITests {
    @Test("a 0644 chain.key, a linked --chain-key-file and a 0644 signing.key are refused (exit 65)")
    func refusals() throws {
        let directory = try AuditCLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        let log = directory.appendingPathComponent("audit.jsonl").path
        #expect(try BuiltProduct.run("phiguard", ["audit", "keygen", "--output", keys]).status == 0)
        let appended = try BuiltProduct.run(
            "phiguard", ["audit", "append", "--file", log, "--keys", keys], input: AuditCLITests.events(3))
        #expect(appended.status == 0, "\(appended.stderr)")
        #expect(try BuiltProduct.run("phiguard", ["audit", "verify", "--file", log, "--keys", keys]).status == 0)

        chmod(keys + "/chain.key", 0o644)
        let readable = try BuiltProduct.run("phiguard", ["audit", "verify", "--file", log, "--keys", keys])
        #expect(readable.status == 65)
        #expect(readable.stderr.contains("\(keys)/chain.key: key file has mode 0644"), "\(readable.stderr)")
        chmod(keys + "/chain.key", 0o600)

        let link = directory.appendingPathComponent("chain-link.key").path
        symlink(keys + "/chain.key", link)
        let linked = try BuiltProduct.run("phiguard", ["audit", "verify", "--file", log, "--chain-key-file", link])
        #expect(linked.status == 65)
        #expect(linked.stderr.contains("\(link): is a symbolic link"), "\(linked.stderr)")

        chmod(keys + "/signing.key", 0o640)
        let signing = try BuiltProduct.run(
            "phiguard", ["audit", "append", "--file", log, "--keys", keys], input: AuditCLITests.events(1))
        #expect(signing.status == 65)
        #expect(signing.stderr.contains("\(keys)/signing.key: key file has mode 0640"), "\(signing.stderr)")
    }
}
