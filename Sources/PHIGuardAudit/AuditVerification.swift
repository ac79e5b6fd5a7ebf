public import CoreMetrics

/// Where and how a chain breaks. Verification goes on after a break (from the record found there),
/// so every break is reported, not only the first.
public struct AuditChainBreak: Sendable, Hashable, CustomStringConvertible {
    /// What the verifier saw.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// The record at ``AuditChainBreak/position`` (or its chain value) was changed.
        case modified
        /// Records are missing before ``AuditChainBreak/position``: the one there continues from
        /// a later sequence number than expected.
        case deleted
        /// A record that does not belong was inserted at ``AuditChainBreak/position``; the next one continues the chain.
        case inserted
        /// The record at ``AuditChainBreak/position`` belongs later; the next one is the expected record.
        case reordered
        /// The log ends before the last checkpoint: records after ``AuditChainBreak/position`` were cut off.
        case truncated
        /// The entry at ``AuditChainBreak/position`` could not be parsed as a record.
        case unreadable
        /// A checkpoint's signature does not verify (``AuditChainBreak/foundSequence`` is its sequence).
        case checkpointForged
        /// A record verifies but differs from the signed checkpoint for its sequence number (the log was
        /// rewritten by someone holding the chain key, or the checkpoints belong to another log).
        case checkpointMismatch
    }

    /// What broke.
    public let kind: Kind
    /// The 0-based storage position of the first entry that does not verify (for a JSON-lines
    /// file, line `position + 1`); for ``Kind/truncated``, the number of entries present.
    public let position: Int
    /// The sequence number the verifier expected at ``position``.
    public let expectedSequence: UInt64
    /// The sequence number found there, if the entry parsed (for ``Kind/truncated``: the checkpoint's).
    public let foundSequence: UInt64?

    /// Creates a break report.
    public init(kind: Kind, position: Int, expectedSequence: UInt64, foundSequence: UInt64?) {
        self.kind = kind
        self.position = position
        self.expectedSequence = expectedSequence
        self.foundSequence = foundSequence
    }

    /// For example `modified at position 41 (expected sequence 42, found 42)`.
    public var description: String {
        "\(kind.rawValue) at position \(position) (expected sequence \(expectedSequence), found "
            + (foundSequence.map(String.init) ?? "none") + ")"
    }
}

/// The result of verifying a log.
public enum AuditVerificationReport: Sendable, Hashable {
    /// Every record verifies, every checkpoint is genuine and matches, and the log is not shorter
    /// than the last checkpoint.
    case intact(records: Int, lastSequence: UInt64, checkpointsChecked: Int)
    /// Every place the log does not verify, in storage order (forged checkpoints first, a truncation
    /// last): the first ``AuditVerifier/maximumReportedBreaks`` of them; `total` counts them all. An
    /// old break does not hide a later edit: each is listed.
    case broken([AuditChainBreak], total: Int)

    /// `true` for ``intact(records:lastSequence:checkpointsChecked:)``.
    public var isIntact: Bool {
        if case .intact = self { true } else { false }
    }

    /// The first break, if any.
    public var chainBreak: AuditChainBreak? {
        if case .broken(let found, _) = self { found.first } else { nil }
    }

    /// The breaks listed (at most ``AuditVerifier/maximumReportedBreaks``; empty when intact).
    public var breaks: [AuditChainBreak] {
        if case .broken(let found, _) = self { found } else { [] }
    }

    /// How many breaks were found in all (0 when intact).
    public var breakCount: Int {
        if case .broken(_, let total) = self { total } else { 0 }
    }
}

/// Verifies a log's chain and checkpoints and names every place it breaks.
///
/// ```swift
/// let verifier = AuditVerifier(chainKey: chainKey, checkpointKey: signingPublicKey)
/// switch try await verifier.verify(source, checkpoints: exportedCheckpoints) {
/// case .intact(let count, _, _): print("\(count) records intact")
/// case .broken(let found, let total): print("\(total) breaks, first: \(found[0])")
/// }
/// ```
///
/// Pass the checkpoints you exported off-host: checkpoints stored beside the log can be cut off
/// together with it, so only an exported checkpoint detects a truncated tail.
public struct AuditVerifier: Sendable {
    /// The most breaks a report lists (it counts all of them).
    public static let maximumReportedBreaks = 100

