public import Foundation
public import Logging
internal import NIOCore
internal import PHIGuardAccess
internal import PHIGuardCrypto
public import PHIGuardRecords
internal import SQLiteNIO

/// A `BreakGlassStore` in an SQLite file: break-glass grants survive a restart, on one host.
///
/// Table `phiguard_break_glass`, keyed by grant id, indexed by holder and session and by issue
/// time. The justification is stored as the sealed envelope `EmergencyAccess` made (a `BLOB`; never
/// the text). Dates are `INTEGER` microseconds since 1970; patient ids a JSON array.
///
/// - **Durable**: WAL mode with `synchronous=FULL`.
/// - **First wins**: revocation and review are one conditional `UPDATE … WHERE … IS NULL`, so of
///   several concurrent calls (any connection or process) exactly one changes the row.
/// - **Failures**: database errors become `BreakGlassStoreError.unavailable` (the error's type name
///   only); a row no writer could have made (a date before 1970 or after 9999, a negative sequence,
///   an unknown purpose, a malformed patient list) is `BreakGlassStoreError.corruptRecord`, never a crash.
///
/// ```swift
/// let grants = try await SQLiteBreakGlassStore.open(path: "/var/lib/portal/break-glass.sqlite")
/// let emergency = EmergencyAccess(engine: engine, store: grants, encryptor: encryptor, audit: log,
///                                 reviewerRoles: ["privacy-officer"])
/// ```
public final class SQLiteBreakGlassStore: BreakGlassStore {
    private let database: SQLiteSerialConnection
    private let ownsConnection: Bool
    /// Identifies the connection the store runs on (tests check that stores share one).
    package var connectionIdentity: ObjectIdentifier { ObjectIdentifier(database) }

    private init(database: SQLiteSerialConnection, ownsConnection: Bool = true) {
        self.database = database
        self.ownsConnection = ownsConnection
    }

    /// The store in `database`, its table made if needed, sharing the database's one connection with
    /// the other stores built from it. ``close()`` leaves the database open.
    public static func open(in database: SQLiteDatabase) async throws(BreakGlassStoreError) -> SQLiteBreakGlassStore {
        do { try await database.makeTables(createSchema) } catch { throw Self.mapped(error) }
        return SQLiteBreakGlassStore(database: database.connection, ownsConnection: false)
    }

