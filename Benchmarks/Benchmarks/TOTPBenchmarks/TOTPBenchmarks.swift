// Issue target: TOTP verify with window ±1 at least 20x faster than pyotp's verify(valid_window=1),
// measured in the same run. Both sides report the custom metric `nsPerVerify`: the mean time of one
// verification over a batch of 20,000, so the numbers compare directly.
import Benchmark
import Foundation
import PHIGuardTOTP

let batch = 20_000
let totp = TOTP(secret: try! TOTPSecret())
let now = SystemClock().now
let currentCode = try! totp.code(at: now)
let lastStep = try! totp.timeStep(at: now) - 1

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.custom("nsPerVerify"), .wallClock],
        maxDuration: .seconds(20),
        maxIterations: 15
    )

    // Every candidate in the window is computed and compared (constant time), whether or not it matches.
    Benchmark("TOTP verify ±1, current code: PHIGuard TOTP.verify") { benchmark in
        for _ in benchmark.scaledIterations {
            let start = ContinuousClock.now
            for _ in 0..<batch { blackHole(try totp.verify(currentCode, at: now, window: 1, after: lastStep)) }
            benchmark.measurement(.custom("nsPerVerify"), nanoseconds(ContinuousClock.now - start) / batch)
        }
    }

    // pyotp 2.12.0 (pinned in scripts/interop-requirements.txt), run from the interop virtualenv that
    // `make bench` creates; see peers/totp.py.
    Benchmark("TOTP verify ±1, current code: pyotp verify(valid_window=1)") { benchmark in
        for _ in benchmark.scaledIterations {
            benchmark.measurement(.custom("nsPerVerify"), try runPyOTP())
        }
    }
}

func nanoseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    return Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
}

/// The Python interpreter with pyotp: `PHIGUARD_PYTHON`, else the repository's `.venv-interop`.
func peerPython() -> URL {
    if let configured = ProcessInfo.processInfo.environment["PHIGUARD_PYTHON"], !configured.isEmpty {
        return URL(fileURLWithPath: configured)
    }
    return URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()  // Benchmarks/
        .deletingLastPathComponent().appendingPathComponent(".venv-interop/bin/python")
}

/// Runs peers/totp.py for one batch and returns pyotp's mean nanoseconds per verify.
func runPyOTP() throws -> Int {
    let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("peers/totp.py")
    let process = Process()
    process.executableURL = peerPython()
    process.arguments = [script.path, String(batch), "1"]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    struct Report: Decodable { let ns_per_op: Double }
    guard process.terminationStatus == 0 else { throw PeerFailure() }
    return Int(try JSONDecoder().decode(Report.self, from: data).ns_per_op.rounded())
}

struct PeerFailure: Error {}
