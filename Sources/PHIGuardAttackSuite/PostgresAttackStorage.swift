import Foundation
import NIOCore
public import PostgresNIO

/// ``AttackStorage`` over a PostgreSQL database, on a `PostgresClient` of its own.
///
/// ```swift
/// let storage = PostgresAttackStorage(client: attackerClient, layout: .phiguardPostgres(records: ["chart": chartTable]))
/// ```
///
/// Text, integer and null binds are sent untyped (PostgreSQL infers the type from the column, as
/// for a literal), so one statement works for `TEXT`, `BIGINT`, `BOOLEAN` and `TEXT[]` columns;
/// bytes are sent as `bytea`. Read back: integers as ``AttackSQLValue/integer(_:)``, `bytea` as
/// ``AttackSQLValue/blob(_:)``, text as ``AttackSQLValue/text(_:)``, booleans as the text `true` /
/// `false` and text arrays as their literal (`{a,b}`): each binds back into its column unchanged.
/// The server's files are not readable from a test, so ``filesAtRest`` is empty (the data-at-rest
/// scenario is not applicable; scan the rows instead).
public final class PostgresAttackStorage: AttackStorage {
    /// Where things are.
    public let layout: AttackStorageLayout
    /// Empty: the server's files are not the test's to read.
    public var filesAtRest: [String] { [] }
    private let client: PostgresClient

    /// Storage over `client` (which the caller runs and owns), with `layout`.
    public init(client: PostgresClient, layout: AttackStorageLayout) {
        self.client = client
        self.layout = layout
    }

    /// `$index`.
    public func placeholder(_ index: Int) -> String { "$\(index)" }

    /// A text array literal (`{"a","b"}`): the session store's roles column is `TEXT[]`.
    public func rolesValue(_ roles: [String]) -> AttackSQLValue {
        let quoted = roles.map { role in
            "\"" + role.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return .text("{" + quoted.joined(separator: ",") + "}")
    }

    /// Runs one statement.
    public func execute(_ sql: String, _ binds: [AttackSQLValue]) async throws -> [[String: AttackSQLValue]] {
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            switch value {
            case .null: bindings.appendNull()
            case .integer(let integer): bindings.append(UntypedText(text: String(integer)))
            case .text(let text): bindings.append(UntypedText(text: text))
            case .blob(let bytes): bindings.append(ByteBuffer(bytes: bytes))
            }
        }
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings))
        var result: [[String: AttackSQLValue]] = []
        for try await row in rows {
            var values: [String: AttackSQLValue] = [:]
            for cell in row { values[cell.columnName] = try Self.value(of: cell) }
            result.append(values)
        }
        return result
    }

    private static func value(of cell: PostgresCell) throws -> AttackSQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
        case .bytea: return .blob(Array(try cell.decode(ByteBuffer.self).readableBytesView))
        case .bool: return .text(try cell.decode(Bool.self) ? "true" : "false")
        case .textArray, .varcharArray:
            let elements = try cell.decode([String].self).map { element in
                "\"" + element.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                    + "\""
            }
            return .text("{" + elements.joined(separator: ",") + "}")
        default: return .text(try cell.decode(String.self))
        }
    }
}

/// A bind in text format with no type: the server infers it from where it is used.
private struct UntypedText: PostgresDynamicTypeEncodable {
    let text: String
    var psqlType: PostgresDataType { PostgresDataType(0) }
    var psqlFormat: PostgresFormat { .text }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        byteBuffer.writeString(text)
    }
}

extension AttackStorageLayout {
    /// PHIGuard's PostgreSQL stores with their default table names: `phiguard_sessions` (`roles`,
    /// `patient_id`), `phiguard_audit_records` (`sequence`, `actor_id`), `phiguard_audit_checkpoints`
    /// (`sequence`), and the record tables given.
    public static func phiguardPostgres(records: [String: AttackRecordTable]) -> AttackStorageLayout {
        AttackStorageLayout(
            sessionTable: "phiguard_sessions", sessionRolesColumn: "roles", sessionPatientColumn: "patient_id",
            auditTable: "phiguard_audit_records", auditSequenceColumn: "sequence", auditEditableColumn: "actor_id",
            auditCheckpointTable: "phiguard_audit_checkpoints", auditCheckpointSequenceColumn: "sequence",
            recordTables: records)
    }
}
