/// Follows a live log: each ``poll(chunkSize:)`` reads the entries appended since the last one, feeds them to
/// a ``SecurityMonitor`` and returns the alerts they raise.
///
/// With a chain key it also checks every new record continues the chain (an incremental
/// ``AuditVerifier``), raising ``SecurityAlertRule/auditVerificationFailed`` for a record that does
/// not, and for an entry that cannot be read at all. Records are processed once, in storage order.
///
/// ```swift
/// var watcher = AuditWatcher(source: sink, monitor: SecurityMonitor(), chainKey: key)
/// _ = try await watcher.poll()  // catch up on history first (alerts ignored)
/// while !Task.isCancelled {
///     for alert in try await watcher.poll() { await dispatcher.dispatch(alert) }
///     try await Task.sleep(for: .seconds(1))
/// }
/// ```
public struct AuditWatcher: Sendable {
    /// The log followed.
    public let source: any AuditRecordSource
    /// The detector.
    public private(set) var monitor: SecurityMonitor
    /// The storage position of the next entry to read.
    public private(set) var position = 0
    /// The sequence number of the last record read (0 before any).
    public private(set) var lastSequence: UInt64 = 0
    private var chain: IncrementalChainCheck?

    /// A watcher over `source` from its start; `chainKey` turns on the chain check.
    public init(source: any AuditRecordSource, monitor: SecurityMonitor, chainKey: AuditChainKey? = nil) {
        self.source = source
        self.monitor = monitor
        self.chain = chainKey.map { IncrementalChainCheck(chainer: AuditChainer(key: $0)) }
    }

    /// Reads everything appended since the last poll (in chunks of `chunkSize`) and returns the
    /// alerts raised, in log order. Throws ``AuditError/storageFailure(_:)`` when the log cannot be
    /// read (nothing is skipped: the next poll starts where this one stopped).
    public mutating func poll(chunkSize: Int = 1000) async throws(AuditError) -> [SecurityAlert] {
        var alerts: [SecurityAlert] = []
        let size = max(chunkSize, 1)
        while true {
            let chunk: [AuditLogEntry]
            do {
                chunk = try await source.entries(from: position, limit: size)
            } catch {
                throw .storageFailure("could not read entries")
            }
            for entry in chunk {
                alerts += process(entry)
            }
            if chunk.count < size { break }
        }
        return alerts
    }

    /// Advances the detector's time to `timestamp` while the log is quiet (see
    /// ``SecurityMonitor/advance(to:)``).
    public mutating func advance(to timestamp: Int64) -> [SecurityAlert] {
        monitor.advance(to: timestamp)
    }

    private mutating func process(_ entry: AuditLogEntry) -> [SecurityAlert] {
        defer { position += 1 }
        var alerts: [SecurityAlert] = []
        if var check = chain {
            if let found = check.check(entry) {
                let time: Int64 = if case .record(let record) = entry { record.event.timestamp } else { .min }
                alerts.append(
                    SecurityAlert(
                        rule: .auditVerificationFailed, timestamp: time == .min ? 0 : time,
                        sequence: found.expectedSequence, count: 1))
            }
            chain = check
        } else if case .unreadable = entry {
            alerts.append(
                SecurityAlert(rule: .auditVerificationFailed, timestamp: 0, sequence: lastSequence &+ 1, count: 1))
        }
        if case .record(let record) = entry {
            lastSequence = record.sequence
            alerts += monitor.process(record)
        }
        return alerts
    }
}

/// Checks, one entry at a time, that each record continues the chain; after a break it carries on
/// from the record found (so one break is reported once).
struct IncrementalChainCheck: Sendable {
    var chainer: AuditChainer
    var expected: UInt64 = 1
    var previous = AuditChainer.genesis
    var position = 0
    var resynchronizing = false

    init(chainer: AuditChainer) { self.chainer = chainer }

    mutating func check(_ entry: AuditLogEntry) -> AuditChainBreak? {
        defer { position += 1 }
        guard case .record(let record) = entry else {
            resynchronizing = true
            return AuditChainBreak(
                kind: .unreadable, position: position, expectedSequence: expected, foundSequence: nil)
        }
        if resynchronizing {
            resynchronizing = false
            previous = record.chain
            expected = record.sequence &+ 1
            return nil
        }
        if record.sequence == expected, chainer.verifies(record, previous: previous) {
            previous = record.chain
            expected += 1
            return nil
        }
        let kind: AuditChainBreak.Kind =
            record.sequence == expected ? .modified : (record.sequence > expected ? .deleted : .inserted)
        let found = AuditChainBreak(
            kind: kind, position: position, expectedSequence: expected, foundSequence: record.sequence)
        previous = record.chain
        expected = record.sequence &+ 1
        return found
    }
}
