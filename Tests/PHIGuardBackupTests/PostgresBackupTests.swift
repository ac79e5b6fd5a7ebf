import Foundation
import Logging
import PHIGuardAudit
import PHIGuardBackup
import PHIGuardFieldEncryption
import PHIGuardKeys
import PHIGuardPostgres
import PHIGuardRecords
import PostgresNIO
import Testing

/// PostgreSQL backups on the throwaway TLS server of `scripts/with-test-postgres.sh` (verify-full
/// against its CA): a clinic written through `GuardedRecords`, `PostgresRecordStore` and
/// `PostgresAuditSink`; verify restores the dump into a scratch database and checks its audit chain
/// and every envelope. Skipped when `PHIGUARD_POSTGRES_URL` is unset, except under CI.
@Suite(
    "PostgreSQL backups verified in a scratch database", .serialized,
    .enabled(
        if: ProcessInfo.processInfo.environment["PHIGUARD_POSTGRES_URL"] != nil
            || ProcessInfo.processInfo.environment["CI"] != nil))
struct PostgresBackupTests {
    /// The server's URL with its database replaced.
    static func url(database: String) throws -> PostgresConnectionURL {
        var components = try #require(
            ProcessInfo.processInfo.environment["PHIGUARD_POSTGRES_URL"].flatMap(URLComponents.init(string:)),
            "PHIGUARD_POSTGRES_URL is not set: run the tests through scripts/with-test-postgres.sh")
        components.path = "/" + database
        return try PostgresConnectionURL(try #require(components.string))
    }

    /// Runs `psql -c sql` against `url`; returns its unaligned, tuples-only output.
    @discardableResult
    static func psql(_ url: PostgresConnectionURL, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql]
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

    /// A clinic in its own database: charts through GuardedRecords (encrypted fields) and the audit
    /// log in PostgreSQL, on the world's keys.
    final class Clinic: Sendable {
        let world: BackupWorld
        let admin: PostgresConnectionURL
        let name: String
        let url: PostgresConnectionURL

        init() throws {
            world = try BackupWorld()
            admin = try PostgresBackupTests.url(database: "phiguard")
            name = "bk_" + String(UUID().uuidString.prefix(8)).lowercased()
            url = try PostgresBackupTests.url(database: name)
            try PostgresBackupTests.psql(admin, "CREATE DATABASE \(name)")
        }

        func remove() {
            _ = try? PostgresBackupTests.psql(admin, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            world.remove()
        }

        /// The options verification needs, with the scratch database on the same server.
        var options: BackupVerificationOptions {
            var options = world.options
            options.postgresScratchServer = admin
            return options
        }

        /// Runs `body` with the clinic's records and audit log open.
        func withRecords<R>(
            _ database: PostgresConnectionURL? = nil, _ body: (GuardedRecords, AuditLog) async throws -> R
        ) async throws -> R {
            let client = PostgresClient(
                configuration: (database ?? url).clientConfiguration(), backgroundLogger: Logger(label: "test"))
            let runner = Task { await client.run() }
            defer { runner.cancel() }
            let store = PostgresRecordStore(client: client, schemas: [world.schema], timeout: .seconds(30))
            try await store.migrate()
            let sink = try PostgresAuditSink(client: client)
            try await sink.migrate()
            let log = try await AuditLog(sink: sink, chainKey: world.chainKey, signingKey: world.signingKey)
            let records = try GuardedRecords(
                schema: world.schema, store: store, engine: world.engine,
                encryptor: FieldEncryptor(keyring: world.keyring), audit: log)
            let result = try await body(records, log)
            try await log.close()
            return result
        }

        func createCharts(_ range: Range<Int>) async throws {
            try await withRecords { records, log in
                for index in range {
                    try await records.create(
                        "c-\(index)", patientID: "p-\(index)", values: BackupWorld.values(index),
                        as: world.clinician)
                }
                try await log.flush()
            }
        }
    }

