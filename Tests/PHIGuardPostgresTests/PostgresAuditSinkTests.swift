import Foundation
import Logging
import PHIGuardAudit
import PHIGuardPostgres
import PHIGuardTestSupport
import PostgresNIO
import Testing

/// Runs over verified TLS against the server from `scripts/with-test-postgres.sh` (see ``TestDatabase``).
/// Under CI without that server the tests run and fail, so CI cannot pass by skipping them.
@Suite("PostgreSQL audit sink", .serialized, .enabled(if: TestDatabase.enabled))
struct PostgresAuditSinkTests {

    static func keys() throws -> (AuditChainKey, AuditSigningKey) {
        var key = [UInt8](repeating: 5, count: 32)
        var seed = [UInt8](repeating: 6, count: 32)
        return (try AuditChainKey(bytes: &key), try AuditSigningKey(seed: &seed))
    }

    static func event(_ index: Int, breakGlass: Bool = false) throws -> AuditEvent {
        try .accessDecision(
            actorID: "user:\(index % 7)", role: "nurse", action: "read", resourceType: "Observation",
            resourceID: "obs-\(index)", patientID: "MRN-\(index % 11)", fieldsReturned: ["code", "value"],
            allowed: index % 5 != 0, ruleIDs: ["r\(index % 3)"], breakGlass: breakGlass ? "ETREAT" : nil)
    }

    /// Runs raw SQL as an attacker with database access would.
    func sql(_ text: String) async throws {
        try await TestDatabase.withClient(connections: 1) { client in
            _ = try await client.query(PostgresQuery(unsafeSQL: text), logger: Logger(label: "test"))
        }
    }

    /// A migrated sink on `client` in tables `pgtest_audit_*`.
    func makeSink(_ client: PostgresClient) async throws -> PostgresAuditSink {
        let sink = try PostgresAuditSink(client: client, tablePrefix: "pgtest_audit")
        try await sink.migrate()
        try await sink.migrate()  // idempotent
        return sink
    }

    @Test("Write, verify, resume, review; SQL edits and deletes are detected at their position")
    func roundTrip() async throws {
        let (chainKey, signingKey) = try Self.keys()
        try await sql("DROP TABLE IF EXISTS pgtest_audit_records, pgtest_audit_checkpoints")
        var breakGlass: [UInt64] = []
        for round in 0..<2 {
            try await TestDatabase.withClient { client in
                let sink = try await makeSink(client)
                let log = try await AuditLog(
                    sink: sink, chainKey: chainKey, signingKey: signingKey,
                    configuration: .init(batchSize: 256, checkpointInterval: 100))
                for index in 0..<1500 {
                    let sequence = try await log.append(
                        try Self.event(round * 1500 + index, breakGlass: index == 7), durability: .queued)
                    if index == 7 { breakGlass.append(sequence) }
                }
                try await log.close()
            }
        }
        try await TestDatabase.withClient { client in
            try await verifyAndTamper(try await makeSink(client), breakGlass: breakGlass)
        }
    }

    @Test("4 logs on 4 clients × 2,000 appends at once make one intact chain of exactly 8,000 records")
    func manyWritersOneChain() async throws {
        let (chainKey, signingKey) = try Self.keys()
        try await sql("DROP TABLE IF EXISTS pgmany_audit_records, pgmany_audit_checkpoints")
        try await TestDatabase.withClient(connections: 1) { client in
            try await PostgresAuditSink(client: client, tablePrefix: "pgmany_audit").migrate()
        }
        let stored = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for writer in 0..<4 {
                group.addTask {
                    try await TestDatabase.withClient(connections: 2) { client in
                        let sink = try PostgresAuditSink(client: client, tablePrefix: "pgmany_audit")
                        let log = try await AuditLog(
                            sink: sink, chainKey: chainKey, signingKey: signingKey,
                            configuration: .init(batchSize: 25, checkpointInterval: 500))
                        var sequences: [UInt64] = []
                        for index in 0..<2000 {
                            let durability: AuditDurability = index % 100 == 0 ? .committed : .queued
                            let sequence = try await log.append(
                                try Self.event(writer * 2000 + index), durability: durability)
                            if durability == .committed { sequences.append(sequence) }
                        }
                        try await log.close()
                        return sequences
                    }
                }
            }
            var all: [UInt64] = []
            for try await sequences in group { all += sequences }
            return all
        }
        try await TestDatabase.withClient { client in
            let sink = try PostgresAuditSink(client: client, tablePrefix: "pgmany_audit")
            let verifier = AuditVerifier(chainKey: chainKey, checkpointKey: signingKey.publicKey)
            let report = try await verifier.verify(sink)
            #expect(report.isIntact, "\(report.breakCount) breaks, first: \(report.breaks.prefix(5))")
            if case .intact(let records, let last, _) = report {
                #expect(records == 8000)
                #expect(last == 8000)
            }
            // A committed append returns the sequence number its event was stored under.
            #expect(Set(stored).count == stored.count)
            let entries = try await sink.entries(from: 0, limit: 8001)
            for sequence in stored {
                guard case .record(let record) = entries[Int(sequence) - 1] else {
                    Issue.record("no record at \(sequence)")
                    continue
                }
                #expect(record.sequence == sequence)
                #expect(record.event.resourceID.map { Int($0.dropFirst(4))! % 100 == 0 } == true)
            }
        }
    }

    @Test("read-only verification of dropped tables reports them and creates nothing")
    func droppedTablesAreReported() async throws {
        try await sql("DROP TABLE IF EXISTS pgdropped_audit_records, pgdropped_audit_checkpoints")
        try await TestDatabase.withClient { client in
            let sink = try PostgresAuditSink(client: client, tablePrefix: "pgdropped_audit")
            await #expect(throws: AuditError.self) { try await sink.verifyTablesExist() }
        }
    }

    /// The second half of ``roundTrip()``: checks the stored log, then edits it with SQL.
    func verifyAndTamper(_ sink: PostgresAuditSink, breakGlass: [UInt64]) async throws {
        let (chainKey, signingKey) = try Self.keys()
        let verifier = AuditVerifier(chainKey: chainKey, checkpointKey: signingKey.publicKey)
        #expect(
            try await verifier.verify(sink, chunkSize: 700)
                == .intact(records: 3000, lastSequence: 3000, checkpointsChecked: 30))
        #expect(try await sink.unreviewedBreakGlass().map(\.sequence) == breakGlass)
        let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
        try await log.markBreakGlassReviewed(sequence: breakGlass[1], reviewerID: "privacy:1")
        try await log.close()
        #expect(try await sink.unreviewedBreakGlass().map(\.sequence) == [breakGlass[0]])
        let exported = try await sink.checkpoints()

        try await sql("UPDATE pgtest_audit_records SET patient_id = 'MRN-0' WHERE sequence = 1234")
        var found = try await verifier.verify(sink, checkpoints: exported).chainBreak
        #expect(found == AuditChainBreak(kind: .modified, position: 1233, expectedSequence: 1234, foundSequence: 1234))

        try await sql("DELETE FROM pgtest_audit_records WHERE sequence = 1234")
        found = try await verifier.verify(sink, checkpoints: exported).chainBreak
        #expect(found == AuditChainBreak(kind: .deleted, position: 1233, expectedSequence: 1234, foundSequence: 1235))

        try await sql("DELETE FROM pgtest_audit_records WHERE sequence >= 1234")
        found = try await verifier.verify(sink, checkpoints: exported).chainBreak
        #expect(found == AuditChainBreak(kind: .truncated, position: 1233, expectedSequence: 1234, foundSequence: 3001))
    }
}
