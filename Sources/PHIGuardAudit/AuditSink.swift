/// Where an ``AuditLog`` writes. Implement it for your own storage; PHIGuard ships in-memory,
/// JSON-lines, SQLite (`PHIGuardSQLite`) and PostgreSQL (`PHIGuardPostgres`) sinks.
///
/// Contract (the log relies on it to never lose or duplicate a record):
/// - ``append(_:checkpoints:)`` is atomic: when it returns, every record and checkpoint in the call
///   is durable (by the sink's documented durability policy); when it throws, none is (a sink that
///   cannot know, such as a database whose `COMMIT` reply was lost, must make ``lastRecord()`` tell
///   the truth: the log re-reads it before retrying).
/// - Records are kept in the order appended; nothing is rewritten.
/// - Calls are never concurrent (the log has one writer), but the sink must be `Sendable`.
public protocol AuditSink: Sendable {
    /// Durably appends `records` (consecutive sequence numbers) and the `checkpoints` covering them.
    func append(_ records: [AuditRecord], checkpoints: [AuditCheckpoint]) async throws
    /// The last record stored, or `nil` for an empty log (the log resumes from it).
    func lastRecord() async throws -> AuditRecord?
}

/// A stored log that can be read back in storage order, for verification, export and review.
public protocol AuditRecordSource: Sendable {
    /// Up to `limit` entries starting at storage position `position` (0-based), in storage order.
    /// Fewer than `limit` (or none) means the end.
    func entries(from position: Int, limit: Int) async throws -> [AuditLogEntry]
    /// Every checkpoint the storage holds, in the order written.
    func checkpoints() async throws -> [AuditCheckpoint]
}
