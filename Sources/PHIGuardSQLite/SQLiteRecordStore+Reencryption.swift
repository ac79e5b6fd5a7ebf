internal import NIOCore
public import PHIGuardFieldEncryption
public import PHIGuardRecords
internal import SQLiteNIO

extension SQLiteRecordStore {
    /// The encrypted fields of `schemas`' tables as a `ReencryptionSource` (PHIGuardFieldEncryption):
    /// what `ReencryptionJob` walks to move every envelope to a new key after `Keyring.rotated(to:)`.
    ///
    /// ```swift
    /// let source = try store.reencryptionSource(schemas: [patients, charts])
    /// let checkpoints = try await SQLiteReencryptionCheckpointStore.open(in: database, job: "field-keys")
    /// let job = ReencryptionJob(encryptor: FieldEncryptor(keyring: rotated), source: source, checkpoints: checkpoints)
    /// _ = try await job.run()
    /// ```
    ///
    /// Every schema must be one this store was opened with (its table exists). Only
    /// `RecordField.encrypted` columns are visited (blind indexes do not depend on the field key);
    /// `NULL` cells are skipped.
    public func reencryptionSource(schemas: [RecordSchema]) throws(SQLiteRecordStoreError)
        -> SQLiteRecordReencryptionSource
    {
        try SQLiteRecordReencryptionSource(database: database, schemas: schemas)
    }
}

/// The encrypted cells of some `SQLiteRecordStore` tables, in `FieldContext` order (table, record id,
/// field name), with a compare-and-swap replace: a `ReencryptionSource` (PHIGuardFieldEncryption).
///
/// Made by ``SQLiteRecordStore/reencryptionSource(schemas:)``. Record ids are compared by SQLite as
/// bytes (`BINARY`), which is the order of `FieldContext` for the ids PHIGuard writes (ASCII, or any
/// NFC text). Each replacement is one `UPDATE … WHERE id = ? AND column = ?` statement, committed on
/// its own (WAL, `synchronous=FULL`), so a process killed mid-run leaves every cell either as it was
/// or under the new key, never half-written.
public struct SQLiteRecordReencryptionSource: ReencryptionSource {
    struct Table: Sendable {
        let name: String
        let idColumn: String
        /// Encrypted fields sorted by field name: (field name, column).
        let fields: [(name: String, column: String)]
    }

    private let database: SQLiteSerialConnection
    /// Sorted by table name.
    private let tables: [Table]

    init(database: SQLiteSerialConnection, schemas: [RecordSchema]) throws(SQLiteRecordStoreError) {
        self.database = database
        var seen = Set<String>()
        var tables: [Table] = []
        for schema in schemas where seen.insert(schema.table).inserted {
            let fields = schema.fields.filter { $0.storage == .encrypted }.map { (name: $0.name, column: $0.column) }
                .sorted { $0.name < $1.name }
            guard !fields.isEmpty else { continue }
            tables.append(Table(name: schema.table, idColumn: schema.recordIDColumn, fields: fields))
        }
        self.tables = tables.sorted { $0.name < $1.name }
    }

    /// How many encrypted cells (not `NULL`) the tables hold.
    public func fieldCount() async throws -> Int {
        var count = 0
        for table in tables {
            count += try await scalar(
                "SELECT \(table.fields.map { "count(\($0.column))" }.joined(separator: " + ")) FROM \(table.name)", nil)
        }
        return count
    }

    /// How many encrypted cells (not `NULL`) are at or before `position`: the share a resumed job
    /// has already walked (for a progress bar).
    public func fieldCount(through position: FieldContext) async throws -> Int {
        var count = 0
        for table in tables where table.name <= position.table {
            let counts = table.fields.map { "count(\($0.column))" }.joined(separator: " + ")
            guard table.name == position.table else {
                count += try await scalar("SELECT \(counts) FROM \(table.name)", nil)
                continue
            }
            count += try await scalar("SELECT \(counts) FROM \(table.name) WHERE \(table.idColumn) < ?", position)
            let present = table.fields.filter { $0.name <= position.field }.map { "(\($0.column) IS NOT NULL)" }
            if !present.isEmpty {
                count += try await scalar(
                    "SELECT \(present.joined(separator: " + ")) FROM \(table.name) WHERE \(table.idColumn) = ?",
                    position)
            }
        }
        return count
    }

