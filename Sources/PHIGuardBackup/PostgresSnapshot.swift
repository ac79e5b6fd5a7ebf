internal import Foundation
internal import Logging
internal import NIOCore
internal import PHIGuardAudit
internal import PHIGuardCrypto
internal import PHIGuardFieldEncryption
internal import PHIGuardPostgres
internal import PostgresNIO

/// The PostgreSQL side of backup verification: the audit position read in the dump's own snapshot,
/// a scratch database the dump is restored into, and the checks of a restored database (audit
/// chain against the manifest, every field envelope against the keyring): the same checks as for
/// an SQLite snapshot.
enum PostgresSnapshot {
    /// The audit tables' prefix (`PostgresAuditSink`'s default).
    static let auditTablePrefix = "phiguard_audit"
    static let logger = Logger(label: "phiguard.backup.postgres")

    /// Opens a `PostgresClient` on `url` (connection checked first, so a TLS or pg_hba mistake is
    /// a typed error), runs `body`, and shuts the client down. `readOnly`: every transaction is
    /// read-only.
    static func withClient<T>(
        _ url: PostgresConnectionURL, readOnly: Bool, _ body: (PostgresClient) async throws(BackupError) -> T
    ) async throws(BackupError) -> T {
        do { try await url.checkConnection() } catch {
            throw .database("cannot connect to PostgreSQL: \(error.description)")
        }
        var configuration = url.clientConfiguration()
        configuration.options.maximumConnections = 2
        if readOnly {
            configuration.options.additionalStartupParameters.append(("default_transaction_read_only", "on"))
        }
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let runner = Task { await client.run() }
        let result: Result<T, BackupError>
        do throws(BackupError) { result = .success(try await body(client)) } catch { result = .failure(error) }
        runner.cancel()
        await runner.value
        return try result.get()
    }

    /// Dumps `url`'s database with `pg_dump` into `file` inside one exported snapshot, and returns
    /// the audit log's state read in that same snapshot (so the manifest's audit position is the
    /// dump's, even while the application keeps writing).
    static func dump(url: PostgresConnectionURL, into file: OutputFile, tool: String) async throws(BackupError)
        -> BackupManifest.AuditState?
    {
        let path = file.temporaryPath
        return try await withClient(url, readOnly: false) { client throws(BackupError) in
            do {
                return try await client.withConnection { connection in
                    try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
                    do {
                        var snapshot = ""
                        for try await id in try await connection.query("SELECT pg_export_snapshot()", logger: logger)
                            .decode(String.self)
                        {
                            snapshot = id
                        }
                        let state = try await auditState { try await connection.query($0, logger: logger) }
                        try await PostgresDump.dump(url: url, intoPath: path, tool: tool, snapshot: snapshot)
                        try await connection.query("COMMIT", logger: logger)
                        return state
                    } catch {
                        _ = try? await connection.query("ROLLBACK", logger: logger)
                        throw error
                    }
                }
            } catch let error as BackupError {
                throw error
            } catch {
                throw .database("cannot export a snapshot of the PostgreSQL database")
            }
        }
    }

