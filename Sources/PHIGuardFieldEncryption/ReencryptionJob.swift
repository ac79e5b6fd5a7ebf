/// One stored encrypted field, as a ``ReencryptionSource`` returns it.
public struct StoredField: Sendable, Hashable {
    /// Where the value lives.
    public var context: FieldContext
    /// The stored envelope.
    public var envelope: FieldEnvelope

    /// A stored field at `context` holding `envelope`.
    public init(context: FieldContext, envelope: FieldEnvelope) {
        self.context = context
        self.envelope = envelope
    }
}

/// The rows a ``ReencryptionJob`` walks: anything that can list encrypted fields in a stable order
/// and replace one value conditionally (SQLite, PostgreSQL, or ``InMemoryFieldStore``).
public protocol ReencryptionSource: Sendable {
    /// Up to `limit` stored fields whose contexts come strictly after `position` (`nil`: from the
    /// start), in ascending ``FieldContext`` order.
    func fields(after position: FieldContext?, limit: Int) async throws -> [StoredField]

    /// Replaces the value at `context` with `replacement` only if it is still `expected`
    /// (compare-and-swap, e.g. `UPDATE … SET v = ? WHERE id = ? AND v = ?`). Returns `false` if the
    /// value changed meanwhile (the application wrote it); the job then leaves it alone.
    func replace(at context: FieldContext, expected: FieldEnvelope, with replacement: FieldEnvelope) async throws
        -> Bool
}

/// Where a ``ReencryptionJob`` records how far it got, so a restarted job skips finished rows.
public protocol ReencryptionCheckpointStore: Sendable {
    /// The last position saved, or `nil` to start from the beginning.
    func load() async throws -> FieldContext?
    /// Records that every field up to and including `position` is done.
    func save(_ position: FieldContext) async throws
}

/// A checkpoint kept in memory (tests, or a job that is simply re-run from the start).
public actor InMemoryCheckpointStore: ReencryptionCheckpointStore {
    private var position: FieldContext?

    /// An empty checkpoint.
    public init() {}

    /// The saved position.
    public func load() -> FieldContext? { position }

    /// Saves `position`.
    public func save(_ position: FieldContext) { self.position = position }
}

/// Counts reported by a ``ReencryptionJob`` after each batch and at the end.
public struct ReencryptionProgress: Sendable, Hashable {
    /// Fields examined in this run.
    public var scanned = 0
    /// Fields re-encrypted under the active key, verified and committed.
    public var rewritten = 0
    /// Fields already under the active key (left untouched).
    public var alreadyCurrent = 0
    /// Fields whose value changed between reading and writing (left to the application's write).
    public var changedConcurrently = 0
    /// Fields that could not be decrypted with the keyring (left untouched; see ``unreadable``).
    public var unreadableCount = 0
    /// The contexts of unreadable fields (at most 1,000 are kept).
    public var unreadable: [FieldContext] = []
    /// The last position checkpointed.
    public var position: FieldContext?

    /// Zero counts.
    public init() {}
}

/// Re-encrypts every field of a ``ReencryptionSource`` that is not under the encryptor's active key.
///
/// ```swift
/// let encryptor = FieldEncryptor(keyring: try keyring.rotated(to: newKey))
/// let job = ReencryptionJob(encryptor: encryptor, source: store, checkpoints: checkpointFile)
/// let result = try await job.run { progress in print(progress.scanned) }
/// ```
///
/// Safe to interrupt at any point (cancellation, a crash, `kill -9`) and to run again:
/// - a value is decrypted, re-encrypted, and the new envelope is decrypted again and compared with
///   the plaintext *before* it is written;
/// - it is written with a compare-and-swap against the value read, so a concurrent application
///   write is never overwritten;
/// - a value already under the active key is skipped, so a field is never encrypted twice, whether
///   or not the checkpoint was saved before the interruption.
public struct ReencryptionJob: Sendable {
    /// The encryptor whose active key is the target.
    public let encryptor: FieldEncryptor
    private let source: any ReencryptionSource
    private let checkpoints: any ReencryptionCheckpointStore
    /// Fields read per batch (a checkpoint is saved after each batch).
    public let batchSize: Int

    /// A job moving `source`'s fields to `encryptor`'s active key, `batchSize` (1…100,000) at a time.
    public init(
        encryptor: FieldEncryptor,
        source: any ReencryptionSource,
        checkpoints: any ReencryptionCheckpointStore = InMemoryCheckpointStore(),
        batchSize: Int = 500
    ) {
        self.encryptor = encryptor
        self.source = source
        self.checkpoints = checkpoints
        self.batchSize = min(max(batchSize, 1), 100_000)
    }

    /// Runs from the last checkpoint to the end. Throws what the source or checkpoint store throws,
    /// `CancellationError` if the task is cancelled, or ``FieldEncryptionError/verificationFailed``.
    public func run(progress: @Sendable (ReencryptionProgress) -> Void = { _ in }) async throws
        -> ReencryptionProgress
    {
        var report = ReencryptionProgress()
        report.position = try await checkpoints.load()
        while true {
            try Task.checkCancellation()
            let batch = try await source.fields(after: report.position, limit: batchSize)
            guard let last = batch.last else { break }
            for stored in batch {
                report.scanned += 1
                guard encryptor.needsReencryption(stored.envelope) else {
                    report.alreadyCurrent += 1
                    continue
                }
                let fresh: FieldEnvelope
                do {
                    fresh = try encryptor.rewrap(stored.envelope, context: stored.context)
                } catch .decryptionFailed, .invalidContext {
                    report.unreadableCount += 1
                    if report.unreadable.count < 1000 { report.unreadable.append(stored.context) }
                    continue
                }
                if try await source.replace(at: stored.context, expected: stored.envelope, with: fresh) {
                    report.rewritten += 1
                } else {
                    report.changedConcurrently += 1
                }
            }
            try await checkpoints.save(last.context)
            report.position = last.context
            progress(report)
        }
        return report
    }
}

/// An in-memory table of encrypted fields: the embedded default and the test double for
/// ``ReencryptionSource``.
public actor InMemoryFieldStore: ReencryptionSource {
    private var values: [FieldContext: FieldEnvelope] = [:]
    private var order: [FieldContext] = []

    /// An empty store.
    public init() {}

    /// Stores `envelope` at `context` (replacing any value).
    public func set(_ envelope: FieldEnvelope, at context: FieldContext) {
        if values.updateValue(envelope, forKey: context) == nil {
            order.insert(context, at: insertionIndex(after: context))
        }
    }

    /// The value at `context`.
    public func value(at context: FieldContext) -> FieldEnvelope? { values[context] }

    /// Every stored field, in order.
    public func allFields() -> [StoredField] {
        order.compactMap { context in values[context].map { StoredField(context: context, envelope: $0) } }
    }

    /// Up to `limit` fields after `position`, in order.
    public func fields(after position: FieldContext?, limit: Int) -> [StoredField] {
        let start = position.map { insertionIndex(after: $0) } ?? 0
        return order[start..<(start + min(order.count - start, max(limit, 0)))].compactMap { context in
            values[context].map { StoredField(context: context, envelope: $0) }
        }
    }

    /// Compare-and-swap of one value.
    public func replace(at context: FieldContext, expected: FieldEnvelope, with replacement: FieldEnvelope) -> Bool {
        guard values[context] == expected else { return false }
        values[context] = replacement
        return true
    }

    /// The index of the first context strictly after `position`.
    private func insertionIndex(after position: FieldContext) -> Int {
        var low = 0
        var high = order.count
        while low < high {
            let middle = (low + high) / 2
            if position < order[middle] { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