    /// The chain key.
    public let chainKey: AuditChainKey
    /// The key that checkpoints must be signed with; `nil` rejects every checkpoint as forged.
    public let checkpointKey: AuditCheckpointPublicKey?
    private let counters: AuditVerificationCounters

    /// A verifier for logs chained with `chainKey` and checkpointed with `checkpointKey`.
    ///
    /// `metrics` makes the counter of broken verifications (``AuditMetricLabel/verificationFailures``);
    /// the process-wide `MetricsSystem.factory` by default.
    public init(
        chainKey: AuditChainKey, checkpointKey: AuditCheckpointPublicKey?,
        metrics: any MetricsFactory = MetricsSystem.factory
    ) {
        self.chainKey = chainKey
        self.checkpointKey = checkpointKey
        self.counters = AuditVerificationCounters(factory: metrics)
    }

    /// Verifies entries held in memory.
    public func verify(entries: [AuditLogEntry], checkpoints: [AuditCheckpoint]) -> AuditVerificationReport {
        counters.record(walk(entries: entries, checkpoints: checkpoints))
    }

    private func walk(entries: [AuditLogEntry], checkpoints: [AuditCheckpoint]) -> AuditVerificationReport {
        var walker = makeWalker(checkpoints)
        for index in entries.indices {
            walker.visit(entries[index], next: { index + 1 < entries.count ? entries[index + 1] : nil })
        }
        return walker.finish()
    }

    /// Streams `source` in chunks of `chunkSize`, calling `progress` with the number of entries
    /// verified after each chunk. `checkpoints` defaults to those stored in the source.
    public func verify(
        _ source: some AuditRecordSource, checkpoints: [AuditCheckpoint]? = nil, chunkSize: Int = 8192,
        progress: (@Sendable (Int) -> Void)? = nil
    ) async throws(AuditError) -> AuditVerificationReport {
        counters.record(try await walk(source, checkpoints: checkpoints, chunkSize: chunkSize, progress: progress))
    }

    private func walk(
        _ source: some AuditRecordSource, checkpoints: [AuditCheckpoint]?, chunkSize: Int,
        progress: (@Sendable (Int) -> Void)?
    ) async throws(AuditError) -> AuditVerificationReport {
        let checkpointList: [AuditCheckpoint]
        do {
            if let checkpoints {
                checkpointList = checkpoints
            } else {
                checkpointList = try await source.checkpoints()
            }
        } catch {
            throw .storageFailure("could not read checkpoints")
        }
        var walker = makeWalker(checkpointList)
        let size = max(chunkSize, 2)
        var window: [AuditLogEntry] = []
        var nextPosition = 0
        var exhausted = false
        var verified = 0
        while true {
            if !exhausted {
                let chunk: [AuditLogEntry]
                do {
                    chunk = try await source.entries(from: nextPosition, limit: size)
                } catch {
                    throw .storageFailure("could not read entries")
                }
                nextPosition += chunk.count
                exhausted = chunk.count < size
                window.append(contentsOf: chunk)
            }
            // Keep one entry back (the look-ahead) unless the source is exhausted.
            let usable = exhausted ? window.count : window.count - 1
            for index in 0..<max(usable, 0) {
                let next = { index + 1 < window.count ? window[index + 1] : nil }
                walker.visit(window[index], next: next)
            }
            verified += max(usable, 0)
            progress?(verified)
            if exhausted { break }
            window.removeFirst(max(usable, 0))
        }
        return walker.finish()
    }

    /// A walker over the genuine checkpoints; each forged one is a break (and is otherwise ignored).
    private func makeWalker(_ checkpoints: [AuditCheckpoint]) -> ChainWalker {
        var bySequence: [UInt64: AuditCheckpoint] = [:]
        var highest: AuditCheckpoint?
        var forged: [AuditChainBreak] = []
        for checkpoint in checkpoints {
            guard let checkpointKey, checkpoint.isValid(under: checkpointKey) else {
                forged.append(
                    AuditChainBreak(
                        kind: .checkpointForged, position: 0, expectedSequence: 1, foundSequence: checkpoint.sequence))
                continue
            }
            bySequence[checkpoint.sequence] = checkpoint
            if checkpoint.sequence > highest?.sequence ?? 0 { highest = checkpoint }
        }
        var walker = ChainWalker(chainer: AuditChainer(key: chainKey), checkpoints: bySequence, highest: highest)
        for found in forged { walker.report(found) }
        return walker
    }
}

