import Foundation
import NIOCore
public import PostgresNIO
import Synchronization

/// ``AttackStorage`` over a PostgreSQL database, on a `PostgresClient` of its own.
///
/// ```swift
/// let storage = PostgresAttackStorage(
///     client: attackerClient, layout: .phiguardPostgres(records: ["chart": chartTable]),
///     dataDirectory: ProcessInfo.processInfo.environment["PHIGUARD_TEST_POSTGRES_DATA"])
/// ```
///
/// Text, integer and null binds are sent untyped (PostgreSQL infers the type from the column, as
/// for a literal), so one statement works for `TEXT`, `BIGINT`, `BOOLEAN` and `TEXT[]` columns;
/// bytes are sent as `bytea`. Read back: integers as ``AttackSQLValue/integer(_:)``, `bytea` as
/// ``AttackSQLValue/blob(_:)``, text as ``AttackSQLValue/text(_:)``, booleans as the text `true` /
/// `false` and text arrays as their literal (`{a,b}`): each binds back into its column unchanged.
///
/// The server's files at rest are scanned only when the test can read the server's data directory
/// (`dataDirectory`: a throwaway server the test started, as `scripts/with-test-postgres.sh` does,
/// exporting it as `PHIGUARD_TEST_POSTGRES_DATA`). Then ``prepareFilesAtRest()`` issues a
/// `CHECKPOINT` (every dirty page written to the relation files; the role needs `pg_checkpoint` or
/// superuser) and looks up the database's directory, and ``filesAtRest`` lists the relation files
/// of this database (`base/<oid>/`) and every WAL segment (`pg_wal/`, 16 MiB each, as many as the
/// server keeps: bounded by `max_wal_size`). Without it ``filesAtRest`` is empty and the
/// data-at-rest scenario is not applicable (scan the rows instead).
public final class PostgresAttackStorage: AttackStorage {
    /// Where things are.
    public let layout: AttackStorageLayout
    /// The server's data directory, if the test may read it.
    public let dataDirectory: String?
    private let client: PostgresClient
    /// `base/<oid>` of this database, once ``prepareFilesAtRest()`` has looked it up.
    private let databaseDirectory = Mutex<String?>(nil)

    /// Storage over `client` (which the caller runs and owns), with `layout`; `dataDirectory` is the
    /// server's data directory, if the test can read it (for the data-at-rest scan).
    public init(client: PostgresClient, layout: AttackStorageLayout, dataDirectory: String? = nil) {
        self.client = client
        self.layout = layout
        self.dataDirectory = dataDirectory
    }

    /// The relation files of this database and the WAL segments, after ``prepareFilesAtRest()``;
    /// empty without a data directory (or before).
    public var filesAtRest: [String] {
        guard let dataDirectory, let database = databaseDirectory.withLock({ $0 }) else { return [] }
        let manager = FileManager.default
        var files: [String] = []
        for folder in [database, dataDirectory + "/pg_wal"] {
            let names = (try? manager.contentsOfDirectory(atPath: folder)) ?? []
            for name in names.sorted() {
                let path = folder + "/" + name
                var isDirectory: ObjCBool = false
                if manager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                    files.append(path)
                }
            }
        }
        return files
    }

    /// With a data directory: `CHECKPOINT`, then this database's directory (`base/<oid>`).
    public func prepareFilesAtRest() async throws {
        guard let dataDirectory else { return }
        _ = try await execute("CHECKPOINT", [])
        let rows = try await execute("SELECT oid::int8 AS oid FROM pg_database WHERE datname = current_database()", [])
        guard case .integer(let oid)? = rows.first?["oid"] else { return }
        databaseDirectory.withLock { $0 = dataDirectory + "/base/\(oid)" }
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
