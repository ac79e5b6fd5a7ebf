import Foundation
import PHIGuardTestSupport
import Testing

@testable import PHIGuardAudit

@Suite("Chain verification names the first broken position")
struct ChainTamperTests {
    static let eventFields = [
        "kind", "timestamp", "actorID", "actorRole", "sessionID", "action", "resourceType", "resourceID", "patientID",
        "fields", "outcome", "reason", "ruleIDs", "breakGlass", "breakGlassReason", "relatedSequence", "attributes",
    ]

    /// `event` with one field changed (a one-character edit where the field is text).
    static func altered(_ e: AuditEvent, _ field: String) -> AuditEvent {
        func flip(_ text: String?) -> String? {
            guard var bytes = text.map({ Array($0.utf8) }), !bytes.isEmpty else { return "x" }
            bytes[0] ^= 0x01
            return String(decoding: bytes, as: UTF8.self)
        }
        return AuditEvent(
            unchecked: field == "kind" ? (e.kind == .accessDecision ? .loginFailed : .accessDecision) : e.kind,
            timestamp: field == "timestamp" ? e.timestamp ^ 1 : e.timestamp,
            actorID: field == "actorID" ? flip(e.actorID) : e.actorID,
            actorRole: field == "actorRole" ? flip(e.actorRole) : e.actorRole,
            sessionID: field == "sessionID" ? flip(e.sessionID) : e.sessionID,
            action: field == "action" ? flip(e.action) : e.action,
            resourceType: field == "resourceType" ? flip(e.resourceType) : e.resourceType,
            resourceID: field == "resourceID" ? flip(e.resourceID) : e.resourceID,
            patientID: field == "patientID" ? flip(e.patientID) : e.patientID,
            fields: field == "fields" ? [flip(e.fields.first) ?? "x"] + e.fields.dropFirst() : e.fields,
            outcome: field == "outcome" ? (e.outcome == .allow ? .deny : .allow) : e.outcome,
            reason: field == "reason" ? flip(e.reason) : e.reason,
            ruleIDs: field == "ruleIDs" ? [flip(e.ruleIDs.first) ?? "x"] + e.ruleIDs.dropFirst() : e.ruleIDs,
            breakGlass: field == "breakGlass" ? !e.breakGlass : e.breakGlass,
            breakGlassReason: field == "breakGlassReason" ? flip(e.breakGlassReason) : e.breakGlassReason,
            relatedSequence: field == "relatedSequence" ? (e.relatedSequence ?? 0) ^ 1 : e.relatedSequence,
            attributes: field == "attributes" ? e.attributes.merging(["a": "9"]) { $1 } : e.attributes)
    }

    /// 40 full events written through the log.
    static func fullLog() async throws -> [AuditLogEntry] {
        let sink = InMemoryAuditSink()
        let log = try await AuditLog(
            sink: sink, chainKey: try AuditFixtures.chainKey(), signingKey: try AuditFixtures.signingKey())
        for index in 0..<40 { try await log.append(try AuditFixtures.fullEvent(index), durability: .queued) }
        try await log.close()
        return sink.allEntries
    }