    /// Opens (creating if needed) the database at `path` and its table. Call ``close()`` when done.
    public static func open(
        path: String, busyTimeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "phiguard.break-glass.sqlite")
    ) async throws(BreakGlassStoreError) -> SQLiteBreakGlassStore {
        try await open(path: Optional(path), busyTimeout: busyTimeout, logger: logger)
    }

    /// Opens a private in-memory database (for tests): grants end with the store.
    public static func inMemory() async throws(BreakGlassStoreError) -> SQLiteBreakGlassStore {
        try await open(path: nil, busyTimeout: .seconds(5), logger: Logger(label: "phiguard.break-glass.sqlite"))
    }

    private static func open(path: String?, busyTimeout: Duration, logger: Logger)
        async throws(BreakGlassStoreError) -> SQLiteBreakGlassStore
    {
        do {
            let database = try await SQLiteSerialConnection.open(
                path: path, busyTimeout: busyTimeout, logger: logger, schema: createSchema)
            return SQLiteBreakGlassStore(database: database)
        } catch {
            throw Self.mapped(error)
        }
    }

    /// Closes the database, after the operations already queued. The store must not be used afterwards.
    public func close() async throws(BreakGlassStoreError) {
        guard ownsConnection else { return }
        do { try await database.close() } catch { throw Self.mapped(error) }
    }

    private static func createSchema(_ connection: SQLiteConnection) async throws {
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS phiguard_break_glass (
                id TEXT PRIMARY KEY NOT NULL, subject_id TEXT NOT NULL, session_handle TEXT NOT NULL,
                session_authenticated_at INTEGER NOT NULL, patient_ids TEXT NOT NULL, purpose TEXT NOT NULL,
                justification BLOB NOT NULL, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
                audit_sequence INTEGER NOT NULL, revoked_at INTEGER, revoked_by TEXT, reviewer_id TEXT,
                review_outcome TEXT, reviewed_at INTEGER)
            """, [])
        _ = try await connection.query(
            """
            CREATE INDEX IF NOT EXISTS phiguard_break_glass_holder
            ON phiguard_break_glass(subject_id, session_handle)
            """, [])
        _ = try await connection.query(
            "CREATE INDEX IF NOT EXISTS phiguard_break_glass_issued ON phiguard_break_glass(issued_at, id)", [])
    }

    // MARK: BreakGlassStore

    /// Stores a new grant; `BreakGlassStoreError.duplicate` if its id is taken.
    public func insert(_ record: BreakGlassRecord) async throws(BreakGlassStoreError) {
        try record.validate()
        let binds = try Self.binds(record)
        let inserted = try await run { connection in
            try await connection.query(
                "INSERT INTO phiguard_break_glass (\(Self.columns)) VALUES "
                    + "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1", binds
            ).count == 1
        }
        guard inserted else { throw .duplicate }
    }

    /// The grant with `id`, if stored.
    public func grant(id: String) async throws(BreakGlassStoreError) -> BreakGlassRecord? {
        try await records("SELECT \(Self.columns) FROM phiguard_break_glass WHERE id = ?", [.text(id)]).first
    }

    /// The grants of `subjectID` in `sessionHandle` in force at `now`, oldest first.
    public func activeGrants(subjectID: String, sessionHandle: String, at now: Date) async throws(BreakGlassStoreError)
        -> [BreakGlassRecord]
    {
        let at = Self.integer(now)
        return try await records(
            """
            SELECT \(Self.columns) FROM phiguard_break_glass WHERE subject_id = ? AND session_handle = ?
            AND issued_at <= ? AND expires_at > ? AND (revoked_at IS NULL OR revoked_at > ?)
            ORDER BY issued_at, id
            """, [.text(subjectID), .text(sessionHandle), at, at, at])
    }

    /// Revokes grant `id` (one conditional update: the first revocation wins).
    public func revoke(id: String, at date: Date, by revokerID: String) async throws(BreakGlassStoreError) -> Bool {
        try await run { connection in
            try await connection.query(
                """
                UPDATE phiguard_break_glass SET revoked_at = ?, revoked_by = ?
                WHERE id = ? AND revoked_at IS NULL RETURNING 1
                """, [Self.integer(date), .text(revokerID), .text(id)]
            ).count == 1
        }
    }

    /// Grants issued at or after `since`, oldest first.
    public func grants(issuedSince since: Date, includeReviewed: Bool, limit: Int) async throws(BreakGlassStoreError)
        -> [BreakGlassRecord]
    {
        try await records(
            """
            SELECT \(Self.columns) FROM phiguard_break_glass WHERE issued_at >= ? AND (? OR reviewed_at IS NULL)
            ORDER BY issued_at, id LIMIT ?
            """, [Self.integer(since), .integer(includeReviewed ? 1 : 0), .integer(SQLiteInt64(max(0, limit)))])
    }

    /// Records the review of grant `id` (one conditional update: the first review wins).
    public func markReviewed(id: String, review: BreakGlassReviewMark) async throws(BreakGlassStoreError) -> Bool {
        try await run { connection in
            try await connection.query(
                """
                UPDATE phiguard_break_glass SET reviewer_id = ?, review_outcome = ?, reviewed_at = ?
                WHERE id = ? AND reviewed_at IS NULL RETURNING 1
                """, [.text(review.reviewerID), .text(review.outcome), Self.integer(review.reviewedAt), .text(id)]
            ).count == 1
        }
    }

    // MARK: Rows

    private static let columns = """
        id, subject_id, session_handle, session_authenticated_at, patient_ids, purpose, justification, \
        issued_at, expires_at, audit_sequence, revoked_at, revoked_by, reviewer_id, review_outcome, reviewed_at
        """

    private func records(_ sql: String, _ binds: [SQLiteData]) async throws(BreakGlassStoreError)
        -> [BreakGlassRecord]
    {
        let rows = try await run { connection in try await connection.query(sql, binds) }
        return try rows.map(Self.record)
    }

    /// Runs `body` with the connection, mapping failures to `BreakGlassStoreError`.
    private func run<T>(_ body: (SQLiteConnection) async throws -> T) async throws(BreakGlassStoreError) -> T {
        do { return try await database.exclusive(body) } catch { throw Self.mapped(error) }
    }

    /// A store error for `error`, naming its type only (SQLite messages can quote values).
    private static func mapped(_ error: any Error) -> BreakGlassStoreError {
        if let error = error as? BreakGlassStoreError { return error }
        return .unavailable(String(describing: type(of: error)))
    }

    private static func text(_ value: String?) -> SQLiteData { value.map { .text($0) } ?? .null }
    private static func integer(_ date: Date) -> SQLiteData { .integer(SQLiteInt64(date.microsecondsSince1970)) }
    private static func integer(_ date: Date?) -> SQLiteData { date.map(integer) ?? .null }

    private static func binds(_ record: BreakGlassRecord) throws(BreakGlassStoreError) -> [SQLiteData] {
        let patients: String
        do {
            patients = String(decoding: try JSONEncoder().encode(record.patientIDs), as: UTF8.self)
        } catch {
            throw .unavailable(String(describing: type(of: error)))
        }
        return [
            .text(record.id), .text(record.subjectID), .text(record.sessionHandle),
            integer(record.sessionAuthenticatedAt), .text(patients), .text(record.purpose.rawValue),
            .blob(ByteBuffer(bytes: record.sealedJustification)), integer(record.issuedAt), integer(record.expiresAt),
            .integer(SQLiteInt64(record.auditSequence)), integer(record.revocation?.revokedAt),
            text(record.revocation?.revokedBy), text(record.review?.reviewerID), text(record.review?.outcome),
            integer(record.review?.reviewedAt),
        ]
    }

    /// Reads a row selected with ``columns``; every stored integer is range-checked.
    private static func record(_ row: SQLiteRow) throws(BreakGlassStoreError) -> BreakGlassRecord {
        func cell(_ name: String) -> SQLiteData { row.column(name) ?? .null }
        func text(_ name: String) throws(BreakGlassStoreError) -> String {
            guard case .text(let value) = cell(name) else { throw .corruptRecord(name) }
            return value
        }
        func optionalText(_ name: String) throws(BreakGlassStoreError) -> String? {
            switch cell(name) {
            case .text(let value): return value
            case .null: return nil
            default: throw .corruptRecord(name)
            }
        }
        func time(_ name: String) throws(BreakGlassStoreError) -> Date {
            guard case .integer(let value) = cell(name) else { throw .corruptRecord(name) }
            return try BreakGlassRecord.storedDate(microseconds: Int64(value), column: name)
        }
        func optionalTime(_ name: String) throws(BreakGlassStoreError) -> Date? {
            switch cell(name) {
            case .integer(let value): return try BreakGlassRecord.storedDate(microseconds: Int64(value), column: name)
            case .null: return nil
            default: throw .corruptRecord(name)
            }
        }
        guard let patients = try? JSONDecoder().decode([String].self, from: Data(try text("patient_ids").utf8)) else {
            throw .corruptRecord("patient_ids")
        }
        guard let purpose = BreakGlassReason.Category(rawValue: try text("purpose")) else {
            throw .corruptRecord("purpose")
        }
        guard case .blob(let sealed) = cell("justification") else { throw .corruptRecord("justification") }
        guard case .integer(let sequence) = cell("audit_sequence") else { throw .corruptRecord("audit_sequence") }
        var revocation: BreakGlassRevocation?
        switch (try optionalTime("revoked_at"), try optionalText("revoked_by")) {
        case (nil, nil): break
        case (let at?, let by?): revocation = BreakGlassRevocation(revokedAt: at, revokedBy: by)
        default: throw .corruptRecord("revoked_at")
        }
        var review: BreakGlassReviewMark?
        switch (try optionalText("reviewer_id"), try optionalText("review_outcome"), try optionalTime("reviewed_at")) {
        case (nil, nil, nil): break
        case (let reviewer?, let outcome?, let at?):
            review = BreakGlassReviewMark(reviewerID: reviewer, outcome: outcome, reviewedAt: at)
        default: throw .corruptRecord("reviewed_at")
        }
        let record = BreakGlassRecord(
            id: try text("id"), subjectID: try text("subject_id"), sessionHandle: try text("session_handle"),
            sessionAuthenticatedAt: try time("session_authenticated_at"), patientIDs: patients, purpose: purpose,
            sealedJustification: Array(buffer: sealed), issuedAt: try time("issued_at"),
            expiresAt: try time("expires_at"),
            auditSequence: try BreakGlassRecord.storedSequence(Int64(sequence), column: "audit_sequence"),
            revocation: revocation, review: review)
        do {
            try record.validate()
        } catch {
            if case .invalidRecord(let field) = error { throw .corruptRecord(field) }
            throw error
        }
        return record
    }
}