    static func scratchDatabases(_ admin: PostgresConnectionURL) throws -> String {
        try psql(admin, "SELECT count(*) FROM pg_database WHERE datname LIKE 'phiguard_verify_%'")
    }

    @Test(
        "create while the clinic writes; verify restores into a scratch database (chain, every envelope), drops it; restore re-verifies"
    )
    func verifiedRoundTrip() async throws {
        let clinic = try Clinic()
        defer { clinic.remove() }
        try await clinic.createCharts(0..<30)
        let key = try BackupKey.generate()
        let backup = clinic.world.file("pg.phgbak")
        #expect(clinic.url.sslMode == .verifyFull)

        // The application keeps writing while the dump runs: the manifest's audit position is the dump's.
        let writer = Task { try await clinic.createCharts(30..<60) }
        let manifest = try await DatabaseBackup.createPostgres(url: clinic.url, key: key, to: backup)
        try await writer.value
        let audit = try #require(manifest.audit, "the PostgreSQL manifest records the audit position")
        #expect(manifest.kind == .postgresDump && manifest.source == clinic.name)
        #expect(audit.recordCount >= 30 && audit.lastSequence == audit.recordCount)
        #expect(try FileManager.default.attributesOfItem(atPath: backup)[.posixPermissions] as? Int == 0o600)

        let report = try await DatabaseBackup.verify(backup: backup, key: key, options: clinic.options)
        #expect(report.auditRecordsVerified == Int(audit.recordCount))
        // Three encrypted fields per chart, every one decrypted under its context.
        #expect(report.envelopes.decrypted >= 90 && report.envelopes.decrypted % 3 == 0)
        #expect(report.envelopes.failureCount == 0 && report.envelopes.keyChecked == 0)
        #expect(try Self.scratchDatabases(clinic.admin) == "0", "verify drops its scratch database")

        // Without a server for the scratch database, a PostgreSQL backup cannot be verified.
        let noServer = await #expect(throws: BackupError.self) {
            try await DatabaseBackup.verify(backup: backup, key: key, options: clinic.world.options)
        }
        guard case .scratchDatabaseUnavailable = noServer else {
            Issue.record("expected scratchDatabaseUnavailable, got \(String(describing: noServer))")
            return
        }

        // Restore into a fresh database: verified before (scratch) and after (the target itself).
        let target = "bk_dst_" + String(UUID().uuidString.prefix(8)).lowercased()
        try Self.psql(clinic.admin, "CREATE DATABASE \(target)")
        defer { _ = try? Self.psql(clinic.admin, "DROP DATABASE IF EXISTS \(target) WITH (FORCE)") }
        let targetURL = try Self.url(database: target)
        let restored = try await DatabaseBackup.restorePostgres(
            backup: backup, key: key, url: targetURL, options: clinic.world.options)
        #expect(restored.auditRecordsVerified == Int(audit.recordCount))
        #expect(restored.envelopes.decrypted == report.envelopes.decrypted)
        #expect(try Self.scratchDatabases(clinic.admin) == "0")
        // The restored clinic works: a chart reads back through GuardedRecords, and new audited work chains on.
        let name = try await clinic.withRecords(targetURL) { records, _ in
            try await records.read("c-7", as: clinic.world.clinician)["name"]
        }
        #expect(name == "Patient 7")
        let refused = await #expect(throws: BackupError.self) {
            try await DatabaseBackup.restorePostgres(
                backup: backup, key: key, url: targetURL, options: clinic.world.options)
        }
        #expect(refused == .destinationExists(path: "database \(target)"))

