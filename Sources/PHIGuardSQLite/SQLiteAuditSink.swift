public import Logging
internal import NIOCore
public import PHIGuardAudit
internal import PHIGuardCrypto
internal import SQLiteNIO

/// An audit sink in an SQLite database (through Vapor's sqlite-nio), durable and batched.
///
/// Tables `audit_records` (one column per event field, `position` = storage order) and
/// `audit_checkpoints`. The database runs in WAL mode with `synchronous=FULL`, so a committed batch
/// survives a power cut; each batch is one transaction of multi-row `INSERT`s (all or nothing).
///
/// Many processes may append to one file: each batch is a compare-and-append in one
/// `BEGIN IMMEDIATE` transaction (the database write lock, waited for up to 30 s), which reads the
/// stored tail and inserts only if it is the one the log expects; a unique index on `sequence` is the
/// second line of defence. ``openReadOnly(path:logger:)`` opens a database for verification without
/// creating or changing anything.
///
/// ```swift
/// let sink = try await SQLiteAuditSink.open(path: "/var/lib/portal/audit.sqlite")
/// let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
/// ```
public final class SQLiteAuditSink: AuditSink, AuditRecordSource {
    /// Rows per `INSERT` statement (19 parameters a row stays under SQLite's 32,766 limit).
    static let rowsPerStatement = 500

    private let database: SQLiteSerialConnection
    private let ownsConnection: Bool
    /// Identifies the connection the store runs on (tests check that stores share one).
    package var connectionIdentity: ObjectIdentifier { ObjectIdentifier(database) }
    private let logger: Logger
    private let isReadOnly: Bool
    private let cursor = Locked<(position: Int, rowID: Int64)>((0, 0))

    private init(database: SQLiteSerialConnection, ownsConnection: Bool, logger: Logger, isReadOnly: Bool = false) {
        self.database = database
        self.ownsConnection = ownsConnection
        self.logger = logger
        self.isReadOnly = isReadOnly
    }

    /// A sink in `database`, sharing its connection with the other stores built from it (its tables
    /// are made if needed). A batch waits for other processes' write locks as long as the database's
    /// `busyTimeout`. ``close()`` leaves the database open.
    public static func open(in database: SQLiteDatabase, logger: Logger = Logger(label: "phiguard.audit.sqlite"))
        async throws(AuditError) -> SQLiteAuditSink
    {
        do {
            try await database.makeTables { connection in try await createSchema(connection, logger: logger) }
        } catch {
            throw .storageFailure("cannot open the SQLite audit database")
        }
        return SQLiteAuditSink(database: database.connection, ownsConnection: false, logger: logger)
    }

    /// Opens (creating if needed) the database at `path` and its audit tables, on a connection of its
    /// own (prefer ``open(in:logger:)`` when other stores use the same file).
    public static func open(path: String, logger: Logger = Logger(label: "phiguard.audit.sqlite"))
        async throws(AuditError)
        -> SQLiteAuditSink
    {
        do {
            let database = try await SQLiteSerialConnection.open(path: path, busyTimeout: .seconds(30), logger: logger)
            {
                connection in try await createSchema(connection, logger: logger)
            }
            return SQLiteAuditSink(database: database, ownsConnection: true, logger: logger)
        } catch {
            throw .storageFailure("cannot open the SQLite audit database")
        }
    }

    /// Opens an existing database read-only (SQLite `mode=ro`), for verification and export: nothing
    /// is created or changed, and ``append(_:checkpoints:expectingAfter:)`` fails. Throws
    /// `AuditError.storageFailure` if the file cannot be opened or has no audit tables (a dropped
    /// table is reported, never recreated).
    public static func openReadOnly(path: String, logger: Logger = Logger(label: "phiguard.audit.sqlite"))
        async throws(AuditError) -> SQLiteAuditSink
    {
        let database: SQLiteSerialConnection
        do {
            database = try await SQLiteSerialConnection.open(
                path: readOnlyURI(path), busyTimeout: .seconds(30), logger: logger, readOnly: true)
        } catch {
            throw .storageFailure("cannot open the SQLite audit database read-only")
        }
        let sink = SQLiteAuditSink(database: database, ownsConnection: true, logger: logger, isReadOnly: true)
        let tables: [SQLiteRow]
        do {
            tables = try await database.exclusive { connection in
                try await connection.query(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('audit_records', 'audit_checkpoints')",
                    [])
            }
        } catch {
            try? await database.close()
            throw .storageFailure("cannot read the SQLite audit database")
        }
        guard tables.count == 2 else {
            try? await database.close()
            throw .storageFailure("the audit tables are missing from the SQLite database")
        }
        return sink
    }

