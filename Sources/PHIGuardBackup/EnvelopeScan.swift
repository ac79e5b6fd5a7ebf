internal import Foundation
internal import NIOCore
internal import PHIGuardCrypto
internal import PHIGuardFieldEncryption
public import PHIGuardRecords
internal import SQLiteNIO

/// Says how the envelopes of one column were sealed, so verification can decrypt them: the context
/// is `FieldContext(table: table, recordID: <the row's recordIDColumn>, field: field)`.
///
/// Without a rule a column's envelopes are found by their format marker and checked for structure
/// and for a key the keyring holds (not revoked), but they cannot be authenticated: the context is
/// part of the associated data.
public struct EnvelopeContextRule: Sendable, Hashable {
    /// The SQLite table.
    public var table: String
    /// The column holding envelopes (binary `BLOB` or `phgf:` text).
    public var column: String
    /// The column whose value is the context's record id.
    public var recordIDColumn: String
    /// The context's field name (when ``fieldColumn`` is `nil`).
    public var field: String
    /// The column whose value is the context's field name, for tables with one row per field
    /// (`patient_id, field, value`); `nil`: ``field`` is used.
    public var fieldColumn: String?

    /// A rule for `table.column`, keyed by `recordIDColumn`; `field` defaults to the column's name.
    public init(table: String, column: String, recordIDColumn: String, field: String? = nil) {
        self.table = table
        self.column = column
        self.recordIDColumn = recordIDColumn
        self.field = field ?? column
    }

    /// A rule for `table.column` whose context's field name is the row's `fieldColumn` value.
    public init(table: String, column: String, recordIDColumn: String, fieldColumn: String) {
        self.init(table: table, column: column, recordIDColumn: recordIDColumn)
        self.fieldColumn = fieldColumn
    }

    /// The rules for every encrypted field of a `RecordSchema` as `GuardedRecords` seals them
    /// (context: the schema's table, the record id, the field's name).
    public static func rules(for schema: RecordSchema) -> [EnvelopeContextRule] {
        schema.fields.filter { $0.storage == .encrypted }.map { field in
            EnvelopeContextRule(
                table: schema.table, column: field.column, recordIDColumn: schema.recordIDColumn, field: field.name)
        }
    }
}

/// One envelope that failed verification: where it is (never the record id or a value) and why.
public struct BackupEnvelopeProblem: Sendable, Hashable, CustomStringConvertible {
    /// Why the envelope failed.
    public enum Reason: Sendable, Hashable, CustomStringConvertible {
        /// A `phgf:` text or a ruled column's cell is not a well-formed envelope.
        case malformed
        /// The envelope names a key id the keyring does not hold.
        case unknownKeyID(String)
        /// The envelope names a key id the keyring lists as revoked.
        case revokedKeyID(String)
        /// The envelope did not authenticate under its rule's context.
        case doesNotDecrypt
        /// The rule's record-id (or field-name) column is empty or missing in this row.
        case missingRecordID

        /// A short reason.
        public var description: String {
            switch self {
            case .malformed: "malformed envelope"
            case .unknownKeyID(let id): "unknown key id \(id)"
            case .revokedKeyID(let id): "revoked key id \(id)"
            case .doesNotDecrypt: "does not decrypt"
            case .missingRecordID: "no record id"
            }
        }
    }

    /// The table.
    public let table: String
    /// The column.
    public let column: String
    /// The row's 1-based position in the table scan.
    public let row: Int
    /// Why it failed.
    public let reason: Reason

    /// `table.column row N: reason`.
    public var description: String { "\(table).\(column) row \(row): \(reason)" }
}

/// What the envelope scan found.
public struct BackupEnvelopeSummary: Sendable, Hashable {
    /// Envelopes found (by marker, or in a ruled column).
    public var found = 0
    /// Envelopes decrypted under a rule's context (authenticated).
    public var decrypted = 0
    /// Envelopes without a rule: structure and key id checked, not authenticated.
    public var keyChecked = 0
    /// The failures (at most 100 listed; ``failureCount`` counts all).
    public var problems: [BackupEnvelopeProblem] = []
    /// All failures.
    public var failureCount = 0
}

/// One cell of a scanned row, whichever database it came from.
enum EnvelopeCell {
    case text(String)
    case blob([UInt8])
    case integer(Int64)
    case null
    case other
}

/// Checks the cells of one row for field envelopes: the same checks for an SQLite snapshot and a
/// PostgreSQL database.
struct EnvelopeInspector {
    let encryptor: FieldEncryptor
    private let loaded: Set<String>
    private let revoked: Set<String>
    private let rules: [EnvelopeContextRule]

    init(keyring: Keyring, rules: [EnvelopeContextRule]) {
        encryptor = FieldEncryptor(keyring: keyring)
        loaded = Set(keyring.keys.map(\.id))
        revoked = Set(keyring.revokedKeyIDs)
        self.rules = rules
    }

