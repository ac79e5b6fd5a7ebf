import Foundation
import PHIGuardAudit
import Testing

/// Issue #15, finding 5: a stored tail that no writer could have made (a database someone else
/// wrote) must give a typed error, never an overflow trap.
@Suite("Out-of-range stored sequence numbers")
struct StoredSequenceTests {
    /// A sink whose last record claims `sequence` (its chain value is irrelevant: the log refuses or
    /// continues before verifying anything).
    func sink(lastSequence sequence: UInt64) async throws -> InMemoryAuditSink {
        let sink = InMemoryAuditSink()
        let record = AuditRecord(
            sequence: sequence, event: try AuditFixtures.fullEvent(), chain: [UInt8](repeating: 7, count: 32))
        try await sink.append([record], checkpoints: [], expectingAfter: nil)
        return sink
    }

    @Test(
        "A log does not open on a tail at or past the signed 64-bit limit",
        arguments: [UInt64.max, UInt64(Int64.max), UInt64(Int64.max) + 1])
    func refusesTail(sequence: UInt64) async throws {
        let sink = try await sink(lastSequence: sequence)
        await #expect(throws: AuditError.storageFailure("the stored audit sequence is out of range")) {
            _ = try await AuditLog(
                sink: sink, chainKey: try AuditFixtures.chainKey(), signingKey: try AuditFixtures.signingKey())
        }
    }

    @Test("The last sequence number a store can hold is written, then appends are refused")
    func exhaustion() async throws {
        let sink = try await sink(lastSequence: UInt64(Int64.max) - 1)
        let log = try await AuditLog(
            sink: sink, chainKey: try AuditFixtures.chainKey(), signingKey: try AuditFixtures.signingKey())
        #expect(try await log.append(try AuditFixtures.fullEvent(1)) == UInt64(Int64.max))
        await #expect(throws: AuditError.storageFailure("the audit sequence is exhausted")) {
            try await log.append(try AuditFixtures.fullEvent(2))
        }
        #expect(sink.count == 2)
    }
}
