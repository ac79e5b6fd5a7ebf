public import Foundation
public import PHIGuardAccess
internal import PHIGuardCrypto

/// A break-glass grant as a ``BreakGlassStore`` keeps it: the grant's bindings, its justification
/// sealed (a `PHIGuardFieldEncryption` envelope bound to table ``EmergencyAccess/encryptionTable``,
/// the grant id and field `justification`), the sequence of its `break-glass.invoked` audit record,
/// and what happened to it since (revocation, review).
///
/// Stores never see the justification in clear; ``EmergencyAccess`` seals and opens it.
public struct BreakGlassRecord: Sendable, Hashable, CustomStringConvertible {
    /// `BreakGlassGrant/id`.
    public var id: String
    /// `BreakGlassGrant/subjectID`.
    public var subjectID: String
    /// `BreakGlassGrant/sessionHandle`.
    public var sessionHandle: String
    /// `BreakGlassGrant/sessionAuthenticatedAt`.
    public var sessionAuthenticatedAt: Date
    /// `BreakGlassScope/patientIDs`.
    public var patientIDs: [String]
    /// `BreakGlassReason/category`.
    public var purpose: BreakGlassReason.Category
    /// The justification's encrypted envelope.
    public var sealedJustification: [UInt8]
    /// `BreakGlassGrant/issuedAt`.
    public var issuedAt: Date
    /// `BreakGlassGrant/expiresAt`.
    public var expiresAt: Date
    /// The sequence number of the grant's `break-glass.invoked` audit record.
    public var auditSequence: UInt64
    /// The revocation, if any.
    public var revocation: BreakGlassRevocation?
    /// The review, if any.
    public var review: BreakGlassReviewMark?

    /// A record with every field given.
    public init(
        id: String, subjectID: String, sessionHandle: String, sessionAuthenticatedAt: Date, patientIDs: [String],
        purpose: BreakGlassReason.Category, sealedJustification: [UInt8], issuedAt: Date, expiresAt: Date,
        auditSequence: UInt64, revocation: BreakGlassRevocation? = nil, review: BreakGlassReviewMark? = nil
    ) {
        self.id = id
        self.subjectID = subjectID
        self.sessionHandle = sessionHandle
        self.sessionAuthenticatedAt = sessionAuthenticatedAt
        self.patientIDs = patientIDs
        self.purpose = purpose
        self.sealedJustification = sealedJustification
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.auditSequence = auditSequence
        self.revocation = revocation
        self.review = review
    }

    /// Whether it is in force at `date` (not revoked, `issuedAt <= date < expiresAt`).
    public func isActive(at date: Date) -> Bool {
        if let revocation, revocation.revokedAt <= date { return false }
        return issuedAt <= date && date < expiresAt
    }

    /// The id and purpose only.
    public var description: String { "BreakGlassRecord(\(id), \(purpose.rawValue))" }

    /// The latest date a store accepts (the last microsecond of year 9999); earlier than 1970 is refused too.
    public static let latestDate = Date(timeIntervalSince1970: 253_402_300_799.999_999)

    /// Checks what a store writes: ids of 1–128 bytes, 1–`BreakGlassScope/maximumCount` patients,
    /// a non-empty sealed justification, dates from 1970 to ``latestDate`` with `issuedAt < expiresAt`,
    /// and a sequence a signed 64-bit column holds. Throws ``BreakGlassStoreError/invalidRecord(_:)``
    /// naming the field.
    public func validate() throws(BreakGlassStoreError) {
        func identifier(_ value: String, _ name: String) throws(BreakGlassStoreError) {
            guard (1...128).contains(value.utf8.count) else { throw .invalidRecord(name) }
        }
        func date(_ value: Date, _ name: String) throws(BreakGlassStoreError) {
            guard value.timeIntervalSince1970 >= 0, value <= Self.latestDate else { throw .invalidRecord(name) }
        }
        try identifier(id, "id")
        try identifier(subjectID, "subject_id")
        try identifier(sessionHandle, "session_handle")
        guard BreakGlassScope(patients: patientIDs).isValid, Set(patientIDs).count == patientIDs.count else {
            throw .invalidRecord("patient_ids")
        }
        for patient in patientIDs { try identifier(patient, "patient_ids") }
        guard !sealedJustification.isEmpty, sealedJustification.count <= 65_536 else {
            throw .invalidRecord("justification")
        }
        try date(sessionAuthenticatedAt, "session_authenticated_at")
        try date(issuedAt, "issued_at")
        try date(expiresAt, "expires_at")
        guard issuedAt < expiresAt else { throw .invalidRecord("expires_at") }
        guard auditSequence <= UInt64(Int64.max) else { throw .invalidRecord("audit_sequence") }
        if let revocation {
            try date(revocation.revokedAt, "revoked_at")
            try identifier(revocation.revokedBy, "revoked_by")
        }
        if let review {
            try date(review.reviewedAt, "reviewed_at")
            try identifier(review.reviewerID, "reviewer_id")
            try identifier(review.outcome, "review_outcome")
        }
    }

