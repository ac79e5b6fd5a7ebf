import NIOCore
import SQLiteNIO

/// ``AttackStorage`` over an SQLite file, on a connection of its own.
///
/// ```swift
/// let storage = try await SQLiteAttackStorage.open(
///     path: databasePath, layout: .phiguard(records: ["chart": chartTable]))
/// defer { Task { try? await storage.close() } }
/// ```
public final class SQLiteAttackStorage: AttackStorage {
    /// Where things are.
    public let layout: AttackStorageLayout
    /// The file, its `-wal` and its `-shm`.
    public let filesAtRest: [String]
    private let connection: SQLiteConnection

    private init(connection: SQLiteConnection, path: String, layout: AttackStorageLayout) {
        self.connection = connection
        self.layout = layout
        self.filesAtRest = [path, path + "-wal", path + "-shm"]
    }

    /// Opens a connection to the existing file at `path` (waiting up to 5 s for the app's locks).
    public static func open(path: String, layout: AttackStorageLayout) async throws -> SQLiteAttackStorage {
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        do {
            _ = try await connection.query("PRAGMA busy_timeout = 5000", [])
        } catch {
            try? await connection.close()
            throw error
        }
        return SQLiteAttackStorage(connection: connection, path: path, layout: layout)
    }

    /// Closes the connection.
    public func close() async throws { try await connection.close() }

    /// `?`.
    public func placeholder(_ index: Int) -> String { "?" }

    /// Runs one statement.
    public func execute(_ sql: String, _ binds: [AttackSQLValue]) async throws -> [[String: AttackSQLValue]] {
        let data: [SQLiteData] = binds.map { value in
            switch value {
            case .null: .null
            case .integer(let integer): .integer(Int(integer))
            case .text(let text): .text(text)
            case .blob(let bytes): .blob(ByteBuffer(bytes: bytes))
            }
        }
        return try await connection.query(sql, data).map { row in
            var values: [String: AttackSQLValue] = [:]
            for column in row.columns {
                values[column.name] =
                    switch column.data {
                    case .null: .null
                    case .integer(let integer): .integer(Int64(integer))
                    case .float(let double): .text(String(double))
                    case .text(let text): .text(text)
                    case .blob(let buffer): .blob(Array(buffer.readableBytesView))
                    }
            }
            return values
        }
    }
}
