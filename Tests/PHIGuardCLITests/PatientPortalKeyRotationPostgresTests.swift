import Foundation
import PHIGuardTestSupport
import Testing

/// `PatientPortal keys rotate --database-url …` through the built binary, killed with SIGKILL in the
/// middle and run again, on a database of its own on the throwaway server
/// (`scripts/with-test-postgres.sh`); `psql` creates, inspects and drops it.
@Suite(
    "PatientPortal keys rotate on PostgreSQL, end to end (kill -9 mid-run)", .serialized,
    .enabled(
        if: ProcessInfo.processInfo.environment["PHIGUARD_POSTGRES_URL"] != nil
            || ProcessInfo.processInfo.environment["CI"] != nil))
struct PatientPortalKeyRotationPostgresTests {
    /// The server's URL with its database replaced.
    static func url(database: String) throws -> String {
        var components = try #require(
            ProcessInfo.processInfo.environment["PHIGUARD_POSTGRES_URL"].flatMap(URLComponents.init(string:)))
        components.path = "/" + database
        return try #require(components.string)
    }

    /// Runs one statement with `psql` (unaligned, tuples only), failing on any error.
    static func psql(_ url: String, _ statement: String) throws -> String {
        let binaries = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        let psql = try #require(
            binaries.sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin/psql" }
                .first { FileManager.default.isExecutableFile(atPath: $0) }, "psql not found")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: psql)
        process.arguments = ["-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", url, "-c", statement]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "psql failed: \(statement)")
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Envelope count per key id (bytes 3… of the envelope, its length in byte 2) over every
    /// encrypted column of the record tables.
    static func keyIDCounts(_ url: String) throws -> [String: Int] {
        let selects =
            PatientPortalKeyRotationTests.indexColumns.map { ("portal_patients", $0) }
            + PatientPortalKeyRotationTests.chartColumns.map { ("portal_charts", $0) }
            + PatientPortalKeyRotationTests.noteColumns.map { ("portal_notes", $0) }
            + PatientPortalKeyRotationTests.messageColumns.map { ("portal_messages", $0) }
        let union = selects.map { table, column in
            "SELECT convert_from(substring(\(column) from 3 for get_byte(\(column), 1)), 'UTF8') AS k "
                + "FROM \(table) WHERE \(column) IS NOT NULL"
        }.joined(separator: " UNION ALL ")
        var counts: [String: Int] = [:]
        for line in try psql(url, "SELECT k, count(*) FROM (\(union)) AS cells GROUP BY k").split(separator: "\n") {
            let parts = line.split(separator: "|")
            guard parts.count == 2, let count = Int(parts[1]) else { continue }
            counts[String(parts[0])] = count
        }
        return counts
    }

    @Test(
        "keys rotate on PostgreSQL killed with SIGKILL mid-run, then rerun: every chart reads as before, every envelope under the new key"
    )
    func killedMidRun() throws {
        let name = "rotate_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let server = try Self.url(database: "phiguard")
        _ = try Self.psql(server, "CREATE DATABASE \(name)")
        defer { _ = try? Self.psql(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        let url = try Self.url(database: name)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portal-rotate-pg-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try PatientPortalKeyRotationTests.killAndRerun(
            directory: directory, storage: ["--database-url", url], keyIDCounts: { try Self.keyIDCounts(url) },
            checkpointRows: { try Self.psql(url, "SELECT count(*) FROM phiguard_reencryption_checkpoints") })
    }
}
