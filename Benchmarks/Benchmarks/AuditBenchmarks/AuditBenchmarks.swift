// Issue targets: ≥ 200,000 appends/s in memory, ≥ 50,000/s durable on SQLite (batched), verification
// ≥ 500,000 events/s. Peer in the same run: Benchmarks/peers/audit_chain.py (Python's hmac + sqlite3
// doing the same chain, encoding and inserts).
import Benchmark
import Foundation
import PHIGuardAudit
import PHIGuardSQLite

let chainKey: AuditChainKey = {
    var bytes = [UInt8](repeating: 1, count: 32)
    return try! AuditChainKey(bytes: &bytes)
}()
let signingKey: AuditSigningKey = {
    var seed = [UInt8](repeating: 2, count: 32)
    return try! AuditSigningKey(seed: &seed)
}()
let event = try! AuditEvent.accessDecision(
    actorID: "user:42", role: "nurse", action: "read", resourceType: "Observation", resourceID: "obs-9f2c",
    patientID: "MRN-000123", fieldsReturned: ["code", "value"], allowed: true, ruleIDs: ["nurse-own-ward"])

/// 100,000 records written through the log into memory, for the verification benchmark.
let verificationLog: (entries: [AuditLogEntry], checkpoints: [AuditCheckpoint]) = {
    let box = ResultBox()
    let done = DispatchSemaphore(value: 0)
    Task {
        let sink = InMemoryAuditSink()
        let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
        for _ in 0..<100_000 { try await log.append(event, durability: .queued) }
        try await log.close()
        box.set(sink.allEntries, try await sink.checkpoints())
        done.signal()
    }
    done.wait()
    return box.value
}()

final class ResultBox: @unchecked Sendable {
    // @unchecked Sendable: written once before the semaphore is signalled, read after the wait.
    private(set) var value: (entries: [AuditLogEntry], checkpoints: [AuditCheckpoint]) = ([], [])
    func set(_ entries: [AuditLogEntry], _ checkpoints: [AuditCheckpoint]) { value = (entries, checkpoints) }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(10))

    Benchmark("append, in memory, queued (one task)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let log = try await AuditLog(
            sink: InMemoryAuditSink(), chainKey: chainKey, signingKey: signingKey,
            configuration: .init(batchSize: 4096))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { try await log.append(event, durability: .queued) }
        try await log.close()
        benchmark.stopMeasurement()
    }

    Benchmark(
        "append, SQLite durable (WAL, synchronous=FULL), batches of 4096", configuration: .init(scalingFactor: .kilo)
    ) { benchmark in
        let path = NSTemporaryDirectory() + "audit-bench-\(UUID()).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let sink = try await SQLiteAuditSink.open(path: path)
        let log = try await AuditLog(
            sink: sink, chainKey: chainKey, signingKey: signingKey, configuration: .init(batchSize: 4096))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { try await log.append(event, durability: .queued) }
        try await log.close()  // returns when every batch is committed and fsynced
        benchmark.stopMeasurement()
        try await sink.close()
    }

    Benchmark("append, SQLite durable, committed, 64 concurrent callers", configuration: .init(scalingFactor: .kilo)) {
        benchmark in
        let path = NSTemporaryDirectory() + "audit-bench-\(UUID()).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let sink = try await SQLiteAuditSink.open(path: path)
        let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
        let perTask = max(benchmark.scaledIterations.count / 64, 1)
        benchmark.startMeasurement()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<64 {
                group.addTask { for _ in 0..<perTask { try await log.append(event, durability: .committed) } }
            }
            try await group.waitForAll()
        }
        benchmark.stopMeasurement()
        try await log.close()
        try await sink.close()
    }

    Benchmark("verify, in memory (100k records per iteration)", configuration: .init(scalingFactor: .one)) {
        benchmark in
        let verifier = AuditVerifier(chainKey: chainKey, checkpointKey: signingKey.publicKey)
        for _ in benchmark.scaledIterations {
            blackHole(verifier.verify(entries: verificationLog.entries, checkpoints: verificationLog.checkpoints))
        }
    }
}