    /// A stored microsecond count as a date, or ``BreakGlassStoreError/corruptRecord(_:)`` naming
    /// `column` when no writer could have stored it (before 1970, after ``latestDate``).
    public static func storedDate(microseconds: Int64, column: String) throws(BreakGlassStoreError) -> Date {
        guard microseconds >= 0, microseconds <= 253_402_300_799_999_999 else { throw .corruptRecord(column) }
        let (seconds, fraction) = microseconds.quotientAndRemainder(dividingBy: 1_000_000)
        return Date(timeIntervalSince1970: TimeInterval(seconds) + TimeInterval(fraction) / 1_000_000)
    }

    /// A stored sequence number, or ``BreakGlassStoreError/corruptRecord(_:)`` when negative.
    public static func storedSequence(_ value: Int64, column: String) throws(BreakGlassStoreError) -> UInt64 {
        guard let sequence = UInt64(exactly: value) else { throw .corruptRecord(column) }
        return sequence
    }
}

/// Who revoked a grant, and when.
public struct BreakGlassRevocation: Sendable, Hashable {
    /// When.
    public var revokedAt: Date
    /// The user id of whoever revoked it (the holder, or a reviewer), or
    /// `EmergencyAccess.expiryRecorder` when `EmergencyAccess.recordExpiries(issuedSince:)` recorded
    /// the grant's expiry (then `revokedAt` is the expiry time).
    public var revokedBy: String

    /// A revocation.
    public init(revokedAt: Date, revokedBy: String) {
        self.revokedAt = revokedAt
        self.revokedBy = revokedBy
    }
}

/// The review of a grant: who, what they concluded, when.
public struct BreakGlassReviewMark: Sendable, Hashable {
    /// The reviewer's user id.
    public var reviewerID: String
    /// A review code such as `justified`, `not-justified` or `escalated` (an audit identifier).
    public var outcome: String
    /// When.
    public var reviewedAt: Date

    /// A review.
    public init(reviewerID: String, outcome: String, reviewedAt: Date) {
        self.reviewerID = reviewerID
        self.outcome = outcome
        self.reviewedAt = reviewedAt
    }
}

/// Where break-glass grants live, so that they survive a restart and are shared by every instance:
/// ``InMemoryBreakGlassStore`` (one process, tests), `SQLiteBreakGlassStore` (`PHIGuardSQLite`) and
/// `PostgresBreakGlassStore` (`PHIGuardPostgres`). Apps use it through ``EmergencyAccess``.
///
/// Contract (checked by `BreakGlassStoreConformance` in `PHIGuardTesting`): records read back
/// exactly (dates to the microsecond); ``revoke(id:at:by:)`` and ``markReviewed(id:review:)`` are
/// first-wins across connections and instances (exactly one of several concurrent calls returns
/// `true`); stored values no writer could have made are ``BreakGlassStoreError/corruptRecord(_:)``,
/// never a crash.
public protocol BreakGlassStore: Sendable {
    /// Stores a new grant (after ``BreakGlassRecord/validate()``); ``BreakGlassStoreError/duplicate``
    /// if its id is taken.
    func insert(_ record: BreakGlassRecord) async throws(BreakGlassStoreError)
    /// The grant with `id`, if stored (revoked, expired and reviewed ones included).
    func grant(id: String) async throws(BreakGlassStoreError) -> BreakGlassRecord?
    /// The grants of `subjectID` in session `sessionHandle` in force at `now` (not revoked, issued,
    /// not expired), oldest first.
    func activeGrants(subjectID: String, sessionHandle: String, at now: Date) async throws(BreakGlassStoreError)
        -> [BreakGlassRecord]
    /// Revokes grant `id`; `true` if this call revoked it, `false` if it is unknown or was already revoked.
    func revoke(id: String, at date: Date, by revokerID: String) async throws(BreakGlassStoreError) -> Bool
    /// Up to `limit` grants issued at or after `since`, oldest first (ties by id); only unreviewed
    /// ones unless `includeReviewed`.
    func grants(issuedSince since: Date, includeReviewed: Bool, limit: Int) async throws(BreakGlassStoreError)
        -> [BreakGlassRecord]
    /// Records the review of grant `id`; `true` if this call recorded it, `false` if the grant is
    /// unknown or already reviewed (the first review stands).
    func markReviewed(id: String, review: BreakGlassReviewMark) async throws(BreakGlassStoreError) -> Bool
}

