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

    @Test("Verifying records whose sequences no writer could give reports breaks, never traps")
    func verifierNeverTraps() throws {
        let event = try AuditFixtures.fullEvent()
        func record(_ sequence: UInt64) -> AuditLogEntry {
            .record(AuditRecord(sequence: sequence, event: event, chain: [UInt8](repeating: 9, count: 32)))
        }
        let verifier = try AuditFixtures.verifier()
        // After the first record the verifier expects 2^64 − 1 + 1: with `+` this trapped.
        let cases: [[AuditLogEntry]] = [
            [record(.max - 1), record(5), record(6)],
            [record(.max), record(1), record(.max), record(2)],
            [record(.max - 1), .unreadable, record(.max), record(0)],
        ]
        for entries in cases {
            guard case .broken(let breaks, let total) = verifier.verify(entries: entries, checkpoints: []) else {
                Issue.record("out-of-range sequences verified as intact")
                continue
            }
            #expect(total >= 1 && !breaks.isEmpty)
        }
    }

    @Test(
        "A JSON record whose seq or related is outside 1...2^63 − 1 does not decode",
        arguments: [
            (#""seq":1"#, #""seq":18446744073709551615"#), (#""seq":1"#, #""seq":0"#),
            (#""seq":1"#, #""seq":9223372036854775808"#), (#""related":99"#, #""related":18446744073709551615"#),
            (#""related":99"#, #""related":0"#),
        ])
    func jsonRange(original: String, corrupted: String) throws {
        let record = AuditRecord(sequence: 1, event: try AuditFixtures.fullEvent(), chain: [1, 2, 3])
        let json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        // The encoder's key order is not fixed: a member may end the object, so match up to `,` or `}`.
        func replacing(_ member: String, with new: String, in text: String) -> String {
            let pattern = NSRegularExpression.escapedPattern(for: member) + "(?=[,}])"
            return text.replacingOccurrences(of: pattern, with: new, options: .regularExpression)
        }
        #expect(replacing(original, with: "", in: json) != json)
        let bad = replacing(original, with: corrupted, in: json)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(AuditRecord.self, from: Data(bad.utf8)) }
        let edge = replacing(#""seq":1"#, with: #""seq":9223372036854775807"#, in: json)
        #expect(try JSONDecoder().decode(AuditRecord.self, from: Data(edge.utf8)).sequence == UInt64(Int64.max))
    }

    @Test("AuditEvent.timestamp(for:) clamps dates beyond the Int64 range instead of trapping")
    func timestampClamps() {
        #expect(AuditEvent.timestamp(for: Date(timeIntervalSince1970: 1e300)) == .max)
        #expect(AuditEvent.timestamp(for: Date(timeIntervalSince1970: -1e300)) == .min)
        #expect(AuditEvent.timestamp(for: Date(timeIntervalSince1970: .nan)) == .min)
        #expect(AuditEvent.timestamp(for: Date(timeIntervalSince1970: 1_800_000_000.123456)) == 1_800_000_000_123_456)
    }
}
