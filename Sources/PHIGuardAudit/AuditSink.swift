/// Where an ``AuditLog`` writes. Implement it for your own storage; PHIGuard ships in-memory,
/// JSON-lines, SQLite (`PHIGuardSQLite`) and PostgreSQL (`PHIGuardPostgres`) sinks.
///
/// Contract (the log relies on it to never lose a record and to keep one chain with many writers):
/// - ``append(_:checkpoints:expectingAfter:)`` is a compare-and-append: it stores the batch only if
///   the record stored last is still `expectingAfter` (same sequence number and chain value; `nil`:
///   the log must be empty), checked and written in one transaction under a lock that other
///   writers (other processes, other servers) also take. Otherwise it stores nothing and throws
///   ``AuditAppendConflict``; the log then re-reads ``lastRecord()``, re-chains its pending events
///   on top and tries again. A batch with no records (checkpoints only) is not compared.
/// - It is atomic: when it returns, every record and checkpoint in the call is durable (by the
///   sink's documented durability policy); when it throws, none is (a sink that cannot know, such
///   as a database whose `COMMIT` reply was lost, must make ``lastRecord()`` tell the truth: the log
///   re-reads it before retrying, and drops what it finds already stored there).
/// - Records are kept in the order appended; nothing is rewritten. A sink should also refuse a
///   second record with the same sequence number (a unique index), as a second line of defence.
/// - One ``AuditLog`` never calls it concurrently, but several logs (in one process or many) may
///   share the storage, and the sink must be `Sendable`.
public protocol AuditSink: Sendable {
    /// Durably appends `records` (consecutive sequence numbers, the first one after `expectingAfter`)
    /// and the `checkpoints` covering them, if the stored tail is still `expectingAfter`; throws
    /// ``AuditAppendConflict`` (storing nothing) if another writer appended first.
    func append(_ records: [AuditRecord], checkpoints: [AuditCheckpoint], expectingAfter: AuditRecord?) async throws
    /// The last record stored, or `nil` for an empty log (the log resumes from it).
    func lastRecord() async throws -> AuditRecord?
}

/// Thrown by ``AuditSink/append(_:checkpoints:expectingAfter:)`` when the stored tail is not the
/// expected one: another writer appended first. Nothing was stored; the log re-chains and retries.
public struct AuditAppendConflict: Error, Sendable, Hashable, CustomStringConvertible {
    /// A conflict.
    public init() {}

    /// A fixed text.
    public var description: String { "another writer appended to the audit log first" }

    /// Whether a stored tail `stored` is the tail `expected` (both `nil`, or the same sequence
    /// number and chain value). Sinks use it for the compare in compare-and-append.
    public static func tail(_ stored: (sequence: UInt64, chain: [UInt8])?, matches expected: AuditRecord?) -> Bool {
        switch (stored, expected) {
        case (nil, nil): true
        case (let stored?, let expected?): stored.sequence == expected.sequence && stored.chain == expected.chain
        default: false
        }
    }
}

/// A stored log that can be read back in storage order, for verification, export and review.
public protocol AuditRecordSource: Sendable {
    /// Up to `limit` entries starting at storage position `position` (0-based), in storage order.
    /// Fewer than `limit` (or none) means the end.
    func entries(from position: Int, limit: Int) async throws -> [AuditLogEntry]
    /// Every checkpoint the storage holds, in the order written.
    func checkpoints() async throws -> [AuditCheckpoint]
}
