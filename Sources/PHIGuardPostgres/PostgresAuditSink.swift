public import Logging
internal import NIOCore
public import PHIGuardAudit
internal import PHIGuardCrypto
public import PostgresNIO

/// An audit sink in PostgreSQL (through Vapor's postgres-nio), durable and batched.
///
/// Tables `phiguard_audit_records` (one column per event field; `position` BIGSERIAL = storage order)
/// and `phiguard_audit_checkpoints`. Each batch is one transaction of multi-row `INSERT`s, so it is
/// durable when the server's `synchronous_commit` is on (the default) and all-or-nothing.
/// The sink runs on a `PostgresClient` that the application creates, runs and closes (it owns TLS
/// and pooling); ``PostgresConnectionURL`` builds its configuration from a URL, verifying the
/// server's certificate by default, since audit records name patients.
///
/// ```swift
/// let url = try PostgresConnectionURL(environment["AUDIT_DATABASE_URL"] ?? "")
/// let client = PostgresClient(configuration: url.clientConfiguration(), backgroundLogger: logger)
/// Task { await client.run() }                       // the app owns and runs the client
/// let sink = try PostgresAuditSink(client: client)
/// try await sink.migrate()
/// let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
/// ```
///
/// Many processes and servers may append to the same tables: each batch is a compare-and-append in
/// one transaction that first takes a transaction-scoped advisory lock for the table
/// (`pg_advisory_xact_lock`), reads the stored tail and inserts only if it is the one the log
/// expects; a unique index on `sequence` (made by ``migrate()``) is the second line of defence.
/// ``verifyTablesExist()`` and the read-only client configuration of `phiguard audit verify` read
/// without creating or changing anything.
///
/// Give the database role that writes here `INSERT` and `SELECT` only (no `UPDATE`/`DELETE`); the
/// chain detects edits anyway, but there is no reason to allow them.
public final class PostgresAuditSink: AuditSink, AuditRecordSource {
    /// Rows per `INSERT` statement (19 parameters a row, under PostgreSQL's 65,535 limit).
    static let rowsPerStatement = 1000

    private let client: PostgresClient
    private let logger: Logger
    private let tablePrefix: String
    private let cursor = Locked<(position: Int, rowID: Int64)>((0, 0))

    /// A sink on `client` in tables `<tablePrefix>_records` and `<tablePrefix>_checkpoints`
    /// (`tablePrefix`: 1–40 of `a–z 0–9 _`, starting with a letter, else
    /// `AuditError.storageFailure`). Call ``migrate()`` before the first use.
    public init(
        client: PostgresClient, tablePrefix: String = "phiguard_audit",
        logger: Logger = Logger(label: "phiguard.audit.postgres")
    ) throws(AuditError) {
        guard isValidTableName(tablePrefix) else { throw .storageFailure("invalid table prefix") }
        self.client = client
        self.logger = logger
        self.tablePrefix = tablePrefix
    }

