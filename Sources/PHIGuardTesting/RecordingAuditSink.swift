public import PHIGuardAudit
import Synchronization
public import Testing

/// An in-memory audit sink with assertions, for the tests of code that must audit.
///
/// Hand it to an `AuditLog` instead of the production sink, run the code under test, then ask what
/// was recorded. It can also be told to refuse appends, so a test can check that the code under
/// test fails closed (no session, no record returned) when the audit trail cannot be written.
///
/// ```swift
/// let sink = RecordingAuditSink()
/// let log = try await AuditLog(sink: sink, chainKey: .generate())
/// // … sign in with a wrong password through a LoginFlow that uses `log` …
/// let failure = sink.expectEvent(.loginFailed, outcome: .failure)
/// #expect(failure?.reason == "wrong-password")
/// sink.expectNoValue(["alice@example.org", "correct horse"])   // identifiers only
/// ```
public final class RecordingAuditSink: AuditSink, AuditRecordSource {
    private let storage = InMemoryAuditSink()
    private let refusing = Atomic<Bool>(false)

    /// The error an append throws while ``refuseAppends(_:)`` is on.
    public struct RefusedAppend: Error, Equatable, Sendable {}

    /// An empty sink that accepts appends.
    public init() {}

    /// Makes every later append throw ``RefusedAppend`` (`true`) or succeed again (`false`).
    public func refuseAppends(_ refuse: Bool = true) {
        refusing.store(refuse, ordering: .sequentiallyConsistent)
    }

    /// Appends the records and checkpoints (compare-and-append, as `InMemoryAuditSink` does), or
    /// throws ``RefusedAppend`` while refusing.
    public func append(_ records: [AuditRecord], checkpoints: [AuditCheckpoint], expectingAfter: AuditRecord?)
        async throws
    {
        if refusing.load(ordering: .sequentiallyConsistent) { throw RefusedAppend() }
        try await storage.append(records, checkpoints: checkpoints, expectingAfter: expectingAfter)
    }

    /// The last record appended.
    public func lastRecord() async throws -> AuditRecord? { try await storage.lastRecord() }

    /// Entries in append order.
    public func entries(from position: Int, limit: Int) async throws -> [AuditLogEntry] {
        try await storage.entries(from: position, limit: limit)
    }

    /// Checkpoints in append order.
    public func checkpoints() async throws -> [AuditCheckpoint] { try await storage.checkpoints() }

    /// Every event recorded, in order.
    public var events: [AuditEvent] {
        storage.allEntries.compactMap { entry in
            if case .record(let record) = entry { return record.event }
            return nil
        }
    }

    /// The events of one kind, in order.
    public func events(_ kind: AuditEventKind) -> [AuditEvent] { events.filter { $0.kind == kind } }

    /// Expects exactly one event of `kind` (with `outcome`, when given) and returns it; records a test
    /// issue at the caller's location otherwise.
    @discardableResult
    public func expectEvent(
        _ kind: AuditEventKind, outcome: AuditOutcome? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) -> AuditEvent? {
        let matching = events(kind).filter { outcome == nil || $0.outcome == outcome }
        guard matching.count == 1 else {
            let wanted =
                outcome.map { "\(kind.rawValue) event with outcome \($0.rawValue)" } ?? "\(kind.rawValue) event"
            let recorded = events.map(\.kind.rawValue).joined(separator: ", ")
            Issue.record(
                "expected one \(wanted), found \(matching.count) (recorded: \(recorded))",
                sourceLocation: sourceLocation)
            return nil
        }
        return matching[0]
    }

    /// Expects that no event of `kind` was recorded.
    public func expectNoEvent(_ kind: AuditEventKind, sourceLocation: SourceLocation = #_sourceLocation) {
        let count = events(kind).count
        if count > 0 {
            Issue.record("expected no \(kind.rawValue) event, found \(count)", sourceLocation: sourceLocation)
        }
    }

    /// Expects that none of `values` (login names, passwords, PHI, tokens) appears in any string of any
    /// recorded event: the audit trail holds identifiers only.
    public func expectNoValue(_ values: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        for event in events {
            let optional: [String?] = [
                event.actorID, event.actorRole, event.sessionID, event.action, event.resourceType,
                event.resourceID, event.patientID, event.reason, event.breakGlassReason,
            ]
            let attributes = event.attributes.flatMap { [$0.key, $0.value] }
            let strings = optional.compactMap { $0 } + event.fields + event.ruleIDs + attributes
            for value in values where !value.isEmpty {
                if strings.contains(where: { $0.contains(value) }) {
                    Issue.record(
                        "a \(event.kind.rawValue) event contains a value that must not be audited",
                        sourceLocation: sourceLocation)
                }
            }
        }
    }

    /// Expects that the recorded chain verifies, and its checkpoints too when `checkpointKey` (the
    /// signing key's public half) is given.
    public func expectIntactChain(
        chainKey: AuditChainKey, checkpointKey: AuditCheckpointPublicKey? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        // Without a key the checkpoints cannot be checked, so only the chain is.
        let checkpoints = checkpointKey == nil ? [] : try await storage.checkpoints()
        let report = AuditVerifier(chainKey: chainKey, checkpointKey: checkpointKey)
            .verify(entries: storage.allEntries, checkpoints: checkpoints)
        if !report.isIntact {
            Issue.record("the audit chain does not verify: \(report)", sourceLocation: sourceLocation)
        }
    }
}
