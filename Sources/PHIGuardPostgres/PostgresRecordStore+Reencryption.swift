public import PHIGuardFieldEncryption
public import PHIGuardRecords

extension PostgresRecordStore {
    /// The encrypted fields of `schemas`' tables as a `ReencryptionSource` (PHIGuardFieldEncryption):
    /// what `ReencryptionJob` walks to move every envelope to a new key after `Keyring.rotated(to:)`.
    /// The PostgreSQL twin of `SQLiteRecordStore.reencryptionSource(schemas:)`, with the same order
    /// and the same compare-and-swap writes.
    ///
    /// ```swift
    /// let source = store.reencryptionSource(schemas: [patients, charts])
    /// let checkpoints = try await PostgresReencryptionCheckpointStore.open(in: store, job: "field-keys")
    /// let job = ReencryptionJob(encryptor: FieldEncryptor(keyring: rotated), source: source, checkpoints: checkpoints)
    /// _ = try await job.run()
    /// ```
    ///
    /// Every schema must be one this store was opened with (its table exists, ``migrate()``). Only
    /// `RecordField.encrypted` columns are visited (blind indexes do not depend on the field key);
    /// `NULL` cells are skipped.
    public func reencryptionSource(schemas: [RecordSchema]) -> PostgresRecordReencryptionSource {
        PostgresRecordReencryptionSource(store: self, schemas: schemas)
    }
}

/// The encrypted cells of some `PostgresRecordStore` tables, in `FieldContext` order (table, record
/// id, field name), with a compare-and-swap replace: a `ReencryptionSource` (PHIGuardFieldEncryption).
///
/// Made by ``PostgresRecordStore/reencryptionSource(schemas:)``. Record ids are compared with
/// `COLLATE "C"` (bytes of UTF-8, whatever the database's collation), which is the order of
/// `FieldContext` for the ids PHIGuard writes (ASCII, or any NFC text); the walk is keyset
/// pagination (`WHERE id > $1 ORDER BY id LIMIT n`), so rows inserted or deleted meanwhile never
/// make it skip or repeat a row it has not passed. Each replacement is one
/// `UPDATE … WHERE id = $2 AND column = $3` statement, committed on its own (autocommit), so a
/// process killed mid-run leaves every cell either as it was or under the new key, never
/// half-written, and a cell the application changed meanwhile is left alone (`replace` is `false`,
/// counted by the job as `changedConcurrently`).
public struct PostgresRecordReencryptionSource: ReencryptionSource {
    struct Table: Sendable {
        let name: String
        let idColumn: String
        /// Encrypted fields sorted by field name: (field name, column).
        let fields: [(name: String, column: String)]
    }

    private let store: PostgresRecordStore
    /// Sorted by table name.
    private let tables: [Table]

