import Foundation
import PHIGuardTestSupport
import Testing

@Suite("phiguard audit, end to end", .serialized)
struct AuditCLITests {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let binary = Fixture.repositoryRoot.appendingPathComponent(".build/debug/phiguard")

    static func run(_ arguments: [String], input: String = "") throws -> Result {
        // `swift test` builds every executable first; a missing binary is a failure, not a skip.
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build phiguard first")
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self))
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("phiguard-audit-cli-\(UUID())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func events(_ count: Int) -> String {
        (0..<count).map { index in
            let breakGlass = index == 5 ? #","breakGlass":true,"breakGlassReason":"ETREAT""# : ""
            return #"{"kind":"access.decision","ts":1763884800000000,"actor":"user:\#(index % 3)","role":"nurse","#
                + #""action":"read","resourceType":"Observation","resourceID":"obs-\#(index)","patient":"MRN-7","#
                + #""fields":["code","value"],"outcome":"allow","rules":["r1"]\#(breakGlass)}"#
        }.joined(separator: "\n") + "\n"
    }

    @Test(
        "keygen, append, verify, tamper, export and review a JSON-lines log")
    func fileLog() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        let log = directory.appendingPathComponent("audit.jsonl").path

        let keygen = try Self.run(["audit", "keygen", "--output", keys, "--json"])
        #expect(keygen.status == 0)
        #expect(keygen.stdout.contains("publicKey"))
        #expect(try Self.run(["audit", "keygen", "--output", keys]).status == 65)
        let chainKey = try String(contentsOfFile: keys + "/chain.key", encoding: .utf8)
        #expect(!keygen.stdout.contains(chainKey.trimmingCharacters(in: .whitespacesAndNewlines)))

        let appended = try Self.run(
            ["audit", "append", "--file", log, "--keys", keys, "--json"], input: Self.events(50))
        #expect(appended.status == 0, "\(appended.stderr)")
        #expect(appended.stdout.contains(#""appended":50"#))

        // Free text in an identifier field is refused and nothing is written.
        let bad = #"{"kind":"login.failed","actor":"Jane Doe","outcome":"failure"}"# + "\n"
        let refused = try Self.run(["audit", "append", "--file", log, "--keys", keys], input: bad)
        #expect(refused.status == 65)
        #expect(!refused.stderr.contains("Jane Doe"))

        var verify = try Self.run(["audit", "verify", "--file", log, "--keys", keys, "--json", "--progress"])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains(#""result":"intact""#))
        #expect(verify.stdout.contains(#""records":50"#))
        #expect(verify.stderr.contains("verified 50 records"))

        let exported = directory.appendingPathComponent("exported.checkpoints").path
        try FileManager.default.copyItem(atPath: log + ".checkpoints", toPath: exported)

        let unreviewed = try Self.run(["audit", "unreviewed", "--file", log])
        #expect(unreviewed.status == 1)
        #expect(unreviewed.stdout.hasPrefix("6\t"))

        let fhir = try Self.run(["audit", "export", "--file", log, "--format", "fhir", "--source-id", "portal-1"])
        #expect(fhir.status == 0)
        let resources = fhir.stdout.split(separator: "\n")
        #expect(resources.count == 50)
        #expect(resources.allSatisfy { $0.contains(#""resourceType":"AuditEvent""#) })
        #expect(resources[5].contains(#""code":"BTG""#))

        // Tamper: change the patient of line 20.
        var lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        let original = lines
        lines[19] = lines[19].replacingOccurrences(of: "MRN-7", with: "MRN-8")
        try (lines.joined(separator: "\n") + "\n").write(toFile: log, atomically: false, encoding: .utf8)
        verify = try Self.run(["audit", "verify", "--file", log, "--keys", keys])
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("broken: modified at position 19 (line 20)"))

        // Truncate: detected against the exported checkpoints.
        try (original.prefix(40).joined(separator: "\n") + "\n").write(toFile: log, atomically: false, encoding: .utf8)
        verify = try Self.run(["audit", "verify", "--file", log, "--keys", keys, "--checkpoints", exported, "--json"])
        #expect(verify.status == 1)
        #expect(verify.stdout.contains(#""kind":"truncated""#))
        #expect(verify.stdout.contains(#""position":40"#))

        #expect(try Self.run(["audit", "verify", "--file", log + ".missing", "--keys", keys]).status == 66)
    }

    @Test("verify and export an SQLite log")
    func sqliteLog() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        let database = directory.appendingPathComponent("audit.sqlite").path
        #expect(try Self.run(["audit", "keygen", "--output", keys]).status == 0)
        let appended = try Self.run(["audit", "append", "--sqlite", database, "--keys", keys], input: Self.events(30))
        #expect(appended.status == 0, "\(appended.stderr)")
        let verify = try Self.run(["audit", "verify", "--sqlite", database, "--keys", keys])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains("intact: 30 records"))
        let fhir = try Self.run(["audit", "export", "--sqlite", database, "--format", "fhir"])
        #expect(fhir.stdout.split(separator: "\n").count == 30)
    }

    @Test(
        "verify a PostgreSQL log",
        .enabled(
            if: ProcessInfo.processInfo.environment["PHIGUARD_POSTGRES_URL"] != nil
                || ProcessInfo.processInfo.environment["CI"] != nil))
    func postgresLog() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        #expect(try Self.run(["audit", "keygen", "--output", keys]).status == 0)
        let prefix = ["--postgres-table-prefix", "cli_\(UInt32.random(in: 0...UInt32.max))"]
        let appended = try Self.run(
            ["audit", "append", "--postgres", "--keys", keys] + prefix, input: Self.events(10))
        #expect(appended.status == 0, "\(appended.stderr)")
        let verify = try Self.run(["audit", "verify", "--postgres", "--keys", keys, "--json"] + prefix)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains(#""records":10"#))
    }
}
