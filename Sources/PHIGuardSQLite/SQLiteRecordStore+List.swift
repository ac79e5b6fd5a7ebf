internal import NIOCore
package import PHIGuardRecords
internal import SQLiteNIO

extension SQLiteRecordStore: SQLRecordStore {
    /// SQLite.
    package var sqlDialect: SQLDialect { .sqlite }

    /// Runs a statement the plan translator or `GuardedRecords` wrote, with its bound values.
    package func rows(_ statement: SQLStatement) async throws -> [[SQLValue]] {
        let binds = statement.parameters.map { value -> SQLiteData in
            switch value {
            case .null: .null
            case .text(let text): .text(text)
            case .bytes(let bytes): .blob(ByteBuffer(bytes: bytes))
            case .integer(let number): .integer(Int(number))
            }
        }
        let rows = try await database.exclusive { connection in try await connection.query(statement.text, binds) }
        return try rows.map { row in
            try row.columns.map { column throws(SQLiteRecordStoreError) -> SQLValue in
                switch column.data {
                case .null: .null
                case .text(let text): .text(text)
                case .blob(let buffer): .bytes(Array(buffer.readableBytesView))
                case .integer(let number): .integer(Int64(number))
                case .float: throw .corruptRow
                }
            }
        }
    }
}

extension SQLiteRecordStore {
    /// Puts `patientID` on the care team of `subjectID` in the care-team table (no-op if present).
    /// Throws `SQLiteRecordStoreError.unknownColumn` when the store has no care-team table.
    public func addCareTeamMember(subjectID: String, patientID: String) async throws {
        guard let team = careTeamTable else { throw SQLiteRecordStoreError.unknownColumn }
        _ = try await rows(
            SQLStatement(
                text: "INSERT INTO \(team.table) (\(team.subjectColumn), \(team.patientColumn)) VALUES (?, ?) "
                    + "ON CONFLICT DO NOTHING",
                parameters: [.text(subjectID), .text(patientID)]))
    }

    /// Takes `patientID` off the care team of `subjectID`.
    public func removeCareTeamMember(subjectID: String, patientID: String) async throws {
        guard let team = careTeamTable else { throw SQLiteRecordStoreError.unknownColumn }
        _ = try await rows(
            SQLStatement(
                text: "DELETE FROM \(team.table) WHERE \(team.subjectColumn) = ? AND \(team.patientColumn) = ?",
                parameters: [.text(subjectID), .text(patientID)]))
    }
}
