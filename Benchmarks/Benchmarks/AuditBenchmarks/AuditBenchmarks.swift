// Issue targets: ≥ 200,000 appends/s in memory, ≥ 50,000/s durable on SQLite (batched), verification
// ≥ 500,000 events/s. Peer in the same run: Benchmarks/peers/audit_chain.py (Python's hmac + sqlite3
// doing the same chain, encoding and inserts). In-process peer for verification: a raw loop of
// libsodium's crypto_auth_hmacsha256 over the very bytes the chain authenticates (the floor for
// verifying with libsodium, one-shot and from a pre-keyed state), so the figure worth quoting is the ratio.
import Benchmark
import CSodiumBench
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

let rawChainInput = RawChainInput(verificationLog.entries)

/// The raw-HMAC peer's input: for every record of `verificationLog`, `previous chain ‖ canonical`
/// (encoded here from RecordFormat.md, independently of PHIGuardAudit) and its stored chain value.
/// Building it checks that raw HMAC over these bytes reproduces every chain value, so the peer
/// hashes exactly the bytes that verification authenticates.
final class RawChainInput: @unchecked Sendable {
    // @unchecked Sendable: built once, then only read.
    let key = [UInt8](repeating: 1, count: 32)
    private(set) var messages: [UInt8] = []
    private(set) var bounds: [Range<Int>] = []
    private(set) var chains: [UInt8] = []

    init(_ entries: [AuditLogEntry]) {
        precondition(sodium_init() >= 0)
        var previous = [UInt8](repeating: 0, count: 32)
        for entry in entries {
            guard case .record(let record) = entry else { preconditionFailure("unreadable entry") }
            let start = messages.count
            messages += previous
            Self.appendCanonical(record, to: &messages)
            bounds.append(start..<messages.count)
            chains += record.chain
            previous = record.chain
        }
        precondition(verifyAll() == entries.count, "raw HMAC does not reproduce the chain")
        precondition(verifyAllPrekeyed() == entries.count, "raw HMAC does not reproduce the chain")
    }

    /// Recomputes every chain value with one-shot `crypto_auth_hmacsha256` (keying each call, as the
    /// plain API does) and counts those that match.
    func verifyAll() -> Int {
        var matches = 0
        var output = [UInt8](repeating: 0, count: 32)
        messages.withUnsafeBufferPointer { messages in
            chains.withUnsafeBufferPointer { chains in
                for (index, range) in bounds.enumerated() {
                    _ = crypto_auth_hmacsha256(
                        &output, messages.baseAddress! + range.lowerBound, UInt64(range.count), key)
                    if sodium_memcmp(output, chains.baseAddress! + index * 32, 32) == 0 { matches += 1 }
                }
            }
        }
        return matches
    }

    /// As ``verifyAll()``, but keys an HMAC state once and starts every record from a copy of it
    /// (what PHIGuard's verifier does): libsodium's floor for this work.
    func verifyAllPrekeyed() -> Int {
        var keyed = crypto_auth_hmacsha256_state()
        _ = crypto_auth_hmacsha256_init(&keyed, key, key.count)
        var matches = 0
        var output = [UInt8](repeating: 0, count: 32)
        messages.withUnsafeBufferPointer { messages in
            chains.withUnsafeBufferPointer { chains in
                for (index, range) in bounds.enumerated() {
                    var state = keyed
                    _ = crypto_auth_hmacsha256_update(
                        &state, messages.baseAddress! + range.lowerBound, UInt64(range.count))
                    _ = crypto_auth_hmacsha256_final(&state, &output)
                    if sodium_memcmp(output, chains.baseAddress! + index * 32, 32) == 0 { matches += 1 }
                }
            }
        }
        return matches
    }

    private static func appendCanonical(_ record: AuditRecord, to out: inout [UInt8]) {
        func u64(_ value: UInt64) { withUnsafeBytes(of: value.bigEndian) { out += $0 } }
        func u32(_ value: Int) { withUnsafeBytes(of: UInt32(value).bigEndian) { out += $0 } }
        func str(_ value: String) {
            u32(value.utf8.count)
            out += value.utf8
        }
        func opt(_ value: String?) {
            out.append(value == nil ? 0 : 1)
            value.map(str)
        }
        func list(_ values: [String]) {
            u32(values.count)
            values.forEach(str)
        }
        let event = record.event
        out += Array("PGA1".utf8)
        u64(record.sequence)
        u64(UInt64(bitPattern: event.timestamp))
        str(event.kind.rawValue)
        for value in [
            event.actorID, event.actorRole, event.sessionID, event.action, event.resourceType, event.resourceID,
            event.patientID,
        ] { opt(value) }
        list(event.fields)
        str(event.outcome.rawValue)
        opt(event.reason)
        list(event.ruleIDs)
        out.append(event.breakGlass ? 1 : 0)
        opt(event.breakGlassReason)
        out.append(event.relatedSequence == nil ? 0 : 1)
        event.relatedSequence.map(u64)
        u32(event.attributes.count)
        for (key, value) in event.attributes.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            str(key)
            str(value)
        }
    }
}

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

    Benchmark(
        "verify peer: raw crypto_auth_hmacsha256 loop, same bytes (100k records per iteration)",
        configuration: .init(scalingFactor: .one)
    ) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(rawChainInput.verifyAll()) }
    }

    Benchmark(
        "verify peer: raw crypto_auth_hmacsha256 from a pre-keyed state, same bytes (100k records per iteration)",
        configuration: .init(scalingFactor: .one)
    ) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(rawChainInput.verifyAllPrekeyed()) }
    }
}
