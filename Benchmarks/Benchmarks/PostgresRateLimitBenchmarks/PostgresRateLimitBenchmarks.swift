// Issue target: PostgreSQL checks ≥ 5,000/s on loopback with 8 connections, with zero over-admission.
// Needs PHIGUARD_POSTGRES_URL (`make bench` runs the suites under scripts/with-test-postgres.sh, over TLS).
import Benchmark
import Foundation
import Logging
import PHIGuardPostgres
import PHIGuardRateLimit
import PostgresNIO

let benchmarks: @Sendable () -> Void = {
    guard let text = ProcessInfo.processInfo.environment["PHIGUARD_POSTGRES_URL"] else {
        print("PostgresRateLimitBenchmarks: PHIGUARD_POSTGRES_URL is not set; run through `make bench`")
        return
    }
    // The test server accepts TLS only; its URL carries sslmode=verify-full and the throwaway CA.
    var configuration = try! PostgresConnectionURL(text).clientConfiguration()
    configuration.options.maximumConnections = 8
    configuration.options.minimumConnections = 8
    let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "bench"))
    Task { await client.run() }
    let secret = try! DigestSecret(copying: [UInt8](repeating: 7, count: 32))
    let store = try! PostgresRateLimitStore(
        client: client, table: "bench_rate_limits", keyDigestSecret: secret, timeout: .seconds(60))
    let generous = try! RateLimit("bench", count: 1_000_000, per: .seconds(1), burst: 1_000_000)
    let tight = try! RateLimit("bench-tight", count: 100, per: .seconds(86_400), burst: 100)

    // Each iteration: 1,000 single-limit checks in flight at once over the 8 connections.
    Benchmark(
        "PostgreSQL check, 8 connections, 1,000 in flight (throughput = batches/s; x1000 for checks/s)",
        configuration: .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(15), maxIterations: 200)
    ) { benchmark in
        try await store.migrate()
        benchmark.startMeasurement()
        for iteration in benchmark.scaledIterations {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<1_000 {
                    group.addTask {
                        try await store.check([RateLimitCheck(generous, key: "k\(iteration)-\(index % 500)")], cost: 1)
                            .allowed
                    }
                }
                for try await allowed in group { blackHole(allowed) }
            }
        }
    }

    // Over-admission: 5,000 concurrent checks against a limit of 100 must admit exactly 100.
    Benchmark(
        "PostgreSQL over-admission: 5,000 concurrent checks, limit 100 (overAdmitted must be 0)",
        configuration: .init(metrics: [.wallClock, .custom("overAdmitted")], maxIterations: 3)
    ) { benchmark in
        for iteration in benchmark.scaledIterations {
            let key = "tight-\(UUID().uuidString)-\(iteration)"
            let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<5_000 {
                    group.addTask { try await store.check([RateLimitCheck(tight, key: key)], cost: 1).allowed }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            benchmark.measurement(.custom("overAdmitted"), max(0, admitted - 100))
            if admitted != 100 { print("admitted \(admitted) of 5,000 against a limit of 100") }
        }
    }
}
