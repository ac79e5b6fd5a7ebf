import Foundation
import PHIGuardAudit
import PHIGuardSQLite
import PHIGuardTestSupport
import SQLiteNIO
import Testing

@Suite("SQLite audit sink")
struct SQLiteAuditSinkTests {
    static func keys() throws -> (AuditChainKey, AuditSigningKey) {
        var key = [UInt8](repeating: 3, count: 32)
        var seed = [UInt8](repeating: 4, count: 32)
        return (try AuditChainKey(bytes: &key), try AuditSigningKey(seed: &seed))
    }

    static func event(_ index: Int, breakGlass: Bool = false) throws -> AuditEvent {
        try .accessDecision(
            actorID: "user:\(index % 7)", role: "nurse", action: "read", resourceType: "Observation",
            resourceID: "obs-\(index)", patientID: "MRN-\(index % 11)", fieldsReturned: ["code", "value"],
            allowed: index % 5 != 0, ruleIDs: ["r\(index % 3)"], breakGlass: breakGlass ? "ETREAT" : nil)
    }

    func withDatabase(_ body: (String) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID()).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        try await body(path)
    }

    /// Runs raw SQL against the database file, as an attacker with database access would.
    func tamper(_ path: String, _ sql: String) async throws {
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        _ = try await connection.query(sql, [])
        try await connection.close()
    }

    @Test("Records written through the log verify; edits, deletes, inserts and swaps made with SQL do not")
    func tamperEvidence() async throws {
        let (chainKey, signingKey) = try Self.keys()
        try await withDatabase { path in
            let sink = try await SQLiteAuditSink.open(path: path)
            let log = try await AuditLog(
                sink: sink, chainKey: chainKey, signingKey: signingKey, configuration: .init(checkpointInterval: 25))
            for index in 0..<100 { try await log.append(try Self.event(index), durability: .queued) }
            try await log.close()
            let verifier = AuditVerifier(chainKey: chainKey, checkpointKey: signingKey.publicKey)
            #expect(
                try await verifier.verify(sink, chunkSize: 16)
                    == .intact(records: 100, lastSequence: 100, checkpointsChecked: 4))
            let exported = try await sink.checkpoints()
            try await sink.close()

            let cases: [(String, AuditChainBreak.Kind, Int)] = [
                ("UPDATE audit_records SET patient_id = 'MRN-999' WHERE sequence = 40", .modified, 39),
                ("UPDATE audit_records SET outcome = 'allow' WHERE sequence = 41", .modified, 40),
                ("UPDATE audit_records SET fields = '[\"code\"]' WHERE sequence = 42", .modified, 41),
                ("DELETE FROM audit_records WHERE sequence = 43", .deleted, 42),
                ("DELETE FROM audit_records WHERE sequence > 90", .truncated, 90),
            ]
            for (sql, kind, position) in cases {
                let copy = path + ".copy"
                defer { try? FileManager.default.removeItem(atPath: copy) }
                try FileManager.default.copyItem(atPath: path, toPath: copy)
                try await tamper(copy, sql)
                let tampered = try await SQLiteAuditSink.open(path: copy)
                let found = try await verifier.verify(tampered, checkpoints: exported).chainBreak
                #expect(found?.kind == kind, "\(sql)")
                #expect(found?.position == position, "\(sql)")
                try await tampered.close()
            }
        }
    }

    @Test("A swapped pair of rows is reported as reordered")
    func swappedRows() async throws {
        let (chainKey, signingKey) = try Self.keys()
        try await withDatabase { path in
            let sink = try await SQLiteAuditSink.open(path: path)
            let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
            for index in 0..<20 { try await log.append(try Self.event(index), durability: .queued) }
            try await log.close()
            try await sink.close()
            // Swap the contents of positions 10 and 11 (every column but the position).
            let columns =
                "sequence, timestamp, kind, actor_id, actor_role, session_id, action, resource_type, "
                + "resource_id, patient_id, fields, outcome, reason, rule_ids, break_glass, break_glass_reason, "
                + "related_sequence, attributes, chain"
            try await tamper(path, "CREATE TABLE t AS SELECT * FROM audit_records WHERE position IN (10, 11)")
            try await tamper(path, "DELETE FROM audit_records WHERE position IN (10, 11)")
            try await tamper(
                path, "INSERT INTO audit_records (position, \(columns)) SELECT 21 - position, \(columns) FROM t")
            let reopened = try await SQLiteAuditSink.open(path: path)
            let verifier = AuditVerifier(chainKey: chainKey, checkpointKey: signingKey.publicKey)
            let found = try await verifier.verify(reopened).chainBreak
            #expect(found == AuditChainBreak(kind: .reordered, position: 9, expectedSequence: 10, foundSequence: 11))
            try await reopened.close()
        }
    }

    @Test("The log resumes after reopening; break-glass review works by SQL and by scan")
    func resumeAndReview() async throws {
        let (chainKey, signingKey) = try Self.keys()
        try await withDatabase { path in
            var breakGlassSequences: [UInt64] = []
            for round in 0..<2 {
                let sink = try await SQLiteAuditSink.open(path: path)
                let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
                for index in 0..<10 {
                    let sequence = try await log.append(try Self.event(round * 10 + index, breakGlass: index == 3))
                    if index == 3 { breakGlassSequences.append(sequence) }
                }
                try await log.close()
                try await sink.close()
            }
            let sink = try await SQLiteAuditSink.open(path: path)
            #expect(try await sink.unreviewedBreakGlass().map(\.sequence) == breakGlassSequences)
            let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
            try await log.markBreakGlassReviewed(sequence: breakGlassSequences[0], reviewerID: "privacy:1")
            try await log.close()
            #expect(try await sink.unreviewedBreakGlass().map(\.sequence) == [breakGlassSequences[1]])
            #expect(try await BreakGlassReview.unreviewed(in: sink).map(\.sequence) == [breakGlassSequences[1]])
            let verifier = AuditVerifier(chainKey: chainKey, checkpointKey: signingKey.publicKey)
            #expect(try await verifier.verify(sink) == .intact(records: 21, lastSequence: 21, checkpointsChecked: 3))
            try await sink.close()
        }
    }

    @Test("A row with an unparseable column is reported unreadable at its position")
    func unreadableRow() async throws {
        let (chainKey, signingKey) = try Self.keys()
        try await withDatabase { path in
            let sink = try await SQLiteAuditSink.open(path: path)
            let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
            for index in 0..<5 { try await log.append(try Self.event(index)) }
            try await log.close()
            try await sink.close()
            try await tamper(path, "UPDATE audit_records SET kind = 'no-such-kind' WHERE sequence = 3")
            let reopened = try await SQLiteAuditSink.open(path: path)
            let found = try await AuditVerifier(chainKey: chainKey, checkpointKey: signingKey.publicKey)
                .verify(reopened).chainBreak
            #expect(found?.kind == .unreadable)
            #expect(found?.position == 2)
            try await reopened.close()
        }
    }

    @Test("A database from before the unique index that already holds a fork opens, keeps it, and grows one chain")
    func forkedDatabaseMigrates() async throws {
        let (chainKey, signingKey) = try Self.keys()
        try await withDatabase { path in
            let sink = try await SQLiteAuditSink.open(path: path)
            let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
            for index in 0..<10 { try await log.append(try Self.event(index), durability: .queued) }
            try await log.close()
            try await sink.close()
            // As an earlier version left it: no unique index, and a second writer's copy of record 10.
            let columns =
                "sequence, timestamp, kind, actor_id, actor_role, session_id, action, resource_type, "
                + "resource_id, patient_id, fields, outcome, reason, rule_ids, break_glass, break_glass_reason, "
                + "related_sequence, attributes, chain"
            try await tamper(path, "DROP INDEX audit_records_sequence")
            try await tamper(
                path, "INSERT INTO audit_records (\(columns)) SELECT \(columns) FROM audit_records WHERE sequence = 10")
            let reopened = try await SQLiteAuditSink.open(path: path)
            let next = try await AuditLog(sink: reopened, chainKey: chainKey, signingKey: signingKey)
            for index in 10..<15 { try await next.append(try Self.event(index), durability: .queued) }
            try await next.close()
            let verifier = AuditVerifier(chainKey: chainKey, checkpointKey: signingKey.publicKey)
            let report = try await verifier.verify(reopened)
            // The old fork stays visible as evidence; the records after it continue one chain.
            #expect(
                report
                    == .broken(
                        [AuditChainBreak(kind: .inserted, position: 10, expectedSequence: 11, foundSequence: 10)],
                        total: 1))
            try await reopened.close()
        }
    }
}
