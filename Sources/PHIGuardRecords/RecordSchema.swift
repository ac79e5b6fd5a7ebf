public import PHIGuardFieldEncryption

/// How one field of a record is stored.
public enum RecordFieldStorage: Sendable, Hashable {
    /// An encrypted envelope (`FieldEnvelope`, binary form) bound to table, record id and field: a value
    /// copied into another row, field or table does not decrypt. For PHI.
    case encrypted
    /// Clear text, for columns that are not PHI (a status code, a ward). Returned only when the
    /// decision's field set includes the field, like an encrypted one.
    case plain
    /// Clear text that is never returned: its value is the resource attribute of the same name
    /// the policy's `attributes` conditions read (for example `status` for `physician-edits-draft-notes`).
    /// Set when the record is created; never changed by an update.
    case resourceAttribute
    /// Clear text that is never returned: the record's sensitivity labels, separated by spaces, for
    /// `labelsAnyOf` / `labelsNoneOf` conditions. Set when the record is created; never changed by an update.
    case labels
}

/// One field of a record schema: its policy name, its column and how it is stored.
///
/// ```swift
/// let fields: [RecordField] = [
///     .encrypted("demographics", blindIndex: nameIndex),
///     .encrypted("diagnosis-codes", column: "diagnosis_codes"),
///     .plain("ward"),
/// ]
/// ```
public struct RecordField: Sendable {
    /// The field's name in the policy (`fields:` of the resource type), and in ``GuardedRecord``.
    public let name: String
    /// The column holding it (a validated SQL name).
    public let column: String
    /// How it is stored.
    public let storage: RecordFieldStorage
    /// The blind index kept beside an encrypted field (column `<column>_bidx`), if any.
    public let blindIndex: BlindIndex?

    /// An encrypted field. `column` defaults to `name` with `-` replaced by `_`.
    public static func encrypted(_ name: String, column: String? = nil, blindIndex: BlindIndex? = nil) -> RecordField {
        RecordField(name: name, column: column ?? defaultColumn(name), storage: .encrypted, blindIndex: blindIndex)
    }

    /// A clear-text field that is not PHI. `column` defaults to `name` with `-` replaced by `_`.
    public static func plain(_ name: String, column: String? = nil) -> RecordField {
        RecordField(name: name, column: column ?? defaultColumn(name), storage: .plain, blindIndex: nil)
    }

    /// A resource attribute for policy conditions, never returned (see ``RecordFieldStorage/resourceAttribute``).
    public static func resourceAttribute(_ name: String, column: String? = nil) -> RecordField {
        RecordField(name: name, column: column ?? defaultColumn(name), storage: .resourceAttribute, blindIndex: nil)
    }

    /// The record's sensitivity labels, never returned (see ``RecordFieldStorage/labels``).
    public static func labels(column: String = "labels") -> RecordField {
        RecordField(name: "labels", column: column, storage: .labels, blindIndex: nil)
    }

    /// The column of the blind index, when the field has one.
    public var blindIndexColumn: String? { blindIndex == nil ? nil : column + "_bidx" }

    /// Whether a reader may ever see the field (``RecordFieldStorage/encrypted`` or ``RecordFieldStorage/plain``).
    var isReadable: Bool { storage == .encrypted || storage == .plain }

    private static func defaultColumn(_ name: String) -> String {
        String(name.map { $0 == "-" ? "_" : $0 })
    }
}

/// What a schema declaration can get wrong. Names are schema names, never values: safe to log.
public enum RecordSchemaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A table or column name is not `[A-Za-z_][A-Za-z0-9_]{0,62}` (names are interpolated into SQL).
    case invalidSQLName(String)
    /// Two fields have the same name, or two columns the same column name.
    case duplicateName(String)
    /// The schema has no readable field, or more than one labels field.
    case invalidFields(String)
    /// The resource type is not declared in the policy.
    case unknownResourceType(String)
    /// A readable field is not a field of the resource type in the policy.
    case unknownField(String)
    /// A blind index is declared on a field that is not encrypted, or for another table or field.
    case invalidBlindIndex(String)

    /// A fixed text naming the schema element.
    public var description: String {
        switch self {
        case .invalidSQLName(let name): "'\(name)' is not a valid SQL name ([A-Za-z_][A-Za-z0-9_]{0,62})"
        case .duplicateName(let name): "'\(name)' is declared twice in the record schema"
        case .invalidFields(let reason): "invalid record schema fields: \(reason)"
        case .unknownResourceType(let name): "resource type '\(name)' is not declared in the policy"
        case .unknownField(let name): "field '\(name)' is not a field of the resource type in the policy"
        case .invalidBlindIndex(let name): "the blind index on '\(name)' does not fit the field"
        }
    }
}