    init(store: PostgresRecordStore, schemas: [RecordSchema]) {
        self.store = store
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
            count += try await scalar(
                "SELECT \(counts) FROM \(table.name) WHERE \(table.idColumn) COLLATE \"C\" < $1", position)
            let present = table.fields.filter { $0.name <= position.field }
                .map { "(\($0.column) IS NOT NULL)::int" }
            if !present.isEmpty {
                count += try await scalar(
                    "SELECT \(present.joined(separator: " + ")) FROM \(table.name) WHERE \(table.idColumn) = $1",
                    position)
            }
        }
        return count
    }

    private func scalar(_ sql: String, _ position: FieldContext?) async throws -> Int {
        let binds: [SQLValue] = position.map { [.text($0.recordID)] } ?? []
        let rows = try await store.execute(SQLStatement(text: sql, parameters: binds))
        guard let row = rows.first else { return 0 }
        switch row.first ?? .null {
        case .null: return 0
        case .integer(let value):
            guard let count = Int(exactly: value), count >= 0 else { throw PostgresRecordStoreError.corruptRow }
            return count
        default: throw PostgresRecordStoreError.corruptRow
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
                    + (lowerBound == nil ? "" : " WHERE \(table.idColumn) COLLATE \"C\" \(inclusive ? ">=" : ">") $1")
                    + " ORDER BY \(table.idColumn) COLLATE \"C\" LIMIT \(rowsPerQuery)"
                let binds: [SQLValue] = lowerBound.map { [.text($0)] } ?? []
                let rows = try await store.execute(SQLStatement(text: sql, parameters: binds))
                for row in rows {
                    guard row.count == table.fields.count + 1, case .text(let id) = row[0] else {
                        throw PostgresRecordStoreError.corruptRow
                    }
                    for (index, field) in table.fields.enumerated() {
                        let context = FieldContext(table: table.name, recordID: id, field: field.name)
                        if let position, !(position < context) { continue }
                        switch row[index + 1] {
                        case .null: continue
                        case .bytes(let bytes):
                            // An envelope that does not even parse cannot be moved: fail closed, change nothing.
                            guard let envelope = try? FieldEnvelope(bytes: bytes) else {
                                throw PostgresRecordStoreError.corruptRow
                            }
                            result.append(StoredField(context: context, envelope: envelope))
                            if result.count == limit { return result }
                        default: throw PostgresRecordStoreError.corruptRow
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
        else { throw PostgresRecordStoreError.unknownColumn }
        let rows = try await store.execute(
            SQLStatement(
                text:
                    "UPDATE \(table.name) SET \(column) = $1 WHERE \(table.idColumn) = $2 AND \(column) = $3 RETURNING 1",
                parameters: [.bytes(replacement.bytes), .text(context.recordID), .bytes(expected.bytes)]))
        return rows.count == 1
    }
}

/// A `ReencryptionCheckpointStore` (PHIGuardFieldEncryption) in a row of the PostgreSQL table
/// `phiguard_reencryption_checkpoints`, one row per job name: a `ReencryptionJob` killed mid-run
/// (even `kill -9`) resumes after the last batch it finished. The PostgreSQL twin of
/// `SQLiteReencryptionCheckpointStore`.
///
/// A job's row exists from ``begin()`` until ``finish()``, so ``unfinishedJobs(in:)`` tells an app
/// (any instance sharing the database) that a rotation was interrupted (and which, if the name says
/// so) before it starts another.
public struct PostgresReencryptionCheckpointStore: ReencryptionCheckpointStore {
    /// The job's name (the row's key).
    public let job: String
    private let store: PostgresRecordStore

    static let createStatement = """
        CREATE TABLE IF NOT EXISTS phiguard_reencryption_checkpoints (
            job TEXT PRIMARY KEY NOT NULL, position_table TEXT, record_id TEXT, field TEXT, extra TEXT
        )
        """

    /// The checkpoint of `job` in `store`'s database (the table is made if needed; no row is written yet).
    public static func open(in store: PostgresRecordStore, job: String) async throws(PostgresRecordStoreError)
        -> PostgresReencryptionCheckpointStore
    {
        try await makeTable(store)
        return PostgresReencryptionCheckpointStore(job: job, store: store)
    }

    /// The names of the jobs begun and not finished, sorted (byte order).
    public static func unfinishedJobs(in store: PostgresRecordStore) async throws(PostgresRecordStoreError)
        -> [String]
    {
        try await makeTable(store)
        let rows = try await store.execute(
            SQLStatement(
                text: "SELECT job FROM phiguard_reencryption_checkpoints ORDER BY job COLLATE \"C\"", parameters: []))
        return try rows.map { (row) throws(PostgresRecordStoreError) in
            guard row.count == 1, case .text(let job) = row[0] else { throw .corruptRow }
            return job
        }
    }

    private static func makeTable(_ store: PostgresRecordStore) async throws(PostgresRecordStoreError) {
        _ = try await store.execute(SQLStatement(text: createStatement, parameters: []))
    }

    /// Records that the job has begun (its row, with no position yet); nothing if it already exists.
    public func begin() async throws {
        _ = try await store.execute(
            SQLStatement(
                text: "INSERT INTO phiguard_reencryption_checkpoints (job) VALUES ($1) ON CONFLICT DO NOTHING",
                parameters: [.text(job)]))
    }

    /// Records that the job is done: its row is removed.
    public func finish() async throws {
        _ = try await store.execute(
            SQLStatement(text: "DELETE FROM phiguard_reencryption_checkpoints WHERE job = $1", parameters: [.text(job)])
        )
    }

    /// The position saved last, or `nil` (no row, or begun without a position).
    public func load() async throws -> FieldContext? {
        let rows = try await store.execute(
            SQLStatement(
                text:
                    "SELECT position_table, record_id, field, extra FROM phiguard_reencryption_checkpoints WHERE job = $1",
                parameters: [.text(job)]))
        guard let row = rows.first else { return nil }
        guard row.count == 4 else { throw PostgresRecordStoreError.corruptRow }
        switch (row[0], row[1], row[2]) {
        case (.null, .null, .null): return nil
        case (.text(let table), .text(let recordID), .text(let field)):
            let extra: String?
            switch row[3] {
            case .null: extra = nil
            case .text(let text): extra = text
            default: throw PostgresRecordStoreError.corruptRow
            }
            return FieldContext(table: table, recordID: recordID, field: field, extra: extra)
        default: throw PostgresRecordStoreError.corruptRow
        }
    }

    /// Saves `position` (one committed statement).
    public func save(_ position: FieldContext) async throws {
        let binds: [SQLValue] = [
            .text(job), .text(position.table), .text(position.recordID), .text(position.field),
            position.extra.map { .text($0) } ?? .null,
        ]
        _ = try await store.execute(
            SQLStatement(
                text: "INSERT INTO phiguard_reencryption_checkpoints (job, position_table, record_id, field, extra) "
                    + "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job) DO UPDATE SET position_table = excluded.position_table, "
                    + "record_id = excluded.record_id, field = excluded.field, extra = excluded.extra",
                parameters: binds))
    }
}
