import Foundation
import PHIGuardTestSupport
import Synchronization
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
        BuiltProduct.ignoreBrokenPipes()
        try process.run()
        try? stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8))
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
        "a stored sequence number someone else wrote out of range is a one-line error, never a crash",
        arguments: ["-1", "9223372036854775807"])
    func corruptSequence(stored: String) throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        let database = directory.appendingPathComponent("audit.sqlite").path
        #expect(try Self.run(["audit", "keygen", "--output", keys]).status == 0)
        #expect(
            try Self.run(["audit", "append", "--sqlite", database, "--keys", keys], input: Self.events(3)).status == 0)
        // What a SQL injection elsewhere, or a restored backup, could leave behind (SQLite stores the
        // unsigned sequence as a signed integer, so -1 reads back as 2^64 - 1).
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [database, "UPDATE audit_records SET sequence = \(stored) WHERE sequence = 3"]
        try sqlite.run()
        sqlite.waitUntilExit()
        #expect(sqlite.terminationStatus == 0)
        let appended = try Self.run(["audit", "append", "--sqlite", database, "--keys", keys], input: Self.events(1))
        #expect(appended.status != 0)
        let output = appended.stdout + appended.stderr
        for leak in ["Fatal error", "Backtrace", "runtime failure", ".swift", "/work/", "Sources/"] {
            #expect(!output.contains(leak), "output leaks \(leak): \(output)")
        }
        #expect(output.split(separator: "\n").count <= 2, "\(output)")
    }

    @Test("8 processes × 1,000 appends on one SQLite file make one intact chain of exactly 8,000 records")
    func manyProcessesOneChain() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        let database = directory.appendingPathComponent("audit.sqlite").path
        #expect(try Self.run(["audit", "keygen", "--output", keys]).status == 0)
        #expect(try Self.run(["audit", "append", "--sqlite", database, "--keys", keys]).status == 0)
        let input = Self.events(1000)
        // Each process appends in batches of 10, so the 8 interleave all the way through. The
        // waiting happens on a thread of its own, not on one of the few threads async tests share.
        let results = await Self.offThreadPool {
            let results = Mutex<[Result]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                let result =
                    (try? Self.run(
                        ["audit", "append", "--sqlite", database, "--keys", keys, "--batch-size", "10"], input: input))
                    ?? Result(status: -1, stdout: "", stderr: "could not start")
                results.withLock { $0.append(result) }
            }
            return results.withLock { $0 }
        }
        #expect(results.count == 8)
        for result in results { #expect(result.status == 0, "\(result.stderr)") }
        let verify = try Self.run(["audit", "verify", "--sqlite", database, "--keys", keys])
        #expect(verify.status == 0, "\(verify.stdout.prefix(2000)) \(verify.stderr)")
        #expect(verify.stdout.contains("intact: 8000 records (last sequence 8000)"), "\(verify.stdout.prefix(2000))")
    }

    @Test("verify opens SQLite read-only: dropped tables fail it and the file stays byte-identical")
    func verifyIsReadOnly() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        let database = directory.appendingPathComponent("audit.sqlite").path
        #expect(try Self.run(["audit", "keygen", "--output", keys]).status == 0)
        #expect(
            try Self.run(["audit", "append", "--sqlite", database, "--keys", keys], input: Self.events(30)).status == 0)
        let dropped = try Self.sqlite3(database, "DROP TABLE audit_records; DROP TABLE audit_checkpoints;")
        #expect(dropped.status == 0, "\(dropped.stderr)")
        let before = try Data(contentsOf: URL(fileURLWithPath: database))
        let schema = "SELECT type, name FROM sqlite_master ORDER BY name;"
        let schemaBefore = try Self.sqlite3(database, schema).stdout
        for arguments in [["verify", "--sqlite", database, "--keys", keys], ["export", "--sqlite", database]] {
            let result = try Self.run(["audit"] + arguments)
            #expect(result.status == 66, "\(arguments[0]): \(result.stdout) \(result.stderr)")
            #expect(result.stderr.contains("audit tables are missing"), "\(result.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: database)) == before)
        let schemaAfter = try Self.sqlite3(database, schema).stdout
        #expect(schemaAfter == schemaBefore)
        #expect(!schemaAfter.contains("audit_"), "\(schemaAfter)")
    }

    @Test("verify lists every break: an old break does not hide a later edit")
    func verifyListsEveryBreak() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        let database = directory.appendingPathComponent("audit.sqlite").path
        #expect(try Self.run(["audit", "keygen", "--output", keys]).status == 0)
        #expect(
            try Self.run(["audit", "append", "--sqlite", database, "--keys", keys], input: Self.events(50)).status == 0)
        let edited = try Self.sqlite3(
            database, "UPDATE audit_records SET actor_role = 'doctor' WHERE sequence IN (5, 40);")
        #expect(edited.status == 0, "\(edited.stderr)")
        let text = try Self.run(["audit", "verify", "--sqlite", database, "--keys", keys])
        #expect(text.status == 1)
        #expect(text.stdout.contains("broken: modified at position 4, expected sequence 5, found 5"), "\(text.stdout)")
        #expect(
            text.stdout.contains("broken: modified at position 39, expected sequence 40, found 40"), "\(text.stdout)")
        #expect(text.stdout.contains("2 breaks"), "\(text.stdout)")
        let json = try Self.run(["audit", "verify", "--sqlite", database, "--keys", keys, "--json"])
        #expect(json.status == 1)
        #expect(json.stdout.contains(#""breakCount":2"#), "\(json.stdout)")
        #expect(json.stdout.contains(#""position":39"#), "\(json.stdout)")
    }

    @Test("a witness file detects truncation with the stored checkpoints, and an emptied log")
    func witnessDetectsTruncation() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys").path
        let database = directory.appendingPathComponent("audit.sqlite").path
        let witness = directory.appendingPathComponent("audit.witness").path
        #expect(try Self.run(["audit", "keygen", "--output", keys]).status == 0)
        for _ in 0..<2 {
            let appended = try Self.run(
                ["audit", "append", "--sqlite", database, "--keys", keys, "--witness", witness], input: Self.events(15))
            #expect(appended.status == 0, "\(appended.stderr)")
        }
        let lines = try String(contentsOfFile: witness, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let verify = ["audit", "verify", "--sqlite", database, "--keys", keys]
        #expect(try Self.run(verify + ["--witness", witness]).status == 0)
        // Cut back, checkpoints included: the stored checkpoints cannot tell, the witness can.
        #expect(
            try Self.sqlite3(database, "DELETE FROM audit_records WHERE sequence > 20; DELETE FROM audit_checkpoints;")
                .status == 0)
        let alone = try Self.run(verify)
        #expect(alone.status == 0 && alone.stdout.contains("intact: 20 records"), "\(alone.stdout)")
        let cut = try Self.run(verify + ["--witness", witness])
        #expect(cut.status == 1)
        #expect(
            cut.stdout.contains("broken: truncated at position 20, expected sequence 21, found 30"), "\(cut.stdout)")
        // Emptied: still behind the witness.
        #expect(try Self.sqlite3(database, "DELETE FROM audit_records;").status == 0)
        let empty = try Self.run(verify + ["--witness", witness])
        #expect(empty.status == 1)
        #expect(empty.stdout.contains("broken: truncated at position 0"), "\(empty.stdout)")
        // Tables dropped, or the witness gone: a failure, never "intact".
        #expect(try Self.sqlite3(database, "DROP TABLE audit_records;").status == 0)
        #expect(try Self.run(verify + ["--witness", witness]).status == 66)
        #expect(try Self.run(verify + ["--witness", witness + ".missing"]).status == 66)
    }

    /// Runs `body` on a new thread and waits for it without blocking the concurrency pool.
    static func offThreadPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }

    /// Runs the `sqlite3` shell on `database` (as someone with file access would).
    static func sqlite3(_ database: String, _ sql: String) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [database, sql]
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self))
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
        // Read-only: tables that do not exist are reported (twice: the first run created nothing).
        let missing = ["--postgres-table-prefix", "cli_missing_\(UInt32.random(in: 0...UInt32.max))"]
        for _ in 0..<2 {
            let result = try Self.run(["audit", "verify", "--postgres", "--keys", keys] + missing)
            #expect(result.status == 66, "\(result.stdout) \(result.stderr)")
        }
    }
}