    private func scalar(_ sql: String, _ position: FieldContext?) async throws -> Int {
        let binds: [SQLiteData] = position.map { [.text($0.recordID)] } ?? []
        let rows = try await database.exclusive { connection in try await connection.query(sql, binds) }
        guard let row = rows.first else { return 0 }
        switch row.columns.first?.data ?? .null {
        case .null: return 0
        case .integer(let value): return value
        default: throw SQLiteRecordStoreError.corruptRow
        }
    }

    /// Up to `limit` cells strictly after `position`, in `FieldContext` order.
    public func fields(after position: FieldContext?, limit: Int) async throws -> [StoredField] {
        guard limit > 0 else { return [] }
        var result: [StoredField] = []
        for table in tables {
            if let position, table.name < position.table { continue }
            // The row of `position` itself may still have later fields: start at it, inclusive.
            var lowerBound = position.flatMap { $0.table == table.name ? $0.recordID : nil }
            var inclusive = true
            let rowsPerQuery = max(1, min(limit / table.fields.count + 1, 10_000))
            let columns = ([table.idColumn] + table.fields.map(\.column)).joined(separator: ", ")
            while true {
                let sql =
                    "SELECT \(columns) FROM \(table.name)"
                    + (lowerBound == nil ? "" : " WHERE \(table.idColumn) \(inclusive ? ">=" : ">") ?")
                    + " ORDER BY \(table.idColumn) LIMIT \(rowsPerQuery)"
                let binds: [SQLiteData] = lowerBound.map { [.text($0)] } ?? []
                let rows = try await database.exclusive { connection in try await connection.query(sql, binds) }
                for row in rows {
                    guard case .text(let id) = row.column(table.idColumn) ?? .null else {
                        throw SQLiteRecordStoreError.corruptRow
                    }
                    for field in table.fields {
                        let context = FieldContext(table: table.name, recordID: id, field: field.name)
                        if let position, !(position < context) { continue }
                        switch row.column(field.column) ?? .null {
                        case .null: continue
                        case .blob(let buffer):
                            // An envelope that does not even parse cannot be moved: fail closed, change nothing.
                            guard let envelope = try? FieldEnvelope(bytes: Array(buffer.readableBytesView)) else {
                                throw SQLiteRecordStoreError.corruptRow
                            }
                            result.append(StoredField(context: context, envelope: envelope))
                            if result.count == limit { return result }
                        default: throw SQLiteRecordStoreError.corruptRow
                        }
                    }
                    lowerBound = id
                    inclusive = false
                }
                if rows.count < rowsPerQuery { break }
            }
        }
        return result
    }

    /// Writes `replacement` only if the cell still holds `expected` (one `UPDATE`, committed alone).
    public func replace(at context: FieldContext, expected: FieldEnvelope, with replacement: FieldEnvelope)
        async throws -> Bool
    {
        guard let table = tables.first(where: { $0.name == context.table }),
            let column = table.fields.first(where: { $0.name == context.field })?.column
        else { throw SQLiteRecordStoreError.unknownColumn }
        let sql =
            "UPDATE \(table.name) SET \(column) = ? WHERE \(table.idColumn) = ? AND \(column) = ? RETURNING 1"
        let binds: [SQLiteData] = [
            .blob(ByteBuffer(bytes: replacement.bytes)), .text(context.recordID),
            .blob(ByteBuffer(bytes: expected.bytes)),
        ]
        return try await database.exclusive { connection in try await connection.query(sql, binds).count == 1 }
    }
}

/// A `ReencryptionCheckpointStore` (PHIGuardFieldEncryption) in a row of the SQLite table
/// `phiguard_reencryption_checkpoints`, one row per job name: a `ReencryptionJob` killed mid-run
/// (even `kill -9`) resumes after the last batch it finished.
///
/// A job's row exists from ``begin()`` until ``finish()``, so ``unfinishedJobs(in:)`` tells an app
/// that a rotation was interrupted (and which, if the name says so) before it starts another.
public struct SQLiteReencryptionCheckpointStore: ReencryptionCheckpointStore {
    /// The job's name (the row's key).
    public let job: String
    private let database: SQLiteSerialConnection

