public import Logging
internal import NIOCore
public import PHIGuardAuthentication
internal import SQLiteNIO

/// A `CareTeamStore` in an SQLite file, with every membership row sealed.
///
/// Table `phiguard_care_teams` (`member_id`, `patient_id`, `seal`; the pair is the primary key).
/// `LoginFlow` reads a user's memberships on every request (`LoginFlow(…, careTeams: store)`), so a
/// membership added or removed here, by this process or another, counts from the user's next
/// request. A row whose member or patient was edited without the `RowSealingKey` fails its seal
/// check: ``patients(ofMember:)`` throws `CareTeamStoreError.tampered`, and the flow audits it and
/// grants that request no care-team access.
public final class SQLiteCareTeamStore: CareTeamStore {
    private let database: SQLiteSerialConnection
    private let ownsConnection: Bool
    /// Identifies the connection the store runs on (tests check that stores share one).
    package var connectionIdentity: ObjectIdentifier { ObjectIdentifier(database) }
    private let sealing: RowSealingKey

    private init(database: SQLiteSerialConnection, ownsConnection: Bool = true, sealing: RowSealingKey) {
        self.database = database
        self.ownsConnection = ownsConnection
        self.sealing = sealing
    }

    /// The store in `database`, its table made if needed, sharing the database's one connection with
    /// the other stores built from it. ``close()`` leaves the database open.
    public static func open(in database: SQLiteDatabase, sealingKey: RowSealingKey) async throws(CareTeamStoreError)
        -> SQLiteCareTeamStore
    {
        do { try await database.makeTables(createSchema) } catch { throw Self.mapped(error) }
        return SQLiteCareTeamStore(database: database.connection, ownsConnection: false, sealing: sealingKey)
    }

    /// Opens (creating if needed) the database at `path` and its table. Call ``close()`` when done.
    public static func open(
        path: String, sealingKey: RowSealingKey, busyTimeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "phiguard.care-teams.sqlite")
    ) async throws(CareTeamStoreError) -> SQLiteCareTeamStore {
        do {
            let database = try await SQLiteSerialConnection.open(
                path: path, busyTimeout: busyTimeout, logger: logger, schema: createSchema)
            return SQLiteCareTeamStore(database: database, sealing: sealingKey)
        } catch {
            throw Self.mapped(error)
        }
    }

    /// Closes the database, after the operations already queued.
    public func close() async throws(CareTeamStoreError) {
        guard ownsConnection else { return }
        do { try await database.close() } catch { throw Self.mapped(error) }
    }

    private static func createSchema(_ connection: SQLiteConnection) async throws {
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS phiguard_care_teams (
                member_id TEXT NOT NULL, patient_id TEXT NOT NULL, seal BLOB, PRIMARY KEY (member_id, patient_id))
            """, [])
    }

    /// The patients on whose care teams `memberID` is; throws `CareTeamStoreError.tampered` if any
    /// of the member's rows fails its seal check.
    public func patients(ofMember memberID: String) async throws(CareTeamStoreError) -> Set<String> {
        let rows = try await run { connection in
            try await connection.query(
                "SELECT member_id, patient_id, seal FROM phiguard_care_teams WHERE member_id = ?", [.text(memberID)])
        }
        var patients: Set<String> = []
        for row in rows {
            guard case .text(let member) = row.column("member_id") ?? .null else {
                throw .corruptRecord("member_id")
            }
            guard case .text(let patient) = row.column("patient_id") ?? .null else {
                throw .corruptRecord("patient_id")
            }
            let seal: [UInt8]?
            switch row.column("seal") ?? .null {
            case .blob(let bytes): seal = Array(buffer: bytes)
            case .null: seal = nil
            default: throw .corruptRecord("seal")
            }
            try CareTeamRow.verify(seal, memberID: member, patientID: patient, with: sealing)
            patients.insert(patient)
        }
        return patients
    }

    /// Adds (or re-seals) the membership.
    public func add(memberID: String, patientID: String) async throws(CareTeamStoreError) {
        guard !memberID.isEmpty, !patientID.isEmpty else { throw .emptyIdentifier }
        let seal = CareTeamRow.seal(memberID: memberID, patientID: patientID, with: sealing)
        _ = try await run { connection in
            try await connection.query(
                """
                INSERT INTO phiguard_care_teams (member_id, patient_id, seal) VALUES (?, ?, ?)
                ON CONFLICT (member_id, patient_id) DO UPDATE SET seal = excluded.seal
                """, [.text(memberID), .text(patientID), .blob(ByteBuffer(bytes: seal))])
        }
    }

    /// Removes the membership; returns whether it was stored.
    @discardableResult
    public func remove(memberID: String, patientID: String) async throws(CareTeamStoreError) -> Bool {
        try await run { connection in
            try await connection.query(
                "DELETE FROM phiguard_care_teams WHERE member_id = ? AND patient_id = ? RETURNING 1",
                [.text(memberID), .text(patientID)]
            ).count == 1
        }
    }

    private func run<T>(_ body: (SQLiteConnection) async throws -> T) async throws(CareTeamStoreError) -> T {
        do { return try await database.exclusive(body) } catch { throw Self.mapped(error) }
    }

    private static func mapped(_ error: any Error) -> CareTeamStoreError {
        if let error = error as? CareTeamStoreError { return error }
        return .unavailable(String(describing: type(of: error)))
    }
}
