public import Foundation
public import Logging
internal import NIOCore
internal import PHIGuardAccess
internal import PHIGuardCrypto
public import PHIGuardRecords
public import PostgresNIO

/// A `BreakGlassStore` in PostgreSQL, shared by every instance: a grant invoked on one instance is
/// honoured (and a revocation seen) on all of them.
///
/// One table (default `phiguard_break_glass`) keyed by grant id, indexed by holder and session and
/// by issue time. The justification is stored as the sealed envelope `EmergencyAccess` made
/// (`BYTEA`; never the text). Dates are `BIGINT` microseconds since 1970; patient ids a `TEXT[]`.
///
/// - **First wins**: revocation and review are one conditional `UPDATE … WHERE … IS NULL`; of
///   several concurrent calls from any instance, the row lock lets exactly one change the row.
/// - **Failures**: database errors (and operations longer than `timeout`) become
///   `BreakGlassStoreError.unavailable` (the error's type name only); a row no writer could have made
///   (a date before 1970 or after 9999, a negative sequence, an unknown purpose) is
///   `BreakGlassStoreError.corruptRecord`, never a crash.
///
/// ```swift
/// let grants = PostgresBreakGlassStore(client: client)   // the app owns and runs the client
/// try await grants.migrate()
/// ```
public final class PostgresBreakGlassStore: BreakGlassStore {
    private let client: PostgresClient
    private let table: String
    private let logger: Logger
    /// How long an operation may take before it fails with `BreakGlassStoreError.unavailable`.
    public let timeout: Duration

    /// A store on `client` in table `table` (1–40 of `a–z 0–9 _`, starting with a letter; any other
    /// name is a programming error and traps).
    public init(
        client: PostgresClient, table: String = "phiguard_break_glass", timeout: Duration = .seconds(2),
        logger: Logger = Logger(label: "phiguard.break-glass.postgres")
    ) {
        precondition(isValidTableName(table), "table name must be 1-40 of a-z 0-9 _ starting with a letter")
        self.client = client
        self.table = table
        self.logger = logger
        self.timeout = timeout
    }