    @Test("The canonical encoding and chain match the independent Python implementation's vectors")
    func canonicalVectors() throws {
        struct Vectors: Decodable {
            struct Vector: Decodable {
                let canonical: String
                let chain: String
                let record: [String: JSONValue]
            }
            let key: String
            let vectors: [Vector]
        }
        let file = try Fixture.decode(Vectors.self, from: "audit/canonical_v1.json")
        var keyBytes = [UInt8](hex: file.key)
        var chainer = AuditChainer(key: try AuditChainKey(bytes: &keyBytes))
        var previous = AuditChainer.genesis
        for vector in file.vectors {
            var object = vector.record
            object["chain"] = .string(vector.chain)
            let record = try JSONDecoder().decode(AuditRecord.self, from: JSONEncoder().encode(object))
            #expect(
                AuditCanonicalEncoding.encode(sequence: record.sequence, event: record.event).hex == vector.canonical)
            let chain = chainer.chainValue(previous: previous, sequence: record.sequence, event: record.event)
            #expect(chain.hex == vector.chain)
            previous = chain
        }
    }

    @Test("Events larger than the chainer's reused buffer chain and verify, and edits to them are caught")
    func largeEvents() async throws {
        let large = try AuditFixtures.largestEvent()
        #expect(AuditCanonicalEncoding.encode(sequence: 1, event: large).count > 60_000)
        let sink = InMemoryAuditSink()
        let log = try await AuditLog(
            sink: sink, chainKey: try AuditFixtures.chainKey(), signingKey: try AuditFixtures.signingKey())
        for index in 0..<6 {
            try await log.append(index.isMultiple(of: 2) ? try AuditFixtures.fullEvent(index) : large)
        }
        try await log.close()
        var entries = sink.allEntries
        #expect(
            try AuditFixtures.verifier().verify(entries: entries, checkpoints: [])
                == .intact(records: 6, lastSequence: 6, checkpointsChecked: 0))
        guard case .record(let record) = entries[3] else { Issue.record("no record"); return }
        entries[3] = .record(record.replacingEvent(Self.altered(record.event, "attributes")))
        let found = try AuditFixtures.verifier().verify(entries: entries, checkpoints: []).chainBreak
        #expect(found == AuditChainBreak(kind: .modified, position: 3, expectedSequence: 4, foundSequence: 4))
    }

    @Test("The canonical encoding's length is computed exactly for every event kind")
    func encodedCount() throws {
        let events = try AuditFixtures.everyKind() + [try AuditFixtures.fullEvent(), try AuditFixtures.largestEvent()]
        for event in events {
            #expect(
                AuditCanonicalEncoding.encode(sequence: 7, event: event).count
                    == AuditCanonicalEncoding.encodedCount(of: event))
        }
    }

    @Test("An intact log verifies, checkpoints included")
    func intact() async throws {
        let sink = try await AuditFixtures.memoryLog(count: 95)
        let report = try await AuditFixtures.verifier().verify(sink)
        #expect(report == .intact(records: 95, lastSequence: 95, checkpointsChecked: 10))
    }

    @Test("Changing any one field of a record is reported as modified at that position", arguments: eventFields)
    func modifiedField(field: String) async throws {
        var entries = try await Self.fullLog()
        let target = 17
        guard case .record(let record) = entries[target] else { Issue.record("no record"); return }
        entries[target] = .record(record.replacingEvent(Self.altered(record.event, field)))
        let report = try AuditFixtures.verifier().verify(entries: entries, checkpoints: [])
        #expect(report.chainBreak?.kind == .modified)
        #expect(report.chainBreak?.position == target)
        #expect(report.chainBreak?.expectedSequence == 18)
    }

    @Test("Every break is reported, so an old break does not hide a later edit")
    func everyBreakReported() async throws {
        var entries = try await AuditFixtures.memoryLog(count: 95, checkpointInterval: 1000).allEntries
        for target in [10, 60] {
            guard case .record(let record) = entries[target] else { Issue.record("no record"); return }
            entries[target] = .record(record.replacingEvent(Self.altered(record.event, "actorID")))
        }
        entries[80] = .unreadable
        let report = try AuditFixtures.verifier().verify(entries: entries, checkpoints: [])
        #expect(report.breaks.map(\.kind) == [.modified, .modified, .unreadable])
        #expect(report.breaks.map(\.position) == [10, 60, 80])
        #expect(report.breakCount == 3)
        // More breaks than the report lists are counted.
        var many = try await AuditFixtures.memoryLog(count: 300, checkpointInterval: 1000).allEntries
        for index in stride(from: 0, to: 300, by: 2) { many[index] = .unreadable }
        let long = try AuditFixtures.verifier().verify(entries: many, checkpoints: [])
        #expect(long.breaks.count == AuditVerifier.maximumReportedBreaks)
        #expect(long.breakCount == 150)
    }

    @Test("Changing a record's chain value or sequence number is reported as modified")
    func modifiedChainOrSequence() async throws {
        let original = try await Self.fullLog()
        let target = 17
        guard case .record(let record) = original[target] else { Issue.record("no record"); return }
        var chain = record.chain
        chain[5] ^= 0x80
        for replacement in [
            AuditRecord(sequence: record.sequence, event: record.event, chain: chain),
            AuditRecord(sequence: record.sequence ^ 0x100, event: record.event, chain: record.chain),
            AuditRecord(sequence: record.sequence - 3, event: record.event, chain: record.chain),
        ] {
            var entries = original
            entries[target] = .record(replacement)
            let report = try AuditFixtures.verifier().verify(entries: entries, checkpoints: [])
            #expect(report.chainBreak?.kind == .modified)
            #expect(report.chainBreak?.position == target)
        }
    }

    @Test("Deleting a record is reported as deleted at the gap")
    func deleted() async throws {
        var entries = try await Self.fullLog()
        entries.remove(at: 10)
        let found = try AuditFixtures.verifier().verify(entries: entries, checkpoints: []).chainBreak
        #expect(found == AuditChainBreak(kind: .deleted, position: 10, expectedSequence: 11, foundSequence: 12))
    }

    @Test("Inserting a forged record or a duplicate is reported as inserted")
    func inserted() async throws {
        let original = try await Self.fullLog()
        let forged = AuditRecord(
            sequence: 11, event: try AuditFixtures.fullEvent(999), chain: [UInt8](repeating: 0xAB, count: 32))
        for extra in [AuditLogEntry.record(forged), original[4]] {
            var entries = original
            entries.insert(extra, at: 10)
            let found = try AuditFixtures.verifier().verify(entries: entries, checkpoints: []).chainBreak
            #expect(found?.kind == .inserted)
            #expect(found?.position == 10)
        }
    }

    @Test("Swapping two records is reported as reordered at the first of them")
    func reordered() async throws {
        var entries = try await Self.fullLog()
        entries.swapAt(20, 21)
        let found = try AuditFixtures.verifier().verify(entries: entries, checkpoints: []).chainBreak
        #expect(found == AuditChainBreak(kind: .reordered, position: 20, expectedSequence: 21, foundSequence: 22))
    }

    @Test("Cutting off the tail is reported against the last exported checkpoint")
    func truncated() async throws {
        let sink = try await AuditFixtures.memoryLog(count: 50)
        let exported = try await sink.checkpoints()
        #expect(exported.last?.sequence == 50)
        let entries = Array(sink.allEntries.prefix(45))
        let verifier = try AuditFixtures.verifier()
        #expect(
            verifier.verify(entries: entries, checkpoints: exported).chainBreak
                == AuditChainBreak(kind: .truncated, position: 45, expectedSequence: 46, foundSequence: 50))
        // Without the exported checkpoint a clean cut cannot be seen: that is why checkpoints go off-host.
        #expect(verifier.verify(entries: entries, checkpoints: []).isIntact)
    }

    @Test("A forged or foreign checkpoint is rejected; a checkpoint that disagrees with the log is a mismatch")
    func checkpoints() async throws {
        let sink = try await AuditFixtures.memoryLog(count: 20)
        let entries = sink.allEntries
        let genuine = try await sink.checkpoints()
        let verifier = try AuditFixtures.verifier()
        var signature = genuine[0].signature
        signature[0] ^= 1
        let forged = AuditCheckpoint(
            sequence: genuine[0].sequence, chain: genuine[0].chain, timestamp: genuine[0].timestamp,
            signature: signature)
        #expect(verifier.verify(entries: entries, checkpoints: [forged]).chainBreak?.kind == .checkpointForged)
        let other = try AuditSigningKey.generate()
        let foreign = AuditCheckpoint(sequence: 10, chain: genuine[0].chain, timestamp: 0, signingKey: other)
        #expect(verifier.verify(entries: entries, checkpoints: [foreign]).chainBreak?.kind == .checkpointForged)
        let wrongChain = AuditCheckpoint(
            sequence: 5, chain: genuine[0].chain, timestamp: 0, signingKey: try AuditFixtures.signingKey())
        #expect(
            verifier.verify(entries: entries, checkpoints: [wrongChain]).chainBreak
                == AuditChainBreak(kind: .checkpointMismatch, position: 4, expectedSequence: 5, foundSequence: 5))
    }

    @Test("A log checked with the wrong chain key does not verify")
    func wrongKey() async throws {
        let sink = try await AuditFixtures.memoryLog(count: 5)
        let verifier = AuditVerifier(chainKey: try AuditChainKey.generate(), checkpointKey: nil)
        #expect(verifier.verify(entries: sink.allEntries, checkpoints: []).chainBreak?.kind == .modified)
    }

    @Test("100,000 events written through the log verify intact (streamed in chunks)")
    func hundredThousand() async throws {
        let sink = try await AuditFixtures.memoryLog(count: 100_000, checkpointInterval: 10_000)
        let clock = ContinuousClock()
        var report: AuditVerificationReport?
        let elapsed = try await clock.measure {
            report = try await AuditFixtures.verifier().verify(sink, chunkSize: 10_000)
        }
        #expect(report == .intact(records: 100_000, lastSequence: 100_000, checkpointsChecked: 10))
        print("verified 100,000 in-memory records in \(elapsed)")
    }
}

/// Any JSON value (to re-encode the vector records).
enum JSONValue: Codable {
    case string(String)
    case number(Int64)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