    static let createStatement = """
        CREATE TABLE IF NOT EXISTS phiguard_reencryption_checkpoints (
            job TEXT PRIMARY KEY, position_table TEXT, record_id TEXT, field TEXT, extra TEXT
        )
        """

    /// The checkpoint of `job` in `database` (the table is made if needed; no row is written yet).
    public static func open(in database: SQLiteDatabase, job: String) async throws(SQLiteRecordStoreError)
        -> SQLiteReencryptionCheckpointStore
    {
        try await makeTable(database)
        return SQLiteReencryptionCheckpointStore(job: job, database: database.connection)
    }

    /// The names of the jobs begun and not finished, sorted.
    public static func unfinishedJobs(in database: SQLiteDatabase) async throws(SQLiteRecordStoreError) -> [String] {
        try await makeTable(database)
        do {
            let rows = try await database.connection.exclusive { connection in
                try await connection.query("SELECT job FROM phiguard_reencryption_checkpoints ORDER BY job", [])
            }
            return try rows.map { row in
                guard case .text(let job) = row.column("job") ?? .null else { throw SQLiteRecordStoreError.corruptRow }
                return job
            }
        } catch let error as SQLiteRecordStoreError {
            throw error
        } catch {
            throw .unavailable(String(describing: type(of: error)))
        }
    }

    private static func makeTable(_ database: SQLiteDatabase) async throws(SQLiteRecordStoreError) {
        do {
            try await database.makeTables { connection in _ = try await connection.query(createStatement, []) }
        } catch {
            throw .unavailable(String(describing: type(of: error)))
        }
    }

    /// Records that the job has begun (its row, with no position yet); nothing if it already exists.
    public func begin() async throws {
        _ = try await database.exclusive { connection in
            try await connection.query(
                "INSERT INTO phiguard_reencryption_checkpoints (job) VALUES (?) ON CONFLICT DO NOTHING", [.text(job)])
        }
    }

    /// Records that the job is done: its row is removed.
    public func finish() async throws {
        _ = try await database.exclusive { connection in
            try await connection.query("DELETE FROM phiguard_reencryption_checkpoints WHERE job = ?", [.text(job)])
        }
    }

    /// The position saved last, or `nil` (no row, or begun without a position).
    public func load() async throws -> FieldContext? {
        let rows = try await database.exclusive { connection in
            try await connection.query(
                "SELECT position_table, record_id, field, extra FROM phiguard_reencryption_checkpoints WHERE job = ?",
                [.text(job)])
        }
        guard let row = rows.first else { return nil }
        switch (row.column("position_table"), row.column("record_id"), row.column("field")) {
        case (.null?, .null?, .null?): return nil
        case (.text(let table)?, .text(let recordID)?, .text(let field)?):
            let extra: String?
            switch row.column("extra") ?? .null {
            case .null: extra = nil
            case .text(let text): extra = text
            default: throw SQLiteRecordStoreError.corruptRow
            }
            return FieldContext(table: table, recordID: recordID, field: field, extra: extra)
        default: throw SQLiteRecordStoreError.corruptRow
        }
    }

    /// Saves `position` (one committed statement).
    public func save(_ position: FieldContext) async throws {
        let binds: [SQLiteData] = [
            .text(job), .text(position.table), .text(position.recordID), .text(position.field),
            position.extra.map { .text($0) } ?? .null,
        ]
        _ = try await database.exclusive { connection in
            try await connection.query(
                "INSERT INTO phiguard_reencryption_checkpoints (job, position_table, record_id, field, extra) "
                    + "VALUES (?, ?, ?, ?, ?) ON CONFLICT (job) DO UPDATE SET position_table = excluded.position_table, "
                    + "record_id = excluded.record_id, field = excluded.field, extra = excluded.extra",
                binds)
        }
    }
}
