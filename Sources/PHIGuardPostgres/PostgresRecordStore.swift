public import Logging
internal import NIOCore
public import PHIGuardRecords
public import PostgresNIO

/// A `RecordStore` (PHIGuardRecords) in PostgreSQL: one table per `RecordSchema`, shared by every
/// portal instance, and the SQL store `GuardedRecords.list` and `count` run their plans on.
///
/// Each table has the record id column as `TEXT PRIMARY KEY`, the patient id `TEXT NOT NULL` (indexed),
/// encrypted fields as `BYTEA` envelopes, plain fields, resource attributes and labels as `TEXT`, and
/// for each blind-indexed field a `BYTEA` column `<column>_bidx` (indexed). Names come from the schema,
/// where they were validated; every value is a bound parameter (`$1`, `$2`, …).
///
/// - **Atomic writes**: one statement each (`INSERT … ON CONFLICT DO NOTHING RETURNING 1`,
///   `UPDATE … WHERE id = $n AND patient_id = $m RETURNING 1`).
/// - **Care teams**: with `careTeams`, ``migrate()`` also creates that table, and list queries filter
///   `careTeam` conditions with a subquery over it.
/// - **Failures**: errors reach `GuardedRecords` as `RecordError.storeUnavailable`, naming the error
///   type only; an operation slower than `timeout` fails.
///
/// ```swift
/// let store = PostgresRecordStore(client: client, schemas: [charts], careTeams: try CareTeamTable(table: "care_team"))
/// try await store.migrate()
/// let records = try GuardedRecords(schema: charts, store: store, engine: engine, encryptor: encryptor, audit: log)
/// ```
public final class PostgresRecordStore: RecordStore {
    private let client: PostgresClient
    private let schemas: [RecordSchema]
    private let logger: Logger
    /// The care-team table list queries use for `careTeam` conditions.
    public let careTeamTable: CareTeamTable?
    /// How long an operation may take before it fails.
    public let timeout: Duration

    /// A store on `client` for `schemas` (tables are made by ``migrate()``).
    public init(
        client: PostgresClient, schemas: [RecordSchema], careTeams: CareTeamTable? = nil,
        timeout: Duration = .seconds(5), logger: Logger = Logger(label: "phiguard.records.postgres")
    ) {
        self.client = client
        self.schemas = schemas
        self.careTeamTable = careTeams
        self.timeout = timeout
        self.logger = logger
    }

    /// Creates the tables and indexes (and the care-team table) if they do not exist.
    public func migrate() async throws(PostgresRecordStoreError) {
        var statements: [String] = []
        for schema in schemas {
            var columns = [
                "\(schema.recordIDColumn) TEXT PRIMARY KEY NOT NULL", "\(schema.patientIDColumn) TEXT NOT NULL",
            ]
            statements.append(
                "CREATE INDEX IF NOT EXISTS \(schema.table)_\(schema.patientIDColumn)_idx "
                    + "ON \(schema.table)(\(schema.patientIDColumn))")
            for field in schema.fields {
                columns.append("\(field.column) \(field.storage == .encrypted ? "BYTEA" : "TEXT")")
                if let indexColumn = field.blindIndexColumn {
                    columns.append("\(indexColumn) BYTEA")
                    statements.append(
                        "CREATE INDEX IF NOT EXISTS \(schema.table)_\(indexColumn)_idx ON \(schema.table)(\(indexColumn))"
                    )
                }
            }
            statements.insert("CREATE TABLE IF NOT EXISTS \(schema.table) (\(columns.joined(separator: ", ")))", at: 0)
        }
        statements += careTeamTable?.createStatements ?? []
        for statement in statements {
            _ = try await execute(SQLStatement(text: statement, parameters: []))
        }
    }

    /// Puts `patientID` on the care team of `subjectID` (no-op if present).
    public func addCareTeamMember(subjectID: String, patientID: String) async throws(PostgresRecordStoreError) {
        guard let team = careTeamTable else { throw .unknownColumn }
        _ = try await execute(
            SQLStatement(
                text: "INSERT INTO \(team.table) (\(team.subjectColumn), \(team.patientColumn)) VALUES ($1, $2) "
                    + "ON CONFLICT DO NOTHING",
                parameters: [.text(subjectID), .text(patientID)]))
    }

    /// Takes `patientID` off the care team of `subjectID`.
    public func removeCareTeamMember(subjectID: String, patientID: String) async throws(PostgresRecordStoreError) {
        guard let team = careTeamTable else { throw .unknownColumn }
        _ = try await execute(
            SQLStatement(
                text: "DELETE FROM \(team.table) WHERE \(team.subjectColumn) = $1 AND \(team.patientColumn) = $2",
                parameters: [.text(subjectID), .text(patientID)]))
    }

    // MARK: RecordStore

    /// The row, if any.
    public func fetch(_ id: String, schema: RecordSchema) async throws -> StoredRecord? {
        let names = Self.valueColumns(schema)
        let rows = try await execute(
            SQLStatement(
                text: "SELECT \(([schema.recordIDColumn, schema.patientIDColumn] + names).joined(separator: ", ")) "
                    + "FROM \(schema.table) WHERE \(schema.recordIDColumn) = $1",
                parameters: [.text(id)]))
        guard let row = rows.first else { return nil }
        guard row.count == names.count + 2, case .text(let storedID) = row[0], case .text(let patientID) = row[1] else {
            throw PostgresRecordStoreError.corruptRow
        }
        var columns: [String: StoredValue] = [:]
        for (index, name) in names.enumerated() {
            switch row[index + 2] {
            case .null: continue
            case .bytes(let bytes): columns[name] = .bytes(bytes)
            case .text(let text): columns[name] = .text(text)
            case .integer: throw PostgresRecordStoreError.corruptRow
            }
        }
        return StoredRecord(id: storedID, patientID: patientID, columns: columns)
    }