/// A break-glass store failure. Messages name the failure and at most a column, never an id,
/// patient or justification.
public enum BreakGlassStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The backend could not be reached or failed; the payload is the underlying error's type name.
    case unavailable(String)
    /// A grant with the same id is already stored.
    case duplicate
    /// A record to store is invalid (the payload names the field).
    case invalidRecord(String)
    /// A stored row could not be read back as a grant (the payload names the column).
    case corruptRecord(String)

    /// A description without identifiers.
    public var description: String {
        switch self {
        case .unavailable(let type): "break-glass store unavailable (\(type))"
        case .duplicate: "break-glass grant already stored"
        case .invalidRecord(let field): "break-glass grant invalid (field \(field))"
        case .corruptRecord(let column): "stored break-glass grant unreadable (column \(column))"
        }
    }
}

/// A ``BreakGlassStore`` in process memory: grants end with the process (tests, single-process demos).
public final class InMemoryBreakGlassStore: BreakGlassStore {
    private let records = Locked<[String: BreakGlassRecord]>([:])

    /// An empty store.
    public init() {}

    /// Stores a new grant; ``BreakGlassStoreError/duplicate`` if its id is taken.
    public func insert(_ record: BreakGlassRecord) async throws(BreakGlassStoreError) {
        try record.validate()
        let inserted = records.withLock { records in
            guard records[record.id] == nil else { return false }
            records[record.id] = record
            return true
        }
        guard inserted else { throw .duplicate }
    }

    /// The grant with `id`, if stored.
    public func grant(id: String) async throws(BreakGlassStoreError) -> BreakGlassRecord? {
        records.withLock { $0[id] }
    }

    /// The grants of `subjectID` in `sessionHandle` in force at `now`, oldest first.
    public func activeGrants(subjectID: String, sessionHandle: String, at now: Date) async throws(BreakGlassStoreError)
        -> [BreakGlassRecord]
    {
        records.withLock { records in
            records.values.filter {
                $0.subjectID == subjectID && $0.sessionHandle == sessionHandle && $0.isActive(at: now)
            }
        }.sorted(by: Self.order)
    }

    /// Revokes grant `id` (first revocation wins).
    public func revoke(id: String, at date: Date, by revokerID: String) async throws(BreakGlassStoreError) -> Bool {
        let revocation = BreakGlassRevocation(revokedAt: date, revokedBy: revokerID)
        return records.withLock { records in
            guard var record = records[id], record.revocation == nil else { return false }
            record.revocation = revocation
            records[id] = record
            return true
        }
    }

    /// Grants issued at or after `since`, oldest first.
    public func grants(issuedSince since: Date, includeReviewed: Bool, limit: Int) async throws(BreakGlassStoreError)
        -> [BreakGlassRecord]
    {
        let matching = records.withLock { records in
            records.values.filter { $0.issuedAt >= since && (includeReviewed || $0.review == nil) }
        }
        return Array(matching.sorted(by: Self.order).prefix(max(0, limit)))
    }

    /// Records the review of grant `id` (first review wins).
    public func markReviewed(id: String, review: BreakGlassReviewMark) async throws(BreakGlassStoreError) -> Bool {
        records.withLock { records in
            guard var record = records[id], record.review == nil else { return false }
            record.review = review
            records[id] = record
            return true
        }
    }

    private static func order(_ lhs: BreakGlassRecord, _ rhs: BreakGlassRecord) -> Bool {
        (lhs.issuedAt, lhs.id) < (rhs.issuedAt, rhs.id)
    }
}