    /// The audit log's size, last sequence and newest checkpoint, or `nil` without audit tables.
    static func auditState(_ query: (PostgresQuery) async throws -> PostgresRowSequence) async throws
        -> BackupManifest.AuditState?
    {
        let records = "\(auditTablePrefix)_records"
        let checkpoints = "\(auditTablePrefix)_checkpoints"
        var tables = 0
        for try await count in try await query(
            "SELECT count(*) FROM (SELECT to_regclass(\(records)) AS r UNION ALL SELECT to_regclass(\(checkpoints))) t WHERE r IS NOT NULL"
        ).decode(Int64.self) { tables = Int(count) }
        guard tables == 2 else { return nil }
        var state = BackupManifest.AuditState(recordCount: 0, lastSequence: nil, latestCheckpoint: nil)
        for try await count in try await query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(records)")).decode(
            Int64.self)
        {
            state.recordCount = count
        }
        for try await sequence in try await query(
            PostgresQuery(unsafeSQL: "SELECT sequence FROM \(records) ORDER BY position DESC LIMIT 1")
        ).decode(Int64.self) { state.lastSequence = sequence }
        for try await (sequence, chain, timestamp) in try await query(
            PostgresQuery(
                unsafeSQL: "SELECT sequence, chain, timestamp FROM \(checkpoints) ORDER BY sequence DESC LIMIT 1")
        ).decode((Int64, ByteBuffer, Int64).self) {
            state.latestCheckpoint = .init(
                sequence: sequence, chain: Hex.encode(chain.readableBytesView), timestamp: timestamp)
        }
        return state
    }

    /// Creates an empty scratch database with a random name on `server`'s server, runs `body`
    /// with its URL, and drops it (also when `body` fails).
    static func withScratchDatabase<T>(
        server: PostgresConnectionURL, psql: String, _ body: (PostgresConnectionURL) async throws(BackupError) -> T
    ) async throws(BackupError) -> T {
        let random: [UInt8]
        do { random = try Sodium.randomBytes(count: 8) } catch { throw .crypto("random bytes unavailable") }
        let name = "phiguard_verify_" + Hex.encode(random)
        do throws(BackupError) {
            try await PostgresDump.execute("CREATE DATABASE \(name)", url: server, tool: psql)
        } catch {
            throw .scratchDatabaseUnavailable("cannot create a scratch database on the server (CREATEDB needed)")
        }
        let result: Result<T, BackupError>
        do throws(BackupError) {
            result = .success(try await body(server.replacingDatabase(name)))
        } catch {
            result = .failure(error)
        }
        do throws(BackupError) {
            try await PostgresDump.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", url: server, tool: psql)
        } catch {
            logger.error("could not drop the scratch database \(name); drop it by hand")
        }
        return try result.get()
    }

    /// Checks the database `url` names (a restored dump): its audit tail against the manifest, its
    /// audit chain with the verifier, and every field envelope in every table outside the system
    /// schemas against the keyring (decrypting those a rule covers). Reads only.
    static func check(_ url: PostgresConnectionURL, manifest: BackupManifest, options: BackupVerificationOptions)
        async throws(BackupError) -> (auditRecords: Int?, envelopes: BackupEnvelopeSummary)
    {
        let (state, envelopes, report) = try await withClient(url, readOnly: true) {
            client throws(BackupError) -> (BackupManifest.AuditState?, BackupEnvelopeSummary, AuditVerificationReport?)
            in
            let state: BackupManifest.AuditState?
            let envelopes: BackupEnvelopeSummary
            do {
                state = try await auditState { try await client.query($0, logger: logger) }
                envelopes = try await scan(client, options: options)
            } catch {
                throw .database("cannot read the restored PostgreSQL database")
            }
            guard state == manifest.audit else {
                throw .auditUnavailable("the restored database's audit tail differs from the manifest's")
            }
            guard state != nil else { return (state, envelopes, nil) }
            guard let verifier = options.auditVerifier else {
                throw .auditUnavailable("the snapshot has an audit log; give the audit chain key to verify it")
            }
            let sink: PostgresAuditSink
            do { sink = try PostgresAuditSink(client: client, tablePrefix: auditTablePrefix, logger: logger) } catch {
                throw .auditUnavailable(String(describing: error))
            }
            do { return (state, envelopes, try await verifier.verify(sink)) } catch {
                throw .auditUnavailable(String(describing: error))
            }
        }
        if let report, let first = report.chainBreak {
            throw .auditChainBroken(breaks: report.breakCount, first: first.kind.rawValue)
        }
        if let first = envelopes.problems.first {
            throw .envelopesUndecryptable(count: envelopes.failureCount, first: first)
        }
        return (state.map { Int($0.recordCount) }, envelopes)
    }

    /// Every table outside the system schemas, cell by cell (`bytea` as bytes, text types as text,
    /// integers as integers). A table in `public` matches rules by its name, others by `schema.table`.
    private static func scan(_ client: PostgresClient, options: BackupVerificationOptions) async throws
        -> BackupEnvelopeSummary
    {
        var tables: [(schema: String, name: String)] = []
        for try await (schema, name) in try await client.query(
            """
            SELECT schemaname::text, tablename::text FROM pg_catalog.pg_tables
            WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY schemaname, tablename
            """, logger: logger
        ).decode((String, String).self) { tables.append((schema, name)) }
        let inspector = EnvelopeInspector(keyring: options.keyring, rules: options.contextRules)
        var summary = BackupEnvelopeSummary()
        for (schema, name) in tables {
            let table = schema == "public" ? name : schema + "." + name
            let rules = inspector.rules(for: table)
            var number = 0
            let rows = try await client.query(
                PostgresQuery(unsafeSQL: "SELECT * FROM \(EnvelopeScan.quoted(schema)).\(EnvelopeScan.quoted(name))"),
                logger: logger)
            for try await row in rows {
                number += 1
                let cells = try row.map { cell -> (name: String, value: EnvelopeCell) in
                    guard cell.bytes != nil else { return (cell.columnName, .null) }
                    switch cell.dataType {
                    case .bytea: return (cell.columnName, .blob(Array(buffer: try cell.decode(ByteBuffer.self))))
                    case .text, .varchar, .bpchar, .name: return (cell.columnName, .text(try cell.decode(String.self)))
                    case .int2, .int4, .int8: return (cell.columnName, .integer(try cell.decode(Int64.self)))
                    default: return (cell.columnName, .other)
                    }
                }
                inspector.inspect(table: table, row: number, cells: cells, rules: rules, into: &summary)
            }
        }
        return summary
    }
}