    /// Inserts the row; `false` if the id is taken.
    public func insert(_ record: StoredRecord, schema: RecordSchema) async throws -> Bool {
        let names = record.columns.keys.sorted()
        try Self.check(names, schema)
        let all = [schema.recordIDColumn, schema.patientIDColumn] + names
        let placeholders = (1...all.count).map { "$\($0)" }.joined(separator: ", ")
        let rows = try await execute(
            SQLStatement(
                text: "INSERT INTO \(schema.table) (\(all.joined(separator: ", "))) VALUES (\(placeholders)) "
                    + "ON CONFLICT DO NOTHING RETURNING 1",
                parameters: [.text(record.id), .text(record.patientID)] + names.map { Self.value(record.columns[$0]) }))
        return rows.count == 1
    }

    /// Sets the columns in one statement, only if the row still belongs to `patientID`.
    public func update(_ id: String, patientID: String, columns: [String: StoredValue], schema: RecordSchema)
        async throws -> Bool
    {
        let names = columns.keys.sorted()
        try Self.check(names, schema)
        guard !names.isEmpty else { return try await fetch(id, schema: schema)?.patientID == patientID }
        let assignments = names.enumerated().map { "\($1) = $\($0 + 1)" }.joined(separator: ", ")
        let rows = try await execute(
            SQLStatement(
                text: "UPDATE \(schema.table) SET \(assignments) WHERE \(schema.recordIDColumn) = $\(names.count + 1) "
                    + "AND \(schema.patientIDColumn) = $\(names.count + 2) RETURNING 1",
                parameters: names.map { Self.value(columns[$0]) } + [.text(id), .text(patientID)]))
        return rows.count == 1
    }

    /// Deletes the row if it still belongs to `patientID`.
    public func delete(_ id: String, patientID: String, schema: RecordSchema) async throws -> Bool {
        let rows = try await execute(
            SQLStatement(
                text:
                    "DELETE FROM \(schema.table) WHERE \(schema.recordIDColumn) = $1 AND \(schema.patientIDColumn) = $2 "
                    + "RETURNING 1",
                parameters: [.text(id), .text(patientID)]))
        return rows.count == 1
    }

    // MARK: Statements

    private static func valueColumns(_ schema: RecordSchema) -> [String] {
        schema.fields.flatMap { [$0.column] + ($0.blindIndexColumn.map { [$0] } ?? []) }
    }

    private static func check(_ names: [String], _ schema: RecordSchema) throws {
        let known = Set(valueColumns(schema))
        guard names.allSatisfy(known.contains) else { throw PostgresRecordStoreError.unknownColumn }
    }

    private static func value(_ stored: StoredValue?) -> SQLValue {
        switch stored {
        case nil: .null
        case .bytes(let bytes): .bytes(bytes)
        case .text(let text): .text(text)
        }
    }

    /// Runs `statement` with its bound values; cells as text, bytes, integers (any integer width,
    /// booleans as 0/1) or `NULL`.
    func execute(_ statement: SQLStatement) async throws(PostgresRecordStoreError) -> [[SQLValue]] {
        var binds = PostgresBindings(capacity: statement.parameters.count)
        for parameter in statement.parameters {
            switch parameter {
            case .null: binds.appendNull()
            case .text(let text): binds.append(text)
            case .bytes(let bytes): binds.append(ByteBuffer(bytes: bytes))
            case .integer(let number): binds.append(number)
            }
        }
        let query = PostgresQuery(unsafeSQL: statement.text, binds: binds)
        let rows: [PostgresRow]
        do {
            rows = try await withDeadline(timeout) { [client, logger] in
                try await client.query(query, logger: logger).collect()
            }
        } catch {
            throw .unavailable(String(describing: type(of: error)))
        }
        var result: [[SQLValue]] = []
        result.reserveCapacity(rows.count)
        for row in rows {
            var cells: [SQLValue] = []
            for cell in row {
                cells.append(try Self.cell(cell))
            }
            result.append(cells)
        }
        return result
    }

    private static func cell(_ cell: PostgresCell) throws(PostgresRecordStoreError) -> SQLValue {
        guard cell.bytes != nil else { return .null }
        do {
            switch cell.dataType {
            case .text, .varchar, .name, .bpchar: return .text(try cell.decode(String.self))
            case .bytea: return .bytes(Array(buffer: try cell.decode(ByteBuffer.self)))
            case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
            case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
            default: throw PostgresRecordStoreError.corruptRow
            }
        } catch {
            throw .corruptRow
        }
    }
}

extension PostgresRecordStore: SQLRecordStore {
    /// PostgreSQL.
    package var sqlDialect: SQLDialect { .postgres }

    /// Runs a statement the plan translator or `GuardedRecords` wrote.
    package func rows(_ statement: SQLStatement) async throws -> [[SQLValue]] {
        try await execute(statement)
    }
}

/// Why the PostgreSQL record store failed. No case carries a value or a server message.
public enum PostgresRecordStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The server could not be reached or refused the statement, or it timed out (the error type only).
    case unavailable(String)
    /// A stored row has cells of the wrong type.
    case corruptRow
    /// A write named a column the schema does not declare, or a care-team call without a care-team table.
    case unknownColumn

    /// A fixed text.
    public var description: String {
        switch self {
        case .unavailable(let type): "PostgreSQL record store unavailable (\(type))"
        case .corruptRow: "a stored record row has cells of the wrong type"
        case .unknownColumn: "a write named a column the schema does not declare"
        }
    }
}
