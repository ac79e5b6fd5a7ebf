import Foundation

/// A value bound into, or read from, an SQL statement of ``AttackStorage``.
public enum AttackSQLValue: Sendable, Hashable {
    /// SQL `NULL`.
    case null
    /// An integer.
    case integer(Int64)
    /// Text.
    case text(String)
    /// Bytes (`BLOB` / `bytea`).
    case blob([UInt8])
}

/// Raw SQL access to the app's database, for the scenarios that tamper with rows (a session's roles
/// and patient link, an envelope moved between rows or columns, audit rows edited, deleted,
/// reordered or truncated) or scan the bytes at rest.
///
/// PHIGuard supplies ``SQLiteAttackStorage`` for an SQLite file. Give the suite a connection of its
/// own (not the one your stores share): the suite writes behind your app's back, as an attacker with
/// database access would.
public protocol AttackStorage: Sendable {
    /// Where things are: PHIGuard's own tables and the app's record tables.
    var layout: AttackStorageLayout { get }
    /// The files the database keeps on disk (the main file, its WAL and shared-memory files), or
    /// empty for a server database the test cannot read the files of. Read after
    /// ``prepareFilesAtRest()``.
    var filesAtRest: [String] { get }
    /// Brings what the database holds to its files before they are scanned (PostgreSQL: a
    /// `CHECKPOINT`, and which database directory is this one). Nothing by default.
    func prepareFilesAtRest() async throws
    /// The placeholder of bind number `index` (1-based): `?` for SQLite, `$1` for PostgreSQL.
    func placeholder(_ index: Int) -> String
    /// Runs one statement with `binds`; the rows it returns (column name → value).
    func execute(_ sql: String, _ binds: [AttackSQLValue]) async throws -> [[String: AttackSQLValue]]
    /// The value of `roles` as the session table's roles column stores it (a JSON array by default,
    /// as `SQLiteSessionStore` stores it; a `TEXT[]` literal on PostgreSQL). A value the store cannot
    /// read back would be refused as a corrupt row, whatever the row's seal: write a well-formed one.
    func rolesValue(_ roles: [String]) -> AttackSQLValue
}

/// The names of the tables and columns the scenarios tamper with.
///
/// ``phiguard(records:)`` names the tables of PHIGuard's own SQLite stores (`SQLiteSessionStore`,
/// `SQLiteAuditSink`, `SQLiteRecordStore`), ``phiguardPostgres(records:)`` those of their PostgreSQL
/// twins; an app with its own tables describes them here.
public struct AttackStorageLayout: Sendable, Hashable {
    /// The table of session rows.
    public var sessionTable: String
    /// Its column of roles (see ``AttackStorage/rolesValue(_:)``).
    public var sessionRolesColumn: String
    /// Its column of the linked patient id.
    public var sessionPatientColumn: String
    /// The table of audit records.
    public var auditTable: String
    /// Its column of the chain sequence number (unique, ascending).
    public var auditSequenceColumn: String
    /// Its other columns that an edit changes (a text column such as the actor).
    public var auditEditableColumn: String
    /// The table of stored audit checkpoints, if any.
    public var auditCheckpointTable: String?
    /// The sequence column of the checkpoint table.
    public var auditCheckpointSequenceColumn: String
    /// Record tables by record type.
    public var recordTables: [String: AttackRecordTable]

    /// A layout.
    public init(
        sessionTable: String, sessionRolesColumn: String, sessionPatientColumn: String, auditTable: String,
        auditSequenceColumn: String, auditEditableColumn: String, auditCheckpointTable: String?,
        auditCheckpointSequenceColumn: String, recordTables: [String: AttackRecordTable]
    ) {
        self.sessionTable = sessionTable
        self.sessionRolesColumn = sessionRolesColumn
        self.sessionPatientColumn = sessionPatientColumn
        self.auditTable = auditTable
        self.auditSequenceColumn = auditSequenceColumn
        self.auditEditableColumn = auditEditableColumn
        self.auditCheckpointTable = auditCheckpointTable
        self.auditCheckpointSequenceColumn = auditCheckpointSequenceColumn
        self.recordTables = recordTables
    }

    /// PHIGuard's own stores: `phiguard_sessions` (`roles`, `patient_id`), `audit_records`
    /// (`sequence`, `actor_id`), `audit_checkpoints` (`sequence`), and the record tables given.
    public static func phiguard(records: [String: AttackRecordTable]) -> AttackStorageLayout {
        AttackStorageLayout(
            sessionTable: "phiguard_sessions", sessionRolesColumn: "roles", sessionPatientColumn: "patient_id",
            auditTable: "audit_records", auditSequenceColumn: "sequence", auditEditableColumn: "actor_id",
            auditCheckpointTable: "audit_checkpoints", auditCheckpointSequenceColumn: "sequence",
            recordTables: records)
    }
}

/// Where the records of one type live.
public struct AttackRecordTable: Sendable, Hashable {
    /// The table.
    public var table: String
    /// The column of the record id.
    public var idColumn: String
    /// Columns holding encrypted envelopes (at least two for the column-swap attempt).
    public var encryptedColumns: [String]

    /// A record table. For a PHIGuard `RecordSchema`, `table` is `schema.table`, `idColumn`
    /// `schema.recordIDColumn` and the columns those of its encrypted fields.
    public init(table: String, idColumn: String, encryptedColumns: [String]) {
        self.table = table
        self.idColumn = idColumn
        self.encryptedColumns = encryptedColumns
    }
}

extension AttackStorage {
    /// Nothing: the files are complete as they are (SQLite writes through on commit).
    public func prepareFilesAtRest() async throws {}

    /// A JSON array of strings (`SQLiteSessionStore`'s roles column).
    public func rolesValue(_ roles: [String]) -> AttackSQLValue {
        let encoded = (try? JSONEncoder().encode(roles)).map { String(decoding: $0, as: UTF8.self) }
        return .text(encoded ?? "[]")
    }

    /// Runs a statement and returns the first column of its first row, if any.
    func scalar(_ sql: String, _ binds: [AttackSQLValue] = []) async throws -> AttackSQLValue? {
        try await execute(sql, binds).first.flatMap { row in row.values.first }
    }

    /// The placeholders `1...count`, comma-separated.
    func placeholders(_ count: Int, from first: Int = 1) -> String {
        (first..<(first + count)).map(placeholder).joined(separator: ", ")
    }
}