        // A changed or cut backup file is refused before anything is restored.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: backup)))
        let tampered = clinic.world.file("tampered.phgbak")
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: tampered))
        let flip = await #expect(throws: BackupError.self) {
            try await DatabaseBackup.verify(backup: tampered, key: key, options: clinic.options)
        }
        #expect(flip == .tampered)
        let cut = clinic.world.file("cut.phgbak")
        try Data(bytes.prefix(bytes.count - 40)).write(to: URL(fileURLWithPath: cut))
        let truncated = await #expect(throws: BackupError.self) {
            try await DatabaseBackup.verify(backup: cut, key: key, options: clinic.options)
        }
        #expect(truncated == .truncated)
    }

    @Test("a dump whose envelope no longer decrypts, or whose audit chain was edited, fails verify and restore")
    func corruptedContents() async throws {
        let clinic = try Clinic()
        defer { clinic.remove() }
        try await clinic.createCharts(0..<12)
        let key = try BackupKey.generate()

        // An envelope copied onto another row (same key, wrong context): structurally fine, does not decrypt.
        try Self.psql(
            clinic.url, "UPDATE charts SET diagnosis = (SELECT diagnosis FROM charts WHERE id = 'c-1') WHERE id = 'c-2'"
        )
        let moved = clinic.world.file("moved.phgbak")
        try await DatabaseBackup.createPostgres(url: clinic.url, key: key, to: moved)
        let undecryptable = await #expect(throws: BackupError.self) {
            try await DatabaseBackup.verify(backup: moved, key: key, options: clinic.options)
        }
        guard case .envelopesUndecryptable(let count, let first) = undecryptable else {
            Issue.record("expected envelopesUndecryptable, got \(String(describing: undecryptable))")
            return
        }
        #expect(count == 1 && first.table == "charts" && first.column == "diagnosis" && first.reason == .doesNotDecrypt)
        #expect(try Self.scratchDatabases(clinic.admin) == "0", "the scratch database is dropped after a failure too")

        // The same dump is not restored: the target stays empty.
        let target = "bk_dst_" + String(UUID().uuidString.prefix(8)).lowercased()
        try Self.psql(clinic.admin, "CREATE DATABASE \(target)")
        defer { _ = try? Self.psql(clinic.admin, "DROP DATABASE IF EXISTS \(target) WITH (FORCE)") }
        let targetURL = try Self.url(database: target)
        await #expect(throws: BackupError.self) {
            try await DatabaseBackup.restorePostgres(
                backup: moved, key: key, url: targetURL, options: clinic.world.options)
        }
        #expect(try Self.psql(targetURL, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0")

        // A keyring without the key the envelopes name.
        var otherKeys = clinic.options
        otherKeys.keyring = try Keyring(active: try FieldKey.generate(id: "k2"))
        let unknown = await #expect(throws: BackupError.self) {
            try await DatabaseBackup.verify(backup: moved, key: key, options: otherKeys)
        }
        guard case .envelopesUndecryptable(_, let unknownFirst) = unknown else {
            Issue.record("expected envelopesUndecryptable, got \(String(describing: unknown))")
            return
        }
        #expect(unknownFirst.reason == .unknownKeyID("k1"))

        // Put the envelope back, then edit one audit row as an attacker with SQL access would.
        try Self.psql(
            clinic.url,
            "UPDATE charts SET diagnosis = NULL WHERE id = 'c-2'; UPDATE phiguard_audit_records SET actor_id = 'user:eve' WHERE sequence = 3"
        )
        let edited = clinic.world.file("edited.phgbak")
        try await DatabaseBackup.createPostgres(url: clinic.url, key: key, to: edited)
        let broken = await #expect(throws: BackupError.self) {
            try await DatabaseBackup.verify(backup: edited, key: key, options: clinic.options)
        }
        guard case .auditChainBroken(let breaks, _) = broken else {
            Issue.record("expected auditChainBroken, got \(String(describing: broken))")
            return
        }
        #expect(breaks >= 1)
        // No audit chain key: a dump with an audit log cannot be verified.
        var noVerifier = clinic.options
        noVerifier.auditVerifier = nil
        let unavailable = await #expect(throws: BackupError.self) {
            try await DatabaseBackup.verify(backup: edited, key: key, options: noVerifier)
        }
        guard case .auditUnavailable = unavailable else {
            Issue.record("expected auditUnavailable, got \(String(describing: unavailable))")
            return
        }
    }
}