    /// Creates the tables and their indexes if they do not exist. Tables made by an earlier version
    /// get the unique index on `sequence`, unless they already hold duplicate sequence numbers (a
    /// forked chain, kept as evidence: then the index is not made and the tail check alone guards
    /// new appends; the problem is logged).
    public func migrate() async throws(AuditError) {
        let statements = [
            """
            CREATE TABLE IF NOT EXISTS \(tablePrefix)_records (
                position BIGSERIAL PRIMARY KEY,
                sequence BIGINT NOT NULL, timestamp BIGINT NOT NULL, kind TEXT NOT NULL,
                actor_id TEXT, actor_role TEXT, session_id TEXT, action TEXT,
                resource_type TEXT, resource_id TEXT, patient_id TEXT, fields TEXT NOT NULL,
                outcome TEXT NOT NULL, reason TEXT, rule_ids TEXT NOT NULL, break_glass BOOLEAN NOT NULL,
                break_glass_reason TEXT, related_sequence BIGINT, attributes TEXT NOT NULL, chain BYTEA NOT NULL)
            """,
            "CREATE INDEX IF NOT EXISTS \(tablePrefix)_records_related ON \(tablePrefix)_records(related_sequence)",
            """
            CREATE TABLE IF NOT EXISTS \(tablePrefix)_checkpoints (
                position BIGSERIAL PRIMARY KEY, sequence BIGINT NOT NULL, chain BYTEA NOT NULL,
                timestamp BIGINT NOT NULL, signature BYTEA NOT NULL)
            """,
        ]
        do {
            for statement in statements {
                try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        } catch {
            throw .storageFailure("could not create the PostgreSQL audit tables")
        }
        do {
            try await client.query(
                PostgresQuery(
                    unsafeSQL:
                        "CREATE UNIQUE INDEX IF NOT EXISTS \(tablePrefix)_records_sequence ON \(tablePrefix)_records(sequence)"
                ), logger: logger)
        } catch {
            logger.error(
                "\(tablePrefix)_records holds duplicate sequence numbers (a forked chain); no unique index made")
        }
    }

    /// Throws `AuditError.storageFailure` unless both audit tables exist. Reads only (for
    /// verification, which must report dropped tables rather than recreate them).
    public func verifyTablesExist() async throws(AuditError) {
        var binds = PostgresBindings(capacity: 2)
        binds.append("\(tablePrefix)_records")
        binds.append("\(tablePrefix)_checkpoints")
        var count = 0
        do {
            let rows = try await client.query(
                PostgresQuery(
                    unsafeSQL:
                        "SELECT count(*) FROM (SELECT to_regclass($1) AS r UNION ALL SELECT to_regclass($2)) t WHERE r IS NOT NULL",
                    binds: binds), logger: logger)
            for try await row in rows { count = Int(try row.decode(Int64.self)) }
        } catch {
            throw .storageFailure("could not read the PostgreSQL catalog")
        }
        guard count == 2 else { throw .storageFailure("the audit tables are missing from the PostgreSQL database") }
    }

    /// Inserts the batch in one transaction, under the table's advisory lock, if the stored tail is
    /// still `expectingAfter`; else throws `AuditAppendConflict` and inserts nothing.
    public func append(_ records: [AuditRecord], checkpoints: [AuditCheckpoint], expectingAfter: AuditRecord?)
        async throws
    {
        guard !records.isEmpty || !checkpoints.isEmpty else { return }
        do {
            try await insert(records, checkpoints: checkpoints, expectingAfter: expectingAfter)
        } catch let error as PostgresTransactionError {
            if error.closureError is AuditAppendConflict { throw AuditAppendConflict() }
            throw error
        }
    }

    private func insert(_ records: [AuditRecord], checkpoints: [AuditCheckpoint], expectingAfter: AuditRecord?)
        async throws
    {
        let width = AuditRecordColumns.names.count
        let columnList = AuditRecordColumns.names.joined(separator: ", ")
        let tablePrefix = tablePrefix
        let logger = logger
        try await client.withTransaction(logger: logger) { connection in
            if !records.isEmpty {
                // One lock per table, held to COMMIT: appenders queue here, so the tail read below
                // is still the tail when the rows go in.
                var lockBinds = PostgresBindings(capacity: 1)
                lockBinds.append("phiguard:\(tablePrefix)_records")
                try await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", binds: lockBinds),
                    logger: logger)
                let rows = try await connection.query(
                    PostgresQuery(
                        unsafeSQL: "SELECT sequence, chain FROM \(tablePrefix)_records ORDER BY position DESC LIMIT 1"),
                    logger: logger)
                var stored: (sequence: UInt64, chain: [UInt8])?
                for try await row in rows {
                    let (sequence, chain) = try row.decode((Int64, ByteBuffer).self)
                    stored = (UInt64(bitPattern: sequence), Array(buffer: chain))
                }
                guard AuditAppendConflict.tail(stored, matches: expectingAfter) else { throw AuditAppendConflict() }
            }
            var start = 0
            while start < records.count {
                let end = min(start + Self.rowsPerStatement, records.count)
                var binds = PostgresBindings(capacity: (end - start) * width)
                var rows: [String] = []
                rows.reserveCapacity(end - start)
                for (offset, record) in records[start..<end].enumerated() {
                    Self.bind(AuditRecordColumns(record), into: &binds)
                    let base = offset * width
                    rows.append("(" + (1...width).map { "$\(base + $0)" }.joined(separator: ",") + ")")
                }
                try await connection.query(
                    PostgresQuery(
                        unsafeSQL: "INSERT INTO \(tablePrefix)_records (\(columnList)) VALUES "
                            + rows.joined(separator: ","), binds: binds), logger: logger)
                start = end
            }
            for checkpoint in checkpoints {
                var binds = PostgresBindings(capacity: 4)
                binds.append(Int64(bitPattern: checkpoint.sequence))
                binds.append(ByteBuffer(bytes: checkpoint.chain))
                binds.append(checkpoint.timestamp)
                binds.append(ByteBuffer(bytes: checkpoint.signature))
                try await connection.query(
                    PostgresQuery(
                        unsafeSQL:
                            "INSERT INTO \(tablePrefix)_checkpoints (sequence, chain, timestamp, signature) VALUES ($1, $2, $3, $4)",
                        binds: binds), logger: logger)
            }
        }
    }

    /// The row with the highest position.
    public func lastRecord() async throws -> AuditRecord? {
        let entries = try await select("ORDER BY position DESC LIMIT 1", PostgresBindings())
        guard let entry = entries.first else { return nil }
        guard case .record(let record) = entry.entry else {
            throw AuditError.storageFailure("the last audit row is not a record")
        }
        return record
    }

