import Foundation
import PHIGuardBackup
import PHIGuardFieldEncryption
import PHIGuardPostgres
import Testing

/// A pg_dump round trip on the throwaway TLS server of `scripts/with-test-postgres.sh` (verify-full
/// against its CA). Skipped when `PHIGUARD_POSTGRES_URL` is unset, except under CI.
@Suite(
    "PostgreSQL backup round trip",
    .enabled(
        if: ProcessInfo.processInfo.environment["PHIGUARD_POSTGRES_URL"] != nil
            || ProcessInfo.processInfo.environment["CI"] != nil))
struct PostgresBackupTests {
    /// The server's URL with its database replaced.
    static func url(database: String) throws -> PostgresConnectionURL {
        var components = try #require(
            ProcessInfo.processInfo.environment["PHIGUARD_POSTGRES_URL"].flatMap(URLComponents.init(string:)))
        components.path = "/" + database
        return try PostgresConnectionURL(try #require(components.string))
    }

    /// Runs `psql -c sql` against `url`; returns its unaligned, tuples-only output.
    @discardableResult
    static func psql(_ url: PostgresConnectionURL, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]
        var environment = url.libpqEnvironment
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"]
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "psql failed: \(sql)")
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("pg_dump over verified TLS, encrypted; verify; psql restore into a fresh database; refused over tables")
    func roundTrip() async throws {
        let admin = try Self.url(database: "phiguard")
        let suffix = String(UUID().uuidString.prefix(8)).lowercased()
        let (source, target) = ("bk_src_\(suffix)", "bk_dst_\(suffix)")
        try Self.psql(admin, "CREATE DATABASE \(source)")
        try Self.psql(admin, "CREATE DATABASE \(target)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pg-backup-\(suffix)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(at: directory)
            _ = try? Self.psql(admin, "DROP DATABASE IF EXISTS \(source)")
            _ = try? Self.psql(admin, "DROP DATABASE IF EXISTS \(target)")
        }
        let sourceURL = try Self.url(database: source)
        let targetURL = try Self.url(database: target)
        #expect(sourceURL.sslMode == .verifyFull)
        try Self.psql(
            sourceURL,
            """
            CREATE TABLE charts (id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, diagnosis BYTEA);
            INSERT INTO charts SELECT 'c-' || i, 'p-' || i, sha256(i::text::bytea) FROM generate_series(1, 300) AS i;
            CREATE TABLE phiguard_audit_records (sequence BIGINT PRIMARY KEY, chain BYTEA NOT NULL);
            INSERT INTO phiguard_audit_records SELECT i, sha256(('chain' || i)::bytea) FROM generate_series(1, 50) AS i;
            """)
        let key = try BackupKey.generate()
        let backup = directory.appendingPathComponent("pg.phgbak").path
        let manifest = try await DatabaseBackup.createPostgres(url: sourceURL, key: key, to: backup)
        #expect(manifest.kind == .postgresDump && manifest.source == source && manifest.audit == nil)
        #expect(try FileManager.default.attributesOfItem(atPath: backup)[.posixPermissions] as? Int == 0o600)

        // The dump is checked for its hash and pg_dump's completion line (it is not opened).
        let options = BackupVerificationOptions(keyring: try .init(active: try .generate(id: "k1")), auditVerifier: nil)
        let report = try await DatabaseBackup.verify(backup: backup, key: key, options: options)
        #expect(report.auditRecordsVerified == nil && report.envelopes == nil)
        // A SQLite restore of a PostgreSQL dump is refused by kind.
        let wrongKind = await #expect(throws: BackupError.self) {
            try await DatabaseBackup.restoreSQLite(
                backup: backup, key: key, to: directory.appendingPathComponent("x.sqlite").path, options: options)
        }
        #expect(wrongKind == .wrongKind(expected: .sqlite, found: .postgresDump))

        try await DatabaseBackup.restorePostgres(backup: backup, key: key, url: targetURL)
        let digest = "SELECT md5(string_agg(id || patient_id || encode(diagnosis, 'hex'), ',' ORDER BY id)) FROM charts"
        #expect(try Self.psql(targetURL, digest) == Self.psql(sourceURL, digest))
        #expect(try Self.psql(targetURL, "SELECT count(*) FROM phiguard_audit_records") == "50")

        // The target has tables now: refused without force, replaced with it.
        let refused = await #expect(throws: BackupError.self) {
            try await DatabaseBackup.restorePostgres(backup: backup, key: key, url: targetURL)
        }
        #expect(refused == .destinationExists(path: "database \(target)"))
        try Self.psql(targetURL, "DELETE FROM charts WHERE id = 'c-1'")
        try await DatabaseBackup.restorePostgres(backup: backup, key: key, url: targetURL, force: true)
        #expect(try Self.psql(targetURL, "SELECT count(*) FROM charts") == "300")
    }
}
