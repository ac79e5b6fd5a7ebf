internal import PHIGuardCrypto

/// A sink that keeps everything in memory: the embedded default for tests and benchmarks, and
/// a source for ``AuditVerifier``. Not durable.
public final class InMemoryAuditSink: AuditSink, AuditRecordSource {
    private struct Storage {
        var entries: [AuditLogEntry] = []
        var checkpoints: [AuditCheckpoint] = []
        var last: AuditRecord?
    }

    private let storage = Locked(Storage())

    /// An empty sink.
    public init() {}

    /// Appends the records and checkpoints if the last record is still `expectingAfter`, else throws
    /// ``AuditAppendConflict``.
    public func append(_ records: [AuditRecord], checkpoints: [AuditCheckpoint], expectingAfter: AuditRecord?)
        async throws
    {
        try storage.withLock { (storage: inout Storage) throws(AuditAppendConflict) in
            if !records.isEmpty {
                let stored = storage.last.map { (sequence: $0.sequence, chain: $0.chain) }
                guard AuditAppendConflict.tail(stored, matches: expectingAfter) else { throw AuditAppendConflict() }
            }
            for record in records { storage.entries.append(.record(record)) }
            storage.checkpoints.append(contentsOf: checkpoints)
            if let last = records.last { storage.last = last }
        }
    }

    /// The last record appended.
    public func lastRecord() async throws -> AuditRecord? { storage.withLock { $0.last } }

    /// Entries in append order.
    public func entries(from position: Int, limit: Int) async throws -> [AuditLogEntry] {
        storage.withLock { storage in
            guard position >= 0, position < storage.entries.count, limit > 0 else { return [] }
            return Array(storage.entries[position..<min(position + limit, storage.entries.count)])
        }
    }

    /// Checkpoints in append order.
    public func checkpoints() async throws -> [AuditCheckpoint] { storage.withLock { $0.checkpoints } }

    /// A copy of every entry (for tests that tamper with a copy and verify it).
    public var allEntries: [AuditLogEntry] { storage.withLock { $0.entries } }

    /// The number of entries stored.
    public var count: Int { storage.withLock { $0.entries.count } }
}
