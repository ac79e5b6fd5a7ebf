public import CoreMetrics
internal import Foundation
public import Logging

/// What ``AuditLog/performAudited(_:_:)`` does when the event cannot be recorded.
public enum AuditFailurePolicy: Sendable, Hashable {
    /// Refuse the operation: the body does not run and the audit error is thrown. The default, and
    /// what HIPAA §164.312(b) asks for PHI reads.
    case failClosed
    /// Run the body anyway and log the failure at `critical` level. Only for operations an
    /// organisation has decided must never be blocked by auditing (document that decision).
    case failOpen
}

/// When ``AuditLog/append(_:durability:)`` returns.
public enum AuditDurability: Sendable, Hashable {
    /// After the sink has committed the batch holding the event (group commit with concurrent
    /// callers). Throws if the commit fails. Use for PHI reads.
    case committed
    /// After the event has a sequence number and chain value and is queued. A later sink failure is
    /// retried and logged; ``AuditLog/close()`` reports anything still unwritten.
    case queued
}

/// The tamper-evident audit log: chains each event, batches writes to a sink, signs checkpoints.
///
/// ```swift
/// let log = try await AuditLog(
///     sink: try JSONLinesAuditSink(path: "/var/log/phiguard/audit.jsonl"),
///     chainKey: chainKey, signingKey: signingKey,
///     checkpointExporter: { checkpoint in try? await offHost.upload(checkpoint) })
/// let record = try await log.performAudited(
///     try .accessDecision(actorID: "user:42", role: "nurse", action: "read", resourceType: "Observation",
///                         resourceID: "obs-1", patientID: "MRN-7", fieldsReturned: ["value"], allowed: true)
/// ) { try await store.read("obs-1") }
/// try await log.close()
/// ```
///
/// Writes are asynchronous and batched: appends are chained in the actor, queued, and a writer
/// task hands up to ``Configuration/batchSize`` records at a time to the sink. When
/// ``Configuration/maximumPendingEvents`` are queued, appends wait (back-pressure). No event is
/// dropped silently: while the sink is failing, appends throw ``AuditError/sinkUnavailable``, the
/// queue is retried, and ``close()`` throws ``AuditError/unwrittenEvents(count:)`` if it cannot
/// write everything. See <doc:SinksAndFailClosed>.
///
/// Call ``close()`` when done: it writes the queue and a final checkpoint, and ends the writer task
/// (which otherwise keeps the log alive).
///
/// Many writers, one chain: any number of logs (in this process, other processes or on other
/// servers) may append to the same storage. Each batch is a compare-and-append
/// (``AuditSink/append(_:checkpoints:expectingAfter:)``); when another writer got there first, the
/// log re-reads the stored tail, re-chains its pending events on top (new sequence numbers and
/// chain values) and retries, so the stored chain never forks.
public actor AuditLog {
    /// Batching, back-pressure, checkpoint and failure settings.
    public struct Configuration: Sendable {
        /// The most records handed to the sink in one call (1...100,000).
        public var batchSize: Int
        /// The most records queued before appends wait (at least `batchSize`).
        public var maximumPendingEvents: Int
        /// A checkpoint is signed after every this many records (and on `flush`/`close`).
        public var checkpointInterval: UInt64
        /// How long the writer waits before retrying a failed sink.
        public var retryInterval: Duration
        /// What ``AuditLog/performAudited(_:_:)`` does when auditing fails.
        public var failurePolicy: AuditFailurePolicy
        /// How long queued records may wait for a batch to fill before the writer takes them anyway.
        /// A committed append (someone waiting) or a full batch wakes the writer at once.
        public var maximumLinger: Duration

        /// Defaults: batches of 1,024, 65,536 pending, a checkpoint every 10,000 records, retry after
        /// 200 ms, fail closed, queued records written within 2 ms.
        public init(
            batchSize: Int = 1024, maximumPendingEvents: Int = 65_536, checkpointInterval: UInt64 = 10_000,
            retryInterval: Duration = .milliseconds(200), failurePolicy: AuditFailurePolicy = .failClosed,
            maximumLinger: Duration = .milliseconds(2)
        ) {
            self.maximumLinger = maximumLinger
            self.batchSize = batchSize
            self.maximumPendingEvents = maximumPendingEvents
            self.checkpointInterval = checkpointInterval
            self.retryInterval = retryInterval
            self.failurePolicy = failurePolicy
        }
    }

    /// The settings this log runs with.
    public nonisolated let configuration: Configuration
    /// The public key checkpoints are signed with.
    public nonisolated let checkpointPublicKey: AuditCheckpointPublicKey

    private let sink: any AuditSink
    private let signingKey: AuditSigningKey
    private let clock: any PHIGuardClock
    private let exporter: (@Sendable (AuditCheckpoint) async -> Void)?
    private let logger: Logger
    private let counters: AuditAppendCounters
    private var chainer: AuditChainer

    private var nextSequence: UInt64
    private var lastChain: [UInt8]
    private var lastCheckpointed: UInt64
    private var committedSequence: UInt64
    /// The record the sink holds last, as far as this log knows (the `expectingAfter` of the next append).
    private var storedTail: AuditRecord?
    private var pending: [AuditRecord] = []
    /// The ticket of `pending[0]`; tickets name a queued event across re-chaining (which changes
    /// its sequence number).
    private var firstPendingTicket: UInt64 = 1
    private var pendingCheckpoints: [AuditCheckpoint] = []
    private var sinkIsFailing = false
    /// A failed append may have been stored anyway (a lost `COMMIT` reply) until the tail is re-read.
    private var outcomeUnknown = false
    private var isClosing = false
    private var writerDone = false
    private var writer: Task<Void, Never>?
    private var writerWakeup: CheckedContinuation<Void, Never>?
    private var lingerTimer: Task<Void, Never>?
    private var commitWaiters: [(ticket: UInt64, continuation: CheckedContinuation<UInt64, any Error>)] = []
    private var spaceWaiters: [CheckedContinuation<Void, Never>] = []
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []

    /// Opens a log on `sink`, resuming after the last record stored there.
    ///
    /// `checkpointExporter` receives every checkpoint after the sink has committed it; copy it
    /// off-host there (it should not throw: handle and log its own failures). Checkpoint times are
    /// the wall reading of `clock` (the events carry the times they were created with). `metrics`
    /// makes the counter of failed appends (``AuditMetricLabel/appendFailures``); the process-wide
    /// `MetricsSystem.factory` by default.
    public init(
        sink: any AuditSink, chainKey: AuditChainKey, signingKey: AuditSigningKey,
        configuration: Configuration = Configuration(),
        checkpointExporter: (@Sendable (AuditCheckpoint) async -> Void)? = nil,
        clock: any PHIGuardClock = SystemClock(),
        logger: Logger = Logger(label: "phiguard.audit"),
        metrics: any MetricsFactory = MetricsSystem.factory
    ) async throws(AuditError) {
        guard (1...100_000).contains(configuration.batchSize),
            configuration.maximumPendingEvents >= configuration.batchSize, configuration.checkpointInterval > 0
        else { throw .invalidEvent("invalid audit log configuration") }
        let last: AuditRecord?
        do {
            last = try await sink.lastRecord()
        } catch {
            logger.error(
                "audit sink could not be read at start", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            throw .sinkUnavailable
        }
        if let last, !Self.isUsable(last) {
            // A tail no writer could have made (a database someone else wrote): refuse, never trap.
            logger.error("the stored audit tail has an out-of-range sequence number")
            throw .storageFailure("the stored audit sequence is out of range")
        }
        self.sink = sink
        self.signingKey = signingKey
        self.clock = clock
        self.checkpointPublicKey = signingKey.publicKey
        self.configuration = configuration
        self.exporter = checkpointExporter
        self.logger = logger
        self.counters = AuditAppendCounters(factory: metrics)
        self.chainer = AuditChainer(key: chainKey)
        nextSequence = (last?.sequence ?? 0) + 1
        lastChain = last?.chain ?? AuditChainer.genesis
        lastCheckpointed = last?.sequence ?? 0
        committedSequence = last?.sequence ?? 0
        storedTail = last
    }

    // MARK: Appending

    /// Chains and queues `event`; with ``AuditDurability/committed`` (the default) also waits until
    /// the sink has committed it. Returns the event's sequence number: with
    /// ``AuditDurability/committed`` the one it was stored under; with ``AuditDurability/queued`` the
    /// one it was given when queued, which changes if another writer appends first (the event is
    /// then re-chained after that writer's records).
    ///
    /// Throws ``AuditError/sinkUnavailable`` (nothing recorded) while the sink is failing,
    /// ``AuditError/sinkFailed`` if the commit this call waited for failed (the event stays queued
    /// and is retried), ``AuditError/closed`` after ``close()``. Each throw is counted under
    /// ``AuditMetricLabel/appendFailures``.
    @discardableResult
    public func append(_ event: AuditEvent, durability: AuditDurability = .committed) async throws(AuditError)
        -> UInt64
    {
        do {
            try await waitForSpace()
            let (ticket, sequence) = enqueue(event)
            if durability == .committed { return try await waitForCommit(of: ticket) }
            return sequence
        } catch {
            counters.recordFailure(error)
            throw error
        }
    }

    /// Records `event` (committed) and only then runs `body` — the way to guard a PHI read.
    ///
    /// If the event cannot be recorded, ``Configuration/failurePolicy`` decides: ``AuditFailurePolicy/failClosed``
    /// throws the ``AuditError`` and `body` never runs; ``AuditFailurePolicy/failOpen`` logs at
    /// `critical` level and runs `body`.
    public func performAudited<Result: Sendable>(
        _ event: AuditEvent, _ body: @Sendable () async throws -> Result
    ) async throws -> Result {
        do {
            try await append(event, durability: .committed)
        } catch {
            switch configuration.failurePolicy {
            case .failClosed:
                logger.warning(
                    "operation refused: audit event could not be recorded", metadata: ["kind": "\(event.kind.rawValue)"]
                )
                throw error
            case .failOpen:
                logger.critical(
                    "operation ran WITHOUT an audit record (fail-open policy)",
                    metadata: ["kind": "\(event.kind.rawValue)"])
            }
        }
        return try await body()
    }

    /// Appends a ``AuditEventKind/breakGlassReviewed`` event for the break-glass access at `sequence`.
    @discardableResult
    public func markBreakGlassReviewed(sequence: UInt64, reviewerID: String, outcome: String = "justified")
        async throws(AuditError) -> UInt64
    {
        try await append(try .breakGlassReviewed(sequence: sequence, reviewerID: reviewerID, outcome: outcome))
    }

    /// Signs a checkpoint for the current tail (if new) and waits until everything queued is committed.
    public func flush() async throws(AuditError) {
        guard !isClosing else { throw .closed }
        emitCheckpointIfNeeded()
        guard !pending.isEmpty else { return }
        _ = try await waitForCommit(of: firstPendingTicket + UInt64(pending.count) - 1)
    }

    /// Stops accepting events, signs a final checkpoint and writes everything queued.
    ///
    /// Throws ``AuditError/unwrittenEvents(count:)`` if the sink fails while draining: those events
    /// are reported, not silently dropped.
    public func close() async throws(AuditError) {
        guard !isClosing else { return }
        emitCheckpointIfNeeded()
        isClosing = true
        for waiter in spaceWaiters { waiter.resume() }
        spaceWaiters.removeAll()
        if writer != nil, !writerDone {
            wakeWriter()
            await withCheckedContinuation { closeWaiters.append($0) }
        }
        if !pending.isEmpty { throw .unwrittenEvents(count: pending.count) }
    }

    /// The number of events chained but not yet committed.
    public var pendingCount: Int { pending.count }
    /// The sequence number of the last record this log committed, or of the stored tail it resumed
    /// from (0 if none).
    public var lastCommittedSequence: UInt64 { committedSequence }
    /// `true` while the sink is failing (appends throw ``AuditError/sinkUnavailable``).
    public var isSinkFailing: Bool { sinkIsFailing }

    // MARK: Internals

    /// The highest sequence number a log writes: stores keep it as a signed 64-bit integer.
    static let maximumSequence = UInt64(Int64.max)

    /// Whether a stored tail can be continued: its sequence leaves room for the next one. Anything
    /// larger was written by someone else (sequences are stored as signed 64-bit integers, so a
    /// negative value reads back near `UInt64.max`).
    private static func isUsable(_ stored: AuditRecord) -> Bool { stored.sequence < maximumSequence }

    private func waitForSpace() async throws(AuditError) {
        while true {
            if isClosing { throw .closed }
            if nextSequence > Self.maximumSequence { throw .storageFailure("the audit sequence is exhausted") }
            if sinkIsFailing { throw .sinkUnavailable }
            if pending.count < configuration.maximumPendingEvents { return }
            await withCheckedContinuation { spaceWaiters.append($0) }
        }
    }

    private func enqueue(_ event: AuditEvent) -> (ticket: UInt64, sequence: UInt64) {
        let sequence = nextSequence
        let ticket = firstPendingTicket + UInt64(pending.count)
        let chain = chainer.chainValue(previous: lastChain, sequence: sequence, event: event)
        pending.append(AuditRecord(sequence: sequence, event: event, chain: chain))
        nextSequence += 1
        lastChain = chain
        if sequence % configuration.checkpointInterval == 0 { emitCheckpointIfNeeded() }
        wakeWriter()
        return (ticket, sequence)
    }

    private func emitCheckpointIfNeeded() {
        let tail = nextSequence - 1
        guard tail > lastCheckpointed else { return }
        let now = AuditEvent.timestamp(for: clock.now)
        pendingCheckpoints.append(
            AuditCheckpoint(sequence: tail, chain: lastChain, timestamp: now, signingKey: signingKey))
        lastCheckpointed = tail
        wakeWriter()
    }

    /// Waits until the queued event `ticket` is committed; returns its final sequence number.
    private func waitForCommit(of ticket: UInt64) async throws(AuditError) -> UInt64 {
        if ticket < firstPendingTicket { return committedSequence }
        do {
            return try await withCheckedThrowingContinuation {
                commitWaiters.append((ticket, $0))
                wakeWriter(urgent: true)
            }
        } catch let error as AuditError {
            throw error
        } catch {
            throw .sinkFailed
        }
    }

    /// Wakes the writer now if a batch is full or someone waits (a commit, close, a checkpoint);
    /// otherwise at most ``Configuration/maximumLinger`` later, so a burst becomes one batch instead
    /// of a thread hand-off per event.
    private func wakeWriter(urgent: Bool = false) {
        if writer == nil {
            writer = Task { await self.runWriter() }
        }
        guard let wakeup = writerWakeup else { return }
        if urgent || isClosing || pending.count >= configuration.batchSize || !commitWaiters.isEmpty
            || !pendingCheckpoints.isEmpty
        {
            writerWakeup = nil
            lingerTimer?.cancel()
            lingerTimer = nil
            wakeup.resume()
        } else if lingerTimer == nil {
            let linger = configuration.maximumLinger
            lingerTimer = Task {
                try? await Task.sleep(for: linger)
                self.lingerExpired()
            }
        }
    }

    private func lingerExpired() {
        lingerTimer = nil
        wakeWriter(urgent: true)
    }

    private func runWriter() async {
        while true {
            if pending.isEmpty && pendingCheckpoints.isEmpty {
                if isClosing { break }
                await withCheckedContinuation { writerWakeup = $0 }
                continue
            }
            let count = min(pending.count, configuration.batchSize)
            let batch = Array(pending.prefix(count))
            let upTo = batch.last?.sequence ?? committedSequence
            let checkpointCount = pendingCheckpoints.prefix { $0.sequence <= upTo }.count
            let checkpoints = Array(pendingCheckpoints.prefix(checkpointCount))
            do {
                try await sink.append(batch, checkpoints: checkpoints, expectingAfter: storedTail)
                committed(recordCount: count, checkpoints: checkpoints, upTo: upTo)
                if let exporter { for checkpoint in checkpoints { await exporter(checkpoint) } }
            } catch is AuditAppendConflict {
                // Another writer appended first: continue after its records, at once.
                do {
                    if rechain(onto: try await sink.lastRecord(), mayHoldOurs: outcomeUnknown) {
                        outcomeUnknown = false
                    } else {
                        sinkIsFailing = true
                        failWaiters()
                        if isClosing { break }
                        try? await Task.sleep(for: configuration.retryInterval)
                    }
                } catch {
                    logger.error(
                        "audit sink tail could not be read after a conflict; retrying",
                        metadata: ["error-type": "\(String(reflecting: type(of: error)))"])
                    try? await Task.sleep(for: configuration.retryInterval)
                }
            } catch {
                // Log the transition loudly, the retries quietly.
                logger.log(
                    level: sinkIsFailing ? .debug : .error,
                    "audit sink failed; events stay queued and are retried",
                    metadata: ["error-type": "\(String(reflecting: type(of: error)))", "queued": "\(pending.count)"])
                sinkIsFailing = true
                outcomeUnknown = true
                failWaiters()
                if isClosing { break }
                try? await Task.sleep(for: configuration.retryInterval)
                await reconcileAfterFailure()
            }
        }
        writerDone = true
        for waiter in closeWaiters { waiter.resume() }
        closeWaiters.removeAll()
        failWaiters()
    }

    private func committed(recordCount: Int, checkpoints: [AuditCheckpoint], upTo: UInt64) {
        pendingCheckpoints.removeFirst(checkpoints.count)
        sinkIsFailing = false
        outcomeUnknown = false
        removeCommitted(recordCount)
        committedSequence = upTo
        let room = configuration.maximumPendingEvents - pending.count
        let woken = spaceWaiters.prefix(max(room, 0))
        for waiter in woken { waiter.resume() }
        spaceWaiters.removeFirst(woken.count)
    }

    /// Drops the first `count` pending records (now stored) and resumes their waiters with their
    /// final sequence numbers.
    private func removeCommitted(_ count: Int) {
        guard count > 0 else { return }
        let stored = Array(pending.prefix(count))
        pending.removeFirst(count)
        storedTail = stored.last
        committedSequence = stored.last?.sequence ?? committedSequence
        let first = firstPendingTicket
        firstPendingTicket += UInt64(count)
        var remaining: [(ticket: UInt64, continuation: CheckedContinuation<UInt64, any Error>)] = []
        for waiter in commitWaiters {
            if waiter.ticket < firstPendingTicket {
                waiter.continuation.resume(returning: stored[Int(waiter.ticket - first)].sequence)
            } else {
                remaining.append(waiter)
            }
        }
        commitWaiters = remaining
    }

    /// Continues after `stored`, the tail another writer left: if an append failed with an unknown
    /// outcome (`mayHoldOurs`), what of ours the sink already holds is dropped from the queue; the
    /// rest is re-chained on top of `stored`, and checkpoints over the old chain values are replaced
    /// by one at the new tail. (After a clean conflict nothing of ours was stored, and an identical
    /// record from another writer must not be mistaken for ours.)
    private func rechain(onto stored: AuditRecord?, mayHoldOurs: Bool) -> Bool {
        if let stored, !Self.isUsable(stored) {
            logger.error("the stored audit tail has an out-of-range sequence number; events stay queued")
            return false
        }
        if AuditAppendConflict.tail(storedTail.map { ($0.sequence, $0.chain) }, matches: stored) { return true }
        if mayHoldOurs, let stored, let first = pending.first, stored.sequence >= first.sequence {
            let index = Int(clamping: stored.sequence - first.sequence)
            if index < pending.count, pending[index].chain == stored.chain { removeCommitted(index + 1) }
        }
        storedTail = stored
        let stale = pendingCheckpoints.filter { $0.sequence > committedSequence }.count
        pendingCheckpoints.removeAll { $0.sequence > committedSequence }
        var previous = stored?.chain ?? AuditChainer.genesis
        var sequence = (stored?.sequence ?? 0) + 1
        for index in pending.indices {
            let event = pending[index].event
            let chain = chainer.chainValue(previous: previous, sequence: sequence, event: event)
            pending[index] = AuditRecord(sequence: sequence, event: event, chain: chain)
            previous = chain
            sequence += 1
        }
        nextSequence = sequence
        lastChain = previous
        // Other writers' records are theirs to checkpoint; ours get one at flush, close, the interval,
        // or now if one over the old chain values was dropped.
        lastCheckpointed = stored?.sequence ?? 0
        if stale > 0, !pending.isEmpty { emitCheckpointIfNeeded() }
        return true
    }

    /// Everyone waiting learns the sink failed: a waiting PHI read must not proceed.
    private func failWaiters() {
        for waiter in commitWaiters { waiter.continuation.resume(throwing: AuditError.sinkFailed) }
        commitWaiters.removeAll()
        for waiter in spaceWaiters { waiter.resume() }
        spaceWaiters.removeAll()
    }

    /// After a failure the sink may have committed part of what it was given (a lost `COMMIT` reply),
    /// or another writer may have appended: continue from the stored tail, so nothing is written
    /// twice and the chain does not fork.
    private func reconcileAfterFailure() async {
        let stored: AuditRecord?
        do { stored = try await sink.lastRecord() } catch { return }
        guard rechain(onto: stored, mayHoldOurs: true) else { return }
        outcomeUnknown = false
    }
}
