public import Logging
internal import NIOCore
public import PHIGuardRecords
internal import SQLiteNIO

/// A `RecordStore` (PHIGuardRecords) in an SQLite file: one table per `RecordSchema`.
///
/// Each table has the record id column as `TEXT PRIMARY KEY`, the patient id column `TEXT NOT NULL`
/// (indexed), encrypted fields as `BLOB` envelopes, plain fields, resource attributes and labels as
/// `TEXT`, and for each blind-indexed field a `BLOB` column `<column>_bidx` (indexed). Table and
/// column names come from the schema, where they were validated (`[A-Za-z_][A-Za-z0-9_]{0,62}`);
/// every value is a bound parameter.
///
/// - **Durable**: WAL mode with `synchronous=FULL`.
/// - **Atomic writes**: an update is one `UPDATE … WHERE id = ? AND patient_id = ?` statement.
/// - **Audit**: `GuardedRecords` commits the audit event (through `AuditLog`, whose sink may be
///   another file or server) before it calls the store, so the event and the row are two commits,
///   not one transaction; see `GuardedRecords`.
/// - **Failures**: errors reach `GuardedRecords` as `RecordError.storeUnavailable` naming the
///   error type only (a row whose cells have the wrong type is `SQLiteRecordStoreError.corruptRow`).
///
/// ```swift
/// let store = try await SQLiteRecordStore.open(path: "/var/lib/portal/records.sqlite", schemas: [charts])
/// let records = try GuardedRecords(schema: charts, store: store, engine: engine, encryptor: encryptor, audit: log)
/// ```
public final class SQLiteRecordStore: RecordStore {
    let database: SQLiteSerialConnection
    private let ownsConnection: Bool
    /// Identifies the connection the store runs on (tests check that stores share one).
    package var connectionIdentity: ObjectIdentifier { ObjectIdentifier(database) }
    /// The care-team table list queries use for `careTeam` conditions (created with the record tables).
    public let careTeamTable: CareTeamTable?

    private init(database: SQLiteSerialConnection, ownsConnection: Bool, careTeams: CareTeamTable?) {
        self.database = database
        self.ownsConnection = ownsConnection
        self.careTeamTable = careTeams
    }

    /// A store in `database` with a table for each of `schemas` (and the care-team table `careTeams`,
    /// which `GuardedRecords.list` uses for `careTeam` conditions), made if needed, sharing the
    /// database's connection with the other stores built from it. ``close()`` leaves the database open.
    public static func open(in database: SQLiteDatabase, schemas: [RecordSchema], careTeams: CareTeamTable? = nil)
        async throws(SQLiteRecordStoreError) -> SQLiteRecordStore
    {
        do {
            try await database.makeTables { connection in
                for schema in schemas {
                    for statement in createStatements(schema) { _ = try await connection.query(statement, []) }
                }
                for statement in careTeams?.createStatements ?? [] { _ = try await connection.query(statement, []) }
            }
        } catch {
            throw .unavailable(String(describing: type(of: error)))
        }
        return SQLiteRecordStore(database: database.connection, ownsConnection: false, careTeams: careTeams)
    }