/// The verification state machine: one step per entry, with one entry of look-ahead to tell a
/// modified record from an inserted, deleted or reordered one.
struct ChainWalker {
    var chainer: AuditChainer
    let checkpoints: [UInt64: AuditCheckpoint]
    let highest: AuditCheckpoint?
    var expected: UInt64 = 1
    var previous = AuditChainer.genesis
    var position = 0
    var checkpointsChecked = 0
    var breaks: [AuditChainBreak] = []
    var breakCount = 0
    /// After an unreadable entry, the next record is taken as the new starting point unchecked.
    var resynchronizing = false

    init(chainer: AuditChainer, checkpoints: [UInt64: AuditCheckpoint], highest: AuditCheckpoint?) {
        self.chainer = chainer
        self.checkpoints = checkpoints
        self.highest = highest
    }

    mutating func report(_ found: AuditChainBreak) {
        breakCount += 1
        if breaks.count < AuditVerifier.maximumReportedBreaks { breaks.append(found) }
    }

    /// Verifies `entry` and, if it breaks the chain, reports that and carries on: past an inserted
    /// or misplaced record (when the next one continues the chain), else from the record found
    /// (its chain value becomes the one the next record must continue).
    mutating func visit(_ entry: AuditLogEntry, next: () -> AuditLogEntry?) {
        if resynchronizing, case .record(let record) = entry {
            resynchronizing = false
            previous = record.chain
            expected = record.sequence &+ 1
            position += 1
            return
        }
        guard let found = step(entry, next: next) else { return }
        report(found)
        position += 1
        guard case .record(let record) = entry else {
            resynchronizing = true
            return
        }
        if let nextRecord = Self.record(next()), nextRecord.sequence == expected,
            chainer.verifies(nextRecord, previous: previous)
        {
            return
        }
        previous = record.chain
        expected = record.sequence &+ 1
    }

    /// Verifies `entry`; `next` (the following entry, `nil` at the end) is read only when `entry`
    /// does not verify, to tell what kind of break it is.
    mutating func step(_ entry: AuditLogEntry, next: () -> AuditLogEntry?) -> AuditChainBreak? {
        guard case .record(let record) = entry else { return broken(.unreadable, found: nil) }
        if record.sequence == expected {
            if chainer.verifies(record, previous: previous) {
                if let checkpoint = checkpoints[expected] {
                    guard checkpoint.chain == record.chain else { return broken(.checkpointMismatch, found: expected) }
                    checkpointsChecked += 1
                }
                previous = record.chain
                expected &+= 1  // wrapping: a record can carry any sequence, and verifying never traps
                position += 1
                return nil
            }
            if let nextRecord = Self.record(next()), nextRecord.sequence == expected,
                chainer.verifies(nextRecord, previous: previous)
            {
                return broken(.inserted, found: record.sequence)
            }
            return broken(.modified, found: record.sequence)
        }
        if let nextRecord = Self.record(next()) {
            // The sequence field itself was edited: the next record still chains from this one.
            if nextRecord.sequence == expected &+ 1, chainer.verifies(nextRecord, previous: record.chain) {
                return broken(.modified, found: record.sequence)
            }
            if nextRecord.sequence == expected, chainer.verifies(nextRecord, previous: previous) {
                return broken(record.sequence > expected ? .reordered : .inserted, found: record.sequence)
            }
        }
        return broken(record.sequence > expected ? .deleted : .inserted, found: record.sequence)
    }

    private static func record(_ entry: AuditLogEntry?) -> AuditRecord? {
        if case .record(let record)? = entry { record } else { nil }
    }

    mutating func finish() -> AuditVerificationReport {
        if let highest, highest.sequence >= expected {
            report(
                AuditChainBreak(
                    kind: .truncated, position: position, expectedSequence: expected, foundSequence: highest.sequence))
        }
        guard breakCount == 0 else { return .broken(breaks, total: breakCount) }
        return .intact(records: position, lastSequence: expected &- 1, checkpointsChecked: checkpointsChecked)
    }

    private func broken(_ kind: AuditChainBreak.Kind, found: UInt64?) -> AuditChainBreak {
        AuditChainBreak(kind: kind, position: position, expectedSequence: expected, foundSequence: found)
    }
}
