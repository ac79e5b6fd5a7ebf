import Foundation
import PHIGuardTestSupport
import Synchronization
import Testing

@testable import PHIGuardAudit

@Suite("Audit log: batching, back-pressure, fail-closed, resume")
struct AuditLogTests {
    func makeLog(
        _ sink: any AuditSink, configuration: AuditLog.Configuration = .init(),
        exporter: (@Sendable (AuditCheckpoint) async -> Void)? = nil
    ) async throws -> AuditLog {
        try await AuditLog(
            sink: sink, chainKey: try AuditFixtures.chainKey(), signingKey: try AuditFixtures.signingKey(),
            configuration: configuration, checkpointExporter: exporter)
    }

    @Test("With a failing sink, a PHI read that requires auditing is refused and its body never runs")
    func failClosed() async throws {
        let sink = FlakySink()
        let log = try await makeLog(sink, configuration: .init(retryInterval: .milliseconds(20)))
        let read = try AuditFixtures.everyKind()[11]
        #expect(try await log.performAudited(read) { "record" } == "record")
        sink.setFailing(true)
        let bodyRan = Mutex(false)
        await #expect(throws: AuditError.sinkFailed) {
            _ = try await log.performAudited(read) { bodyRan.withLock { $0 = true } }
        }
        await #expect(throws: AuditError.sinkUnavailable) {
            _ = try await log.performAudited(read) { bodyRan.withLock { $0 = true } }
        }
        #expect(bodyRan.withLock { $0 } == false)
        #expect(await log.isSinkFailing)
        // The failed event was not dropped: once the sink recovers it is written, and the chain is whole.
        sink.setFailing(false)
        try await waitUntil { await log.isSinkFailing == false }
        #expect(try await log.performAudited(read) { "again" } == "again")
        try await log.close()
        let report = try await AuditFixtures.verifier().verify(sink.inner)
        #expect(report == .intact(records: 3, lastSequence: 3, checkpointsChecked: 1))
    }

    @Test("The fail-open policy runs the body without an audit record")
    func failOpen() async throws {
        let sink = FlakySink(failing: false)
        let log = try await makeLog(sink, configuration: .init(failurePolicy: .failOpen))
        sink.setFailing(true)
        let result = try await log.performAudited(try AuditFixtures.everyKind()[11]) { 42 }
        #expect(result == 42)
        await #expect(throws: AuditError.unwrittenEvents(count: 1)) { try await log.close() }
    }

    @Test("Closing with a failing sink reports the unwritten events instead of dropping them")
    func closeReportsUnwritten() async throws {
        let sink = FlakySink(delay: .milliseconds(50))
        let log = try await makeLog(sink, configuration: .init(retryInterval: .milliseconds(10)))
        for event in try AuditFixtures.everyKind().prefix(3) { try await log.append(event, durability: .queued) }
        sink.setFailing(true)
        await #expect(throws: AuditError.unwrittenEvents(count: 3)) { try await log.close() }
        await #expect(throws: AuditError.closed) { try await log.append(try AuditFixtures.fullEvent()) }
        #expect(sink.inner.count == 0)
    }

    @Test("Back-pressure: a slow sink makes appends wait, and every event arrives in order")
    func backPressure() async throws {
        let sink = FlakySink(delay: .milliseconds(5))
        let log = try await makeLog(sink, configuration: .init(batchSize: 8, maximumPendingEvents: 16))
        let maximumPending = Mutex(0)
        for index in 0..<200 {
            try await log.append(try AuditFixtures.fullEvent(index), durability: .queued)
            let pending = await log.pendingCount
            maximumPending.withLock { $0 = max($0, pending) }
        }
        try await log.close()
        #expect(maximumPending.withLock { $0 } <= 16)
        let report = try await AuditFixtures.verifier().verify(sink.inner)
        #expect(report.isIntact)
        #expect(sink.inner.count == 200)
    }

    @Test("Concurrent callers are group-committed into one unbroken chain")
    func concurrentAppends() async throws {
        let sink = InMemoryAuditSink()
        let log = try await makeLog(sink, configuration: .init(batchSize: 32))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<16 {
                group.addTask {
                    for index in 0..<50 { try await log.append(try AuditFixtures.fullEvent(task * 100 + index)) }
                }
            }
            try await group.waitForAll()
        }
        #expect(await log.lastCommittedSequence == 800)
        try await log.close()
        #expect(try await AuditFixtures.verifier().verify(sink).isIntact)
    }

    @Test("Checkpoints are exported after commit, every interval and at close")
    func exporter() async throws {
        let exported = Mutex<[UInt64]>([])
        let sink = InMemoryAuditSink()
        let log = try await makeLog(sink, configuration: .init(checkpointInterval: 4)) { checkpoint in
            exported.withLock { $0.append(checkpoint.sequence) }
        }
        for index in 0..<10 { try await log.append(try AuditFixtures.fullEvent(index)) }
        try await log.close()
        #expect(exported.withLock { $0 } == [4, 8, 10])
        #expect(try await sink.checkpoints().map(\.sequence) == [4, 8, 10])
        let publicKey = try AuditFixtures.signingKey().publicKey
        #expect(try await sink.checkpoints().allSatisfy { $0.isValid(under: publicKey) })
    }

    @Test("A JSON-lines log resumes its chain after reopening, and verifies from the file")
    func jsonLinesResume() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID()).jsonl").path
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: path + ".checkpoints")
        }
        for round in 0..<2 {
            let log = try await makeLog(try JSONLinesAuditSink(path: path), configuration: .init(checkpointInterval: 5))
            for event in try AuditFixtures.everyKind() { try await log.append(event) }
            try await log.close()
            _ = round
        }
        let reader = try JSONLinesAuditSink.reader(path: path)
        let count = try AuditFixtures.everyKind().count * 2
        let report = try await AuditFixtures.verifier().verify(reader, chunkSize: 5)
        #expect(report.isIntact)
        if case .intact(let records, let last, _) = report {
            #expect(records == count)
            #expect(last == UInt64(count))
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test("Flipping a byte in each field of a JSON-lines record breaks verification at that line")
    func jsonLinesByteFlips() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID()).jsonl").path
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: path + ".checkpoints")
        }
        let log = try await makeLog(try JSONLinesAuditSink(path: path, fsyncPolicy: .never))
        for index in 0..<30 { try await log.append(try AuditFixtures.fullEvent(index), durability: .queued) }
        try await log.close()
        let original = try String(contentsOfFile: path, encoding: .utf8)
        var lines = original.split(separator: "\n").map(String.init)
        let target = 12
        let keys = [
            "seq", "ts", "kind", "actor", "role", "session", "action", "resourceType", "resourceID", "patient",
            "fields", "outcome", "reason", "rules", "breakGlass", "breakGlassReason", "related", "attributes", "chain",
        ]
        let verifier = try AuditFixtures.verifier()
        for key in keys {
            var bytes = Array(lines[target].utf8)
            let marker = Array("\"\(key)\":".utf8)
            guard let start = bytes.firstRange(of: marker)?.upperBound else {
                Issue.record("key \(key) missing")
                continue
            }
            // The first byte of the value that is not JSON punctuation.
            var index = start
            while [UInt8(ascii: "\""), UInt8(ascii: "["), UInt8(ascii: "{")].contains(bytes[index]) { index += 1 }
            bytes[index] ^= 0x01
            var tampered = lines
            tampered[target] = String(decoding: bytes, as: UTF8.self)
            try (tampered.joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
            let found = try await verifier.verify(try JSONLinesAuditSink.reader(path: path)).chainBreak
            #expect(found?.position == target, "field \(key)")
            #expect(found?.kind == .modified || found?.kind == .unreadable, "field \(key)")
        }
        lines.remove(at: target)
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try await verifier.verify(try JSONLinesAuditSink.reader(path: path)).chainBreak?.kind == .deleted)
    }

    @Test("Break-glass accesses stay unreviewed until a review event names them")
    func breakGlassReview() async throws {
        let sink = InMemoryAuditSink()
        let log = try await makeLog(sink)
        let events = try AuditFixtures.everyKind().dropLast()
        for event in events { try await log.append(event) }
        let second = try await log.append(
            try .accessDecision(
                actorID: "user:9", role: "physician", action: "read", resourceType: "Patient", resourceID: "MRN-1",
                patientID: "MRN-1", allowed: true, breakGlass: "ETREAT"))
        var open = try await BreakGlassReview.unreviewed(in: sink)
        #expect(open.map(\.sequence) == [14, second])
        try await log.markBreakGlassReviewed(sequence: 14, reviewerID: "privacy:1")
        open = try await BreakGlassReview.unreviewed(in: sink)
        #expect(open.map(\.sequence) == [second])
        try await log.close()
        #expect(try await AuditFixtures.verifier().verify(sink).isIntact)
    }

    @Test("A bad configuration is refused")
    func badConfiguration() async throws {
        await #expect(throws: AuditError.self) {
            _ = try await makeLog(InMemoryAuditSink(), configuration: .init(batchSize: 0))
        }
    }

    @Test("Four logs on one sink append at once: one chain, and each committed append returns its stored number")
    func manyWritersOneChain() async throws {
        let sink = InMemoryAuditSink()
        let kinds = try AuditFixtures.everyKind()
        let returned = try await withThrowingTaskGroup(of: [(UInt64, String)].self) { group in
            for writer in 0..<4 {
                group.addTask {
                    let log = try await makeLog(sink, configuration: .init(batchSize: 7, checkpointInterval: 50))
                    var mine: [(UInt64, String)] = []
                    for index in 0..<500 {
                        let event = kinds[(writer * 500 + index) % kinds.count]
                        if index % 50 == 0 {
                            let actor = "writer:\(writer)-\(index)"
                            let marker = try AuditEvent.login(succeeded: true, userID: actor, method: "password")
                            mine.append((try await log.append(marker, durability: .committed), actor))
                        } else {
                            try await log.append(event, durability: .queued)
                        }
                    }
                    try await log.close()
                    return mine
                }
            }
            var all: [(UInt64, String)] = []
            for try await mine in group { all += mine }
            return all
        }
        let report = try await AuditFixtures.verifier().verify(sink)
        #expect(report.isIntact, "\(report.breaks.prefix(3))")
        #expect(sink.count == 2000)
        let entries = sink.allEntries
        for (sequence, actor) in returned {
            guard case .record(let record) = entries[Int(sequence) - 1] else {
                Issue.record("no record at \(sequence)")
                continue
            }
            #expect(record.sequence == sequence)
            #expect(record.event.actorID == actor)
        }
    }

    @Test("A sink refuses an append whose expected tail is not the stored one")
    func compareAndAppend() async throws {
        let sink = InMemoryAuditSink()
        let log = try await makeLog(sink)
        try await log.append(try AuditFixtures.fullEvent(1))
        try await log.close()
        let first = try #require(try await sink.lastRecord())
        let stale = AuditRecord(sequence: 1, event: try AuditFixtures.fullEvent(2), chain: first.chain)
        await #expect(throws: AuditAppendConflict.self) {
            try await sink.append([stale], checkpoints: [], expectingAfter: nil)
        }
        #expect(sink.count == 1)
    }

    private func waitUntil(_ condition: @Sendable () async -> Bool) async throws {
        for _ in 0..<500 {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("condition not reached")
    }
}