    /// Opens (creating if needed) the database at `path` and a table for each of `schemas` (and the
    /// care-team table `careTeams`), on a connection of its own (prefer ``open(in:schemas:careTeams:)``
    /// when other stores use the same file).
    public static func open(
        path: String, schemas: [RecordSchema], careTeams: CareTeamTable? = nil, busyTimeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "phiguard.records.sqlite")
    ) async throws(SQLiteRecordStoreError) -> SQLiteRecordStore {
        try await open(
            path: Optional(path), schemas: schemas, careTeams: careTeams, busyTimeout: busyTimeout, logger: logger)
    }

    /// Opens a private in-memory database (for tests).
    public static func inMemory(schemas: [RecordSchema], careTeams: CareTeamTable? = nil)
        async throws(SQLiteRecordStoreError) -> SQLiteRecordStore
    {
        try await open(
            path: nil, schemas: schemas, careTeams: careTeams, busyTimeout: .seconds(5),
            logger: Logger(label: "phiguard.records"))
    }

    private static func open(
        path: String?, schemas: [RecordSchema], careTeams: CareTeamTable?, busyTimeout: Duration, logger: Logger
    ) async throws(SQLiteRecordStoreError) -> SQLiteRecordStore {
        do {
            let database = try await SQLiteSerialConnection.open(path: path, busyTimeout: busyTimeout, logger: logger) {
                connection in
                for schema in schemas {
                    for statement in createStatements(schema) { _ = try await connection.query(statement, []) }
                }
                for statement in careTeams?.createStatements ?? [] { _ = try await connection.query(statement, []) }
            }
            return SQLiteRecordStore(database: database, ownsConnection: true, careTeams: careTeams)
        } catch {
            throw .unavailable(String(describing: type(of: error)))
        }
    }

    /// Closes the connection the store opened, after the queued operations; does nothing for a store
    /// built with ``open(in:schemas:careTeams:)`` (close its `SQLiteDatabase`). The store must not be used afterwards.
    public func close() async throws(SQLiteRecordStoreError) {
        guard ownsConnection else { return }
        do { try await database.close() } catch { throw .unavailable(String(describing: type(of: error))) }
    }

    /// `CREATE TABLE` and `CREATE INDEX` statements for `schema` (names validated by the schema).
    package static func createStatements(_ schema: RecordSchema) -> [String] {
        var columns = [
            "\(schema.recordIDColumn) TEXT PRIMARY KEY NOT NULL", "\(schema.patientIDColumn) TEXT NOT NULL",
        ]
        var indexes = [
            "CREATE INDEX IF NOT EXISTS \(schema.table)_\(schema.patientIDColumn)_idx "
                + "ON \(schema.table)(\(schema.patientIDColumn))"
        ]
        for field in schema.fields {
            columns.append("\(field.column) \(field.storage == .encrypted ? "BLOB" : "TEXT")")
            if let indexColumn = field.blindIndexColumn {
                columns.append("\(indexColumn) BLOB")
                indexes.append(
                    "CREATE INDEX IF NOT EXISTS \(schema.table)_\(indexColumn)_idx ON \(schema.table)(\(indexColumn))")
            }
        }
        return ["CREATE TABLE IF NOT EXISTS \(schema.table) (\(columns.joined(separator: ", ")))"] + indexes
    }

    /// Every stored column of `schema` except the two ids, in schema order.
    private static func valueColumns(_ schema: RecordSchema) -> [String] {
        schema.fields.flatMap { [$0.column] + ($0.blindIndexColumn.map { [$0] } ?? []) }
    }

    // MARK: RecordStore

    /// The row, if any.
    public func fetch(_ id: String, schema: RecordSchema) async throws -> StoredRecord? {
        let names = Self.valueColumns(schema)
        let sql =
            "SELECT \(([schema.recordIDColumn, schema.patientIDColumn] + names).joined(separator: ", ")) "
            + "FROM \(schema.table) WHERE \(schema.recordIDColumn) = ?"
        let rows = try await database.exclusive { connection in try await connection.query(sql, [.text(id)]) }
        guard let row = rows.first else { return nil }
        guard case .text(let storedID) = row.column(schema.recordIDColumn) ?? .null,
            case .text(let patientID) = row.column(schema.patientIDColumn) ?? .null
        else { throw SQLiteRecordStoreError.corruptRow }
        var columns: [String: StoredValue] = [:]
        for name in names {
            switch row.column(name) ?? .null {
            case .null: continue
            case .blob(let buffer): columns[name] = .bytes(Array(buffer.readableBytesView))
            case .text(let text): columns[name] = .text(text)
            default: throw SQLiteRecordStoreError.corruptRow
            }
        }
        return StoredRecord(id: storedID, patientID: patientID, columns: columns)
    }

    /// Inserts the row; `false` if the id is taken.
    public func insert(_ record: StoredRecord, schema: RecordSchema) async throws -> Bool {
        let names = record.columns.keys.sorted()
        try Self.check(names, schema)
        let all = [schema.recordIDColumn, schema.patientIDColumn] + names
        let sql =
            "INSERT INTO \(schema.table) (\(all.joined(separator: ", "))) "
            + "VALUES (\(Array(repeating: "?", count: all.count).joined(separator: ", "))) "
            + "ON CONFLICT DO NOTHING RETURNING 1"
        let binds = [SQLiteData.text(record.id), .text(record.patientID)] + names.map { Self.bind(record.columns[$0]) }
        return try await database.exclusive { connection in try await connection.query(sql, binds).count == 1 }
    }

    /// Sets the columns in one statement, only if the row still belongs to `patientID`.
    public func update(_ id: String, patientID: String, columns: [String: StoredValue], schema: RecordSchema)
        async throws -> Bool
    {
        let names = columns.keys.sorted()
        try Self.check(names, schema)
        guard !names.isEmpty else { return try await fetch(id, schema: schema)?.patientID == patientID }
        let sql =
            "UPDATE \(schema.table) SET \(names.map { "\($0) = ?" }.joined(separator: ", ")) "
            + "WHERE \(schema.recordIDColumn) = ? AND \(schema.patientIDColumn) = ? RETURNING 1"
        let binds = names.map { Self.bind(columns[$0]) } + [.text(id), .text(patientID)]
        return try await database.exclusive { connection in try await connection.query(sql, binds).count == 1 }
    }

    /// Deletes the row if it still belongs to `patientID`.
    public func delete(_ id: String, patientID: String, schema: RecordSchema) async throws -> Bool {
        let sql =
            "DELETE FROM \(schema.table) WHERE \(schema.recordIDColumn) = ? AND \(schema.patientIDColumn) = ? "
            + "RETURNING 1"
        return try await database.exclusive { connection in
            try await connection.query(sql, [.text(id), .text(patientID)]).count == 1
        }
    }

    /// Refuses column names the schema does not declare (they would be interpolated into SQL).
    private static func check(_ names: [String], _ schema: RecordSchema) throws {
        let known = Set(valueColumns(schema))
        guard names.allSatisfy(known.contains) else { throw SQLiteRecordStoreError.unknownColumn }
    }

    private static func bind(_ value: StoredValue?) -> SQLiteData {
        switch value {
        case nil: .null
        case .bytes(let bytes): .blob(ByteBuffer(bytes: bytes))
        case .text(let text): .text(text)
        }
    }
}

/// Why the SQLite record store failed. No case carries a value or a database message.
public enum SQLiteRecordStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The database could not be opened or used (the error's type name only).
    case unavailable(String)
    /// A stored row has cells of the wrong type.
    case corruptRow
    /// A write named a column the schema does not declare.
    case unknownColumn

    /// A fixed text.
    public var description: String {
        switch self {
        case .unavailable(let type): "SQLite record store unavailable (\(type))"
        case .corruptRow: "a stored record row has cells of the wrong type"
        case .unknownColumn: "a write named a column the schema does not declare"
        }
    }
}