    /// Rows in position order.
    public func entries(from position: Int, limit: Int) async throws -> [AuditLogEntry] {
        guard position >= 0, limit > 0 else { return [] }
        let cached = cursor.withLock { $0 }
        var binds = PostgresBindings(capacity: 2)
        let rows: [(rowID: Int64, entry: AuditLogEntry)]
        if cached.position == position {
            binds.append(cached.rowID)
            binds.append(Int64(limit))
            rows = try await select("WHERE position > $1 ORDER BY position LIMIT $2", binds)
        } else {
            binds.append(Int64(limit))
            binds.append(Int64(position))
            rows = try await select("ORDER BY position LIMIT $1 OFFSET $2", binds)
        }
        if let last = rows.last {
            let next = (position + rows.count, last.rowID)
            cursor.withLock { $0 = next }
        }
        return rows.map(\.entry)
    }

    /// Checkpoints in the order written.
    public func checkpoints() async throws -> [AuditCheckpoint] {
        let rows = try await client.query(
            PostgresQuery(
                unsafeSQL:
                    "SELECT sequence, chain, timestamp, signature FROM \(tablePrefix)_checkpoints ORDER BY position"),
            logger: logger)
        var checkpoints: [AuditCheckpoint] = []
        for try await row in rows {
            let (sequence, chain, timestamp, signature) = try row.decode((Int64, ByteBuffer, Int64, ByteBuffer).self)
            checkpoints.append(
                AuditCheckpoint(
                    sequence: UInt64(bitPattern: sequence), chain: Array(buffer: chain), timestamp: timestamp,
                    signature: Array(buffer: signature)))
        }
        return checkpoints
    }

    /// Break-glass accesses without a review record, answered by an SQL query.
    public func unreviewedBreakGlass() async throws(AuditError) -> [AuditRecord] {
        do {
            let rows = try await select(
                """
                WHERE kind = 'access.decision' AND break_glass AND NOT EXISTS (
                    SELECT 1 FROM \(tablePrefix)_records v
                    WHERE v.kind = 'break-glass.reviewed' AND v.related_sequence = \(tablePrefix)_records.sequence)
                ORDER BY position
                """, PostgresBindings())
            return rows.compactMap { row in
                if case .record(let record) = row.entry { record } else { nil }
            }
        } catch {
            throw .storageFailure("break-glass query failed")
        }
    }

    // MARK: Row mapping

    private func select(_ tail: String, _ binds: PostgresBindings) async throws -> [(
        rowID: Int64, entry: AuditLogEntry
    )] {
        let sql =
            "SELECT position, " + AuditRecordColumns.names.joined(separator: ", ") + " FROM \(tablePrefix)_records "
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql + tail, binds: binds), logger: logger)
        var result: [(rowID: Int64, entry: AuditLogEntry)] = []
        for try await row in rows {
            result.append(Self.entry(row))
        }
        return result
    }

    private static func bind(_ columns: AuditRecordColumns, into binds: inout PostgresBindings) {
        binds.append(columns.sequence)
        binds.append(columns.timestamp)
        binds.append(columns.kind)
        binds.append(columns.actorID)
        binds.append(columns.actorRole)
        binds.append(columns.sessionID)
        binds.append(columns.action)
        binds.append(columns.resourceType)
        binds.append(columns.resourceID)
        binds.append(columns.patientID)
        binds.append(columns.fields)
        binds.append(columns.outcome)
        binds.append(columns.reason)
        binds.append(columns.ruleIDs)
        binds.append(columns.breakGlass)
        binds.append(columns.breakGlassReason)
        binds.append(columns.relatedSequence)
        binds.append(columns.attributes)
        binds.append(ByteBuffer(bytes: columns.chain))
    }

    private static func entry(_ row: PostgresRow) -> (rowID: Int64, entry: AuditLogEntry) {
        let cells = Array(row)
        let rowID = (cells.first.flatMap { try? $0.decode(Int64.self) }) ?? -1
        guard cells.count == 20, let columns = try? columns(cells) else { return (rowID, .unreadable) }
        return (rowID, columns.entry)
    }

    private static func columns(_ cells: [PostgresCell]) throws -> AuditRecordColumns {
        AuditRecordColumns(
            sequence: try cells[1].decode(Int64.self), timestamp: try cells[2].decode(Int64.self),
            kind: try cells[3].decode(String.self), actorID: try cells[4].decode(String?.self),
            actorRole: try cells[5].decode(String?.self), sessionID: try cells[6].decode(String?.self),
            action: try cells[7].decode(String?.self), resourceType: try cells[8].decode(String?.self),
            resourceID: try cells[9].decode(String?.self), patientID: try cells[10].decode(String?.self),
            fields: try cells[11].decode(String.self), outcome: try cells[12].decode(String.self),
            reason: try cells[13].decode(String?.self), ruleIDs: try cells[14].decode(String.self),
            breakGlass: try cells[15].decode(Bool.self), breakGlassReason: try cells[16].decode(String?.self),
            relatedSequence: try cells[17].decode(Int64?.self), attributes: try cells[18].decode(String.self),
            chain: Array(buffer: try cells[19].decode(ByteBuffer.self)))
    }
}