    /// The rules of `table`, by column.
    func rules(for table: String) -> [String: EnvelopeContextRule] {
        Dictionary(rules.filter { $0.table == table }.map { ($0.column, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Checks row `number` of `table` (its cells by column name) into `local`.
    func inspect(
        table: String, row number: Int, cells: [(name: String, value: EnvelopeCell)],
        rules tableRules: [String: EnvelopeContextRule], into local: inout BackupEnvelopeSummary
    ) {
        func problem(_ column: String, _ reason: BackupEnvelopeProblem.Reason) {
            local.add(BackupEnvelopeProblem(table: table, column: column, row: number, reason: reason))
        }
        func cell(_ name: String) -> EnvelopeCell { cells.first { $0.name == name }?.value ?? .null }
        for (column, value) in cells {
            let rule = tableRules[column]
            let envelope: FieldEnvelope?
            switch value {
            case .text(let text) where text.hasPrefix(FieldEnvelope.textPrefix):
                envelope = try? FieldEnvelope(text: text)
                if envelope == nil {
                    problem(column, .malformed)
                    continue
                }
            case .blob(let bytes):
                envelope = try? FieldEnvelope(bytes: bytes)
                if envelope == nil, rule != nil {
                    problem(column, .malformed)
                    continue
                }
            case .null:
                envelope = nil
            case .text:
                envelope = nil
                if rule != nil {
                    problem(column, .malformed)
                    continue
                }
            case .integer, .other:
                envelope = nil
                if rule != nil {
                    problem(column, .malformed)
                    continue
                }
            }
            guard let envelope else { continue }
            local.found += 1
            guard loaded.contains(envelope.keyID) else {
                problem(
                    column,
                    revoked.contains(envelope.keyID) ? .revokedKeyID(envelope.keyID) : .unknownKeyID(envelope.keyID))
                continue
            }
            guard let rule else {
                local.keyChecked += 1
                continue
            }
            let recordID: String
            switch cell(rule.recordIDColumn) {
            case .text(let text) where !text.isEmpty: recordID = text
            case .integer(let value): recordID = String(value)
            default:
                problem(column, .missingRecordID)
                continue
            }
            var field = rule.field
            if let fieldColumn = rule.fieldColumn {
                guard case .text(let name) = cell(fieldColumn), !name.isEmpty else {
                    problem(column, .missingRecordID)
                    continue
                }
                field = name
            }
            let context = FieldContext(table: table, recordID: recordID, field: field)
            if var plaintext = try? encryptor.decrypt(envelope, context: context) {
                Sodium.zero(&plaintext)
                local.decrypted += 1
            } else {
                problem(column, .doesNotDecrypt)
            }
        }
    }
}

/// Scans every table of an SQLite file for field envelopes.
enum EnvelopeScan {
    static func scan(
        _ connection: SQLiteConnection, keyring: Keyring, rules: [EnvelopeContextRule]
    ) async throws -> BackupEnvelopeSummary {
        let tables = try await connection.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name", []
        ).compactMap { row -> String? in
            if case .text(let name) = row.column("name") ?? .null { return name }
            return nil
        }
        let inspector = EnvelopeInspector(keyring: keyring, rules: rules)
        let summary = Locked(BackupEnvelopeSummary())
        for table in tables {
            let tableRules = inspector.rules(for: table)
            let counter = Locked(0)
            try await connection.query("SELECT * FROM \(quoted(table))", []) { row in
                let number = counter.withLock { count in
                    count += 1
                    return count
                }
                var local = BackupEnvelopeSummary()
                let cells = row.columns.map { column -> (name: String, value: EnvelopeCell) in
                    switch column.data {
                    case .text(let text): (column.name, .text(text))
                    case .blob(let buffer): (column.name, .blob(Array(buffer.readableBytesView)))
                    case .integer(let value): (column.name, .integer(Int64(value)))
                    case .null: (column.name, .null)
                    default: (column.name, .other)
                    }
                }
                inspector.inspect(table: table, row: number, cells: cells, rules: tableRules, into: &local)
                summary.withLock { $0.merge(local) }
            }
        }
        return summary.withLock { $0 }
    }

    /// An SQL identifier in double quotes (embedded quotes doubled).
    static func quoted(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension BackupEnvelopeSummary {
    mutating func add(_ problem: BackupEnvelopeProblem) {
        failureCount += 1
        if problems.count < 100 { problems.append(problem) }
    }

    mutating func merge(_ other: BackupEnvelopeSummary) {
        found += other.found
        decrypted += other.decrypted
        keyChecked += other.keyChecked
        failureCount += other.failureCount
        problems += other.problems.prefix(max(0, 100 - problems.count))
    }
}