    /// `file:<path>?mode=ro`, with the characters that URIs reserve percent-encoded.
    static func readOnlyURI(_ path: String) -> String {
        var encoded = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "%"), UInt8(ascii: "?"), UInt8(ascii: "#"), 0..<0x20, 0x7F...:
                encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            default: encoded.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return "file:" + encoded + "?mode=ro"
    }

    /// Opens an in-memory database (for tests).
    public static func inMemory() async throws(AuditError) -> SQLiteAuditSink {
        let logger = Logger(label: "phiguard.audit.sqlite")
        do {
            let database = try await SQLiteSerialConnection.open(path: nil, busyTimeout: .seconds(30), logger: logger) {
                connection in try await createSchema(connection, logger: logger)
            }
            return SQLiteAuditSink(database: database, ownsConnection: true, logger: logger)
        } catch {
            throw .storageFailure("cannot open the SQLite audit database")
        }
    }

    /// Closes the connection the sink opened; does nothing for a sink built with ``open(in:logger:)``
    /// (close its `SQLiteDatabase`). The sink must not be used afterwards.
    public func close() async throws(AuditError) {
        guard ownsConnection else { return }
        do { try await database.close() } catch { throw .storageFailure("cannot close the SQLite audit database") }
    }

    /// Makes the tables (the connection is already in WAL mode with `synchronous=FULL`).
    private static func createSchema(_ connection: SQLiteConnection, logger: Logger) async throws {
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS audit_records (
                position INTEGER PRIMARY KEY AUTOINCREMENT,
                sequence INTEGER NOT NULL, timestamp INTEGER NOT NULL, kind TEXT NOT NULL,
                actor_id TEXT, actor_role TEXT, session_id TEXT, action TEXT,
                resource_type TEXT, resource_id TEXT, patient_id TEXT, fields TEXT NOT NULL,
                outcome TEXT NOT NULL, reason TEXT, rule_ids TEXT NOT NULL, break_glass INTEGER NOT NULL,
                break_glass_reason TEXT, related_sequence INTEGER, attributes TEXT NOT NULL, chain BLOB NOT NULL)
            """, [])
        _ = try await connection.query(
            "CREATE INDEX IF NOT EXISTS audit_records_patient ON audit_records(patient_id)", [])
        _ = try await connection.query(
            "CREATE INDEX IF NOT EXISTS audit_records_related ON audit_records(related_sequence)", [])
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS audit_checkpoints (
                position INTEGER PRIMARY KEY AUTOINCREMENT, sequence INTEGER NOT NULL,
                chain BLOB NOT NULL, timestamp INTEGER NOT NULL, signature BLOB NOT NULL)
            """, [])
        // Added for many writers; a table written before could hold a fork (duplicate sequence
        // numbers), which must stay as evidence: then the index is not made, and the tail check in
        // `append` alone keeps new appends on one chain.
        do {
            _ = try await connection.query(
                "CREATE UNIQUE INDEX IF NOT EXISTS audit_records_sequence ON audit_records(sequence)", [])
        } catch {
            logger.error("audit_records holds duplicate sequence numbers (a forked chain); no unique index made")
        }
    }

    /// Inserts the batch in one `BEGIN IMMEDIATE` transaction if the stored tail is still
    /// `expectingAfter`; else throws `AuditAppendConflict` and inserts nothing.
    public func append(_ records: [AuditRecord], checkpoints: [AuditCheckpoint], expectingAfter: AuditRecord?)
        async throws
    {
        guard !records.isEmpty || !checkpoints.isEmpty else { return }
        guard !isReadOnly else { throw AuditError.storageFailure("the SQLite audit database was opened read-only") }
        let columnList = AuditRecordColumns.names.joined(separator: ", ")
        let rowPlaceholder =
            "(" + Array(repeating: "?", count: AuditRecordColumns.names.count).joined(separator: ",") + ")"
        try await database.transaction { connection -> (value: Void, commit: Bool) in
            if !records.isEmpty {
                let tail = try await connection.query(
                    "SELECT sequence, chain FROM audit_records ORDER BY position DESC LIMIT 1", [])
                var stored: (sequence: UInt64, chain: [UInt8])?
                if let row = tail.first {
                    guard let sequence = row.column("sequence")?.integer, let chain = row.column("chain")?.blob else {
                        throw AuditError.storageFailure("the last audit row is not a record")
                    }
                    stored = (UInt64(bitPattern: Int64(sequence)), Array(buffer: chain))
                }
                guard AuditAppendConflict.tail(stored, matches: expectingAfter) else { throw AuditAppendConflict() }
            }
            var start = 0
            while start < records.count {
                let end = min(start + Self.rowsPerStatement, records.count)
                var binds: [SQLiteData] = []
                binds.reserveCapacity((end - start) * AuditRecordColumns.names.count)
                for record in records[start..<end] { Self.bind(AuditRecordColumns(record), into: &binds) }
                let sql =
                    "INSERT INTO audit_records (\(columnList)) VALUES "
                    + Array(repeating: rowPlaceholder, count: end - start).joined(separator: ",")
                _ = try await connection.query(sql, binds)
                start = end
            }
            for checkpoint in checkpoints {
                _ = try await connection.query(
                    "INSERT INTO audit_checkpoints (sequence, chain, timestamp, signature) VALUES (?, ?, ?, ?)",
                    [
                        .integer(Int(Int64(bitPattern: checkpoint.sequence))),
                        .blob(ByteBuffer(bytes: checkpoint.chain)),
                        .integer(Int(checkpoint.timestamp)), .blob(ByteBuffer(bytes: checkpoint.signature)),
                    ])
            }
            return ((), true)
        }
    }

    /// The row with the highest position.
    public func lastRecord() async throws -> AuditRecord? {
        let rows = try await database.exclusive { connection in
            try await connection.query(
                "SELECT \(Self.selectList) FROM audit_records ORDER BY position DESC LIMIT 1", [])
        }
        guard let row = rows.first else { return nil }
        guard case .record(let record) = Self.entry(row) else {
            throw AuditError.storageFailure("the last audit row is not a record")
        }
        return record
    }

    /// Rows in position order.
    public func entries(from position: Int, limit: Int) async throws -> [AuditLogEntry] {
        guard position >= 0, limit > 0 else { return [] }
        let cached = cursor.withLock { $0 }
        let rows: [SQLiteRow]
        if cached.position == position {
            rows = try await database.exclusive { connection in
                try await connection.query(
                    "SELECT \(Self.selectList) FROM audit_records WHERE position > ? ORDER BY position LIMIT ?",
                    [.integer(Int(cached.rowID)), .integer(limit)])
            }
        } else {
            rows = try await database.exclusive { connection in
                try await connection.query(
                    "SELECT \(Self.selectList) FROM audit_records ORDER BY position LIMIT ? OFFSET ?",
                    [.integer(limit), .integer(position)])
            }
        }
        if let last = rows.last, let rowID = last.column("position")?.integer {
            let next = (position + rows.count, Int64(rowID))
            cursor.withLock { $0 = next }
        }
        return rows.map(Self.entry)
    }

    /// Checkpoints in the order written.
    public func checkpoints() async throws -> [AuditCheckpoint] {
        let rows = try await database.exclusive { connection in
            try await connection.query(
                "SELECT sequence, chain, timestamp, signature FROM audit_checkpoints ORDER BY position", [])
        }
        return try rows.map { row in
            guard let sequence = row.column("sequence")?.integer, let timestamp = row.column("timestamp")?.integer,
                let chain = row.column("chain")?.blob, let signature = row.column("signature")?.blob
            else { throw AuditError.malformedCheckpoint("a checkpoint row has a missing or mistyped column") }
            return AuditCheckpoint(
                sequence: UInt64(bitPattern: Int64(sequence)), chain: Array(buffer: chain), timestamp: Int64(timestamp),
                signature: Array(buffer: signature))
        }
    }

    /// Break-glass accesses without a review record, answered by an SQL query (no full scan in Swift).
    public func unreviewedBreakGlass() async throws(AuditError) -> [AuditRecord] {
        do {
            let rows = try await database.exclusive { connection in
                try await connection.query(
                    """
                    SELECT \(Self.selectList) FROM audit_records r
                    WHERE r.kind = 'access.decision' AND r.break_glass = 1 AND NOT EXISTS (
                        SELECT 1 FROM audit_records v
                        WHERE v.kind = 'break-glass.reviewed' AND v.related_sequence = r.sequence)
                    ORDER BY r.position
                    """, [])
            }
            return rows.compactMap { row in
                if case .record(let record) = Self.entry(row) { record } else { nil }
            }
        } catch {
            throw .storageFailure("break-glass query failed")
        }
    }

    // MARK: Row mapping

    private static let selectList = "position, " + AuditRecordColumns.names.joined(separator: ", ")

    private static func bind(_ columns: AuditRecordColumns, into binds: inout [SQLiteData]) {
        func text(_ value: String?) -> SQLiteData { value.map { .text($0) } ?? .null }
        binds.append(.integer(Int(columns.sequence)))
        binds.append(.integer(Int(columns.timestamp)))
        binds.append(.text(columns.kind))
        binds.append(text(columns.actorID))
        binds.append(text(columns.actorRole))
        binds.append(text(columns.sessionID))
        binds.append(text(columns.action))
        binds.append(text(columns.resourceType))
        binds.append(text(columns.resourceID))
        binds.append(text(columns.patientID))
        binds.append(.text(columns.fields))
        binds.append(.text(columns.outcome))
        binds.append(text(columns.reason))
        binds.append(.text(columns.ruleIDs))
        binds.append(.integer(columns.breakGlass ? 1 : 0))
        binds.append(text(columns.breakGlassReason))
        binds.append(columns.relatedSequence.map { .integer(Int($0)) } ?? .null)
        binds.append(.text(columns.attributes))
        binds.append(.blob(ByteBuffer(bytes: columns.chain)))
    }

    /// Maps a row selected with ``selectList`` (position first, then the columns in order) by index.
    private static func entry(_ row: SQLiteRow) -> AuditLogEntry {
        let cells = row.columns
        guard cells.count == AuditRecordColumns.names.count + 1 else { return .unreadable }
        func text(_ index: Int) -> String?? {
            switch cells[index].data {
            case .text(let value): .some(value)
            case .null: .some(nil)
            default: nil
            }
        }
        guard case .integer(let sequence) = cells[1].data, case .integer(let timestamp) = cells[2].data,
            case .text(let kind) = cells[3].data, let actorID = text(4), let actorRole = text(5),
            let sessionID = text(6), let action = text(7), let resourceType = text(8), let resourceID = text(9),
            let patientID = text(10), case .text(let fields) = cells[11].data, case .text(let outcome) = cells[12].data,
            let reason = text(13), case .text(let ruleIDs) = cells[14].data,
            case .integer(let breakGlass) = cells[15].data, breakGlass == 0 || breakGlass == 1,
            let breakGlassReason = text(16), case .text(let attributes) = cells[18].data,
            case .blob(let chain) = cells[19].data
        else { return .unreadable }
        let related: Int64?
        switch cells[17].data {
        case .integer(let value): related = Int64(value)
        case .null: related = nil
        default: return .unreadable
        }
        return AuditRecordColumns(
            sequence: Int64(sequence), timestamp: Int64(timestamp), kind: kind, actorID: actorID, actorRole: actorRole,
            sessionID: sessionID, action: action, resourceType: resourceType, resourceID: resourceID,
            patientID: patientID, fields: fields, outcome: outcome, reason: reason, ruleIDs: ruleIDs,
            breakGlass: breakGlass == 1, breakGlassReason: breakGlassReason, relatedSequence: related,
            attributes: attributes, chain: Array(buffer: chain)
        ).entry
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
