internal import Foundation
internal import PHIGuardCrypto
internal import PHIGuardPostgres

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The PostgreSQL side of backups: `pg_dump` and `psql` run as child processes against the server
/// a `PostgresConnectionURL` names, with its TLS mode and root certificate (so `verify-full` stays
/// verify-full). The password goes to the child in `PGPASSWORD`, never on a command line.
enum PostgresDump {
    /// The line `pg_dump` ends a complete plain-format dump with.
    static let completionMarker = "-- PostgreSQL database dump complete"

    /// Runs `pg_dump` (plain SQL with `--clean --if-exists`, no owners or privileges) with its
    /// standard output into the file at `path` (an `OutputFile`'s temporary path, mode 0600); one consistent snapshot of the database.
    /// `snapshot`: an exported snapshot id (`pg_export_snapshot()`) to dump, so the dump is the
    /// state a transaction of ours also reads.
    static func dump(url: PostgresConnectionURL, intoPath path: String, tool: String, snapshot: String? = nil)
        async throws(BackupError)
    {
        var arguments = [
            "--format=plain", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--file", path,
        ]
        if let snapshot { arguments.append("--snapshot=" + snapshot) }
        let status = try await run(tool, arguments, url: url).status
        guard status == 0 else { throw .postgresTool(tool: "pg_dump", status: status) }
    }

    /// Checks that the file ends with `pg_dump`'s completion line (a dump cut short does not).
    static func checkDumpFile(_ path: String) throws(BackupError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .io(path: path, operation: "open", errno: errno)
        }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 4096 ? size - 4096 : 0)
        let tail = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
        guard tail.contains(completionMarker) else {
            throw .malformed("the PostgreSQL dump does not end with pg_dump's completion line")
        }
    }

    /// The number of tables outside the system schemas.
    static func userTableCount(url: PostgresConnectionURL, tool: String) async throws(BackupError) -> Int {
        let (status, output) = try await run(
            tool,
            [
                "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c",
                "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
            ], url: url, capture: true)
        let text = String(decoding: output, as: UTF8.self)
        guard status == 0, let count = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw .postgresTool(tool: "psql", status: status)
        }
        return count
    }

    /// Runs the dump in one transaction (`--single-transaction`, stop at the first error): it
    /// applies completely or not at all.
    static func load(_ path: String, url: PostgresConnectionURL, tool: String) async throws(BackupError) {
        let status = try await run(
            tool, ["-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1", "-f", path], url: url
        ).status
        guard status == 0 else { throw .postgresTool(tool: "psql", status: status) }
    }

    /// Runs one SQL command (a `CREATE DATABASE`, which cannot run in a transaction block) with `psql`.
    static func execute(_ sql: String, url: PostgresConnectionURL, tool: String) async throws(BackupError) {
        let status = try await run(tool, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], url: url).status
        guard status == 0 else { throw .postgresTool(tool: "psql", status: status) }
    }

    /// Runs `tool` (see ``runBlocking(_:_:url:capture:)``) on a thread of its own and waits for it
    /// without holding a thread of Swift's cooperative pool: a dump takes as long as the database is
    /// big, and a pool thread blocked that long starves every other task of the process (on a
    /// two-core machine the pool has two threads; `PostgresClient.run()` then misses its deadlines).
    private static func run(_ tool: String, _ arguments: [String], url: PostgresConnectionURL, capture: Bool = false)
        async throws(BackupError) -> (status: Int32, output: Data)
    {
        let result: Result<(status: Int32, output: Data), BackupError> = await withCheckedContinuation {
            continuation in
            Thread {
                continuation.resume(
                    returning: Result { () throws(BackupError) in
                        try runBlocking(tool, arguments, url: url, capture: capture)
                    })
            }.start()
        }
        return try result.get()
    }

    /// Runs `tool` with a clean environment: `PATH`, `LANG=C` and the URL's libpq variables only
    /// (no inherited `PGSERVICE`, `PGSSLMODE` or password file changes what it connects to). Its
    /// standard error goes to ours (the operator sees why it failed); its standard output is
    /// returned when `capture` is set, else discarded. Blocks the calling thread until the child exits.
    private static func runBlocking(
        _ tool: String, _ arguments: [String], url: PostgresConnectionURL, capture: Bool
    ) throws(BackupError) -> (status: Int32, output: Data) {
        let process = Process()
        if tool.contains("/") {
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [tool] + arguments
        }
        var environment = url.libpqEnvironment
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        environment["LANG"] = "C"
        environment["PGPASSFILE"] = "/dev/null"
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = capture ? pipe : FileHandle.nullDevice
        do { try process.run() } catch { throw .postgresTool(tool: tool, status: -1) }
        // Read before waiting, so a full pipe cannot block the child.
        let output = capture ? pipe.fileHandleForReading.readDataToEndOfFile() : Data()
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