/// The shape of one kind of record, declared once by the app: which policy resource type it is, where
/// it is stored and how each field is kept.
///
/// Table and column names are checked here, once (`[A-Za-z_][A-Za-z0-9_]{0,62}`): stores interpolate
/// them into SQL, and every value goes in as a bound parameter.
///
/// ```swift
/// let charts = try RecordSchema(
///     resourceType: "chart", table: "charts", recordIDColumn: "id", patientIDColumn: "patient_id",
///     fields: [.encrypted("demographics"), .encrypted("problems"), .plain("ward")])
/// ```
public struct RecordSchema: Sendable {
    /// The resource type in the policy.
    public let resourceType: String
    /// The table.
    public let table: String
    /// The column of the record id (the primary key, and the record id every envelope is bound to).
    public let recordIDColumn: String
    /// The column of the patient id the record belongs to.
    public let patientIDColumn: String
    /// The fields, in declaration order.
    public let fields: [RecordField]
    let fieldIndex: [String: Int]
    /// Whether any field is a resource attribute or the labels (read for every decision).
    let hasDecisionFields: Bool

    /// Declares a schema; throws ``RecordSchemaError`` for a bad name, a duplicate or a misplaced blind index.
    public init(
        resourceType: String, table: String, recordIDColumn: String = "id", patientIDColumn: String = "patient_id",
        fields: [RecordField]
    ) throws(RecordSchemaError) {
        for name in [table, recordIDColumn, patientIDColumn] + fields.map(\.column) {
            guard Self.isValidSQLName(name) else { throw .invalidSQLName(name) }
        }
        var columns: Set<String> = [recordIDColumn.lowercased(), patientIDColumn.lowercased()]
        guard columns.count == 2 else { throw .duplicateName(patientIDColumn) }
        var index: [String: Int] = [:]
        for (position, field) in fields.enumerated() {
            guard !field.name.isEmpty, index.updateValue(position, forKey: field.name) == nil else {
                throw .duplicateName(field.name)
            }
            for column in [field.column] + (field.blindIndexColumn.map { [$0] } ?? []) {
                guard Self.isValidSQLName(column) else { throw .invalidSQLName(column) }
                guard columns.insert(column.lowercased()).inserted else { throw .duplicateName(column) }
            }
            if let blindIndex = field.blindIndex {
                guard field.storage == .encrypted, blindIndex.table == table, blindIndex.field == field.name else {
                    throw .invalidBlindIndex(field.name)
                }
            }
        }
        guard fields.contains(where: \.isReadable) else { throw .invalidFields("no encrypted or plain field") }
        guard fields.filter({ $0.storage == .labels }).count <= 1 else { throw .invalidFields("two labels fields") }
        self.resourceType = resourceType
        self.table = table
        self.recordIDColumn = recordIDColumn
        self.patientIDColumn = patientIDColumn
        self.fields = fields
        self.fieldIndex = index
        self.hasDecisionFields = fields.contains { $0.storage == .resourceAttribute || $0.storage == .labels }
    }

    /// The field named `name`, if declared.
    public func field(named name: String) -> RecordField? { fieldIndex[name].map { fields[$0] } }

    /// Whether `name` is a valid SQL name: `[A-Za-z_][A-Za-z0-9_]{0,62}`.
    public static func isValidSQLName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 63 else { return false }
        func isLetter(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
        return isLetter(first) && bytes.dropFirst().allSatisfy { isLetter($0) || (48...57).contains($0) }
    }
}