    /// Creates the table and its indexes if they do not exist.
    public func migrate() async throws(BreakGlassStoreError) {
        let statements = [
            """
            CREATE TABLE IF NOT EXISTS \(table) (
                id TEXT PRIMARY KEY, subject_id TEXT NOT NULL, session_handle TEXT NOT NULL,
                session_authenticated_at BIGINT NOT NULL, patient_ids TEXT[] NOT NULL, purpose TEXT NOT NULL,
                justification BYTEA NOT NULL, issued_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
                audit_sequence BIGINT NOT NULL, revoked_at BIGINT, revoked_by TEXT, reviewer_id TEXT,
                review_outcome TEXT, reviewed_at BIGINT)
            """,
            "CREATE INDEX IF NOT EXISTS \(table)_holder ON \(table) (subject_id, session_handle)",
            "CREATE INDEX IF NOT EXISTS \(table)_issued ON \(table) (issued_at, id)",
        ]
        try await run { [client, logger] in
            for statement in statements {
                try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
    }

    // MARK: BreakGlassStore

    /// Stores a new grant; `BreakGlassStoreError.duplicate` if its id is taken.
    public func insert(_ record: BreakGlassRecord) async throws(BreakGlassStoreError) {
        try record.validate()
        var binds = PostgresBindings(capacity: 15)
        binds.append(record.id)
        binds.append(record.subjectID)
        binds.append(record.sessionHandle)
        binds.append(record.sessionAuthenticatedAt.microsecondsSince1970)
        binds.append(record.patientIDs)
        binds.append(record.purpose.rawValue)
        binds.append(ByteBuffer(bytes: record.sealedJustification))
        binds.append(record.issuedAt.microsecondsSince1970)
        binds.append(record.expiresAt.microsecondsSince1970)
        binds.append(Int64(record.auditSequence))
        binds.append(record.revocation?.revokedAt.microsecondsSince1970)
        binds.append(record.revocation?.revokedBy)
        binds.append(record.review?.reviewerID)
        binds.append(record.review?.outcome)
        binds.append(record.review?.reviewedAt.microsecondsSince1970)
        let parameters = (1...15).map { "$\($0)" }.joined(separator: ", ")
        let query = PostgresQuery(
            unsafeSQL:
                "INSERT INTO \(table) (\(Self.columns)) VALUES (\(parameters)) ON CONFLICT DO NOTHING RETURNING 1",
            binds: binds)
        let inserted = try await run { [client, logger] in
            try await client.query(query, logger: logger).collect().count == 1
        }
        guard inserted else { throw .duplicate }
    }

    /// The grant with `id`, if stored.
    public func grant(id: String) async throws(BreakGlassStoreError) -> BreakGlassRecord? {
        try await records("SELECT \(unescaped: Self.columns) FROM \(unescaped: table) WHERE id = \(id)").first
    }

    /// The grants of `subjectID` in `sessionHandle` in force at `now`, oldest first.
    public func activeGrants(subjectID: String, sessionHandle: String, at now: Date) async throws(BreakGlassStoreError)
        -> [BreakGlassRecord]
    {
        let at = now.microsecondsSince1970
        return try await records(
            """
            SELECT \(unescaped: Self.columns) FROM \(unescaped: table)
            WHERE subject_id = \(subjectID) AND session_handle = \(sessionHandle) AND issued_at <= \(at)
            AND expires_at > \(at) AND (revoked_at IS NULL OR revoked_at > \(at))
            ORDER BY issued_at, id COLLATE "C"
            """)
    }

    /// Revokes grant `id` (one conditional update: the first revocation wins).
    public func revoke(id: String, at date: Date, by revokerID: String) async throws(BreakGlassStoreError) -> Bool {
        let query: PostgresQuery = """
            UPDATE \(unescaped: table) SET revoked_at = \(date.microsecondsSince1970), revoked_by = \(revokerID)
            WHERE id = \(id) AND revoked_at IS NULL RETURNING 1
            """
        return try await run { [client, logger] in
            try await client.query(query, logger: logger).collect().count == 1
        }
    }

    /// Grants issued at or after `since`, oldest first.
    public func grants(issuedSince since: Date, includeReviewed: Bool, limit: Int) async throws(BreakGlassStoreError)
        -> [BreakGlassRecord]
    {
        try await records(
            """
            SELECT \(unescaped: Self.columns) FROM \(unescaped: table)
            WHERE issued_at >= \(since.microsecondsSince1970) AND (\(includeReviewed) OR reviewed_at IS NULL)
            ORDER BY issued_at, id COLLATE "C" LIMIT \(Int64(max(0, limit)))
            """)
    }

    /// Records the review of grant `id` (one conditional update: the first review wins).
    public func markReviewed(id: String, review: BreakGlassReviewMark) async throws(BreakGlassStoreError) -> Bool {
        let query: PostgresQuery = """
            UPDATE \(unescaped: table) SET reviewer_id = \(review.reviewerID), review_outcome = \(review.outcome),
            reviewed_at = \(review.reviewedAt.microsecondsSince1970) WHERE id = \(id) AND reviewed_at IS NULL
            RETURNING 1
            """
        return try await run { [client, logger] in
            try await client.query(query, logger: logger).collect().count == 1
        }
    }

    // MARK: Rows

    private static let columns = """
        id, subject_id, session_handle, session_authenticated_at, patient_ids, purpose, justification, \
        issued_at, expires_at, audit_sequence, revoked_at, revoked_by, reviewer_id, review_outcome, reviewed_at
        """

    private func records(_ query: PostgresQuery) async throws(BreakGlassStoreError) -> [BreakGlassRecord] {
        let rows = try await run { [client, logger] in
            try await client.query(query, logger: logger).collect()
        }
        return try rows.map { row throws(BreakGlassStoreError) in try Self.record(row.makeRandomAccess()) }
    }

    /// Reads a row selected with ``columns``; every stored integer is range-checked.
    private static func record(_ row: PostgresRandomAccessRow) throws(BreakGlassStoreError) -> BreakGlassRecord {
        func value<T: PostgresDecodable>(_ name: String, _ type: T.Type) throws(BreakGlassStoreError) -> T {
            do { return try row[name].decode(T.self) } catch { throw .corruptRecord(name) }
        }
        func time(_ name: String) throws(BreakGlassStoreError) -> Date {
            try BreakGlassRecord.storedDate(microseconds: try value(name, Int64.self), column: name)
        }
        func optionalTime(_ name: String) throws(BreakGlassStoreError) -> Date? {
            guard let micros = try value(name, Int64?.self) else { return nil }
            return try BreakGlassRecord.storedDate(microseconds: micros, column: name)
        }
        guard let purpose = BreakGlassReason.Category(rawValue: try value("purpose", String.self)) else {
            throw .corruptRecord("purpose")
        }
        var revocation: BreakGlassRevocation?
        switch (try optionalTime("revoked_at"), try value("revoked_by", String?.self)) {
        case (nil, nil): break
        case (let at?, let by?): revocation = BreakGlassRevocation(revokedAt: at, revokedBy: by)
        default: throw .corruptRecord("revoked_at")
        }
        var review: BreakGlassReviewMark?
        switch (
            try value("reviewer_id", String?.self), try value("review_outcome", String?.self),
            try optionalTime("reviewed_at")
        ) {
        case (nil, nil, nil): break
        case (let reviewer?, let outcome?, let at?):
            review = BreakGlassReviewMark(reviewerID: reviewer, outcome: outcome, reviewedAt: at)
        default: throw .corruptRecord("reviewed_at")
        }
        let record = BreakGlassRecord(
            id: try value("id", String.self), subjectID: try value("subject_id", String.self),
            sessionHandle: try value("session_handle", String.self),
            sessionAuthenticatedAt: try time("session_authenticated_at"),
            patientIDs: try value("patient_ids", [String].self), purpose: purpose,
            sealedJustification: Array(buffer: try value("justification", ByteBuffer.self)),
            issuedAt: try time("issued_at"), expiresAt: try time("expires_at"),
            auditSequence: try BreakGlassRecord.storedSequence(
                try value("audit_sequence", Int64.self), column: "audit_sequence"),
            revocation: revocation, review: review)
        do {
            try record.validate()
        } catch {
            if case .invalidRecord(let field) = error { throw .corruptRecord(field) }
            throw error
        }
        return record
    }

    /// Runs `body`, or fails once `timeout` has passed; maps every failure to a
    /// `BreakGlassStoreError` that names an error type only (server messages can quote values).
    private func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T)
        async throws(BreakGlassStoreError) -> T
    {
        do {
            return try await withDeadline(timeout, body)
        } catch let error as BreakGlassStoreError {
            throw error
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == PostgresError.Code.uniqueViolation.raw {
            throw .duplicate
        } catch {
            throw .unavailable(String(describing: type(of: error)))
        }
    }
}
