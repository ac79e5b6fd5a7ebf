public import Foundation

/// Runs Python peer libraries (argon2-cffi, pyotp, PyNaCl) for interop and differential tests.
///
/// `make test` creates the virtualenv `.venv-interop` with pinned versions and exports
/// `PHIGUARD_PYTHON` pointing at its interpreter. Without it the interop tests are skipped locally,
/// but under CI (`CI` set) they fail: CI must never pass by silently skipping them.
public enum InteropPython {
    /// The interpreter from `PHIGUARD_PYTHON`, if set.
    public static var interpreter: String? {
        ProcessInfo.processInfo.environment["PHIGUARD_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `true` when interop tests should run: a Python is configured, or we are in CI (where a missing
    /// one must fail the run rather than skip it).
    public static var shouldRun: Bool {
        interpreter != nil || ProcessInfo.processInfo.environment["CI"] != nil
    }

    /// Errors from running the peer.
    public enum Failure: Error, CustomStringConvertible {
        /// `PHIGUARD_PYTHON` is not set (only reachable under CI).
        case notConfigured
        /// The script exited non-zero.
        case exited(status: Int32, stderr: String)

        /// What went wrong.
        public var description: String {
            switch self {
            case .notConfigured: "PHIGUARD_PYTHON is not set; run the tests through `make test`"
            case .exited(let status, let stderr): "python exited \(status): \(stderr)"
            }
        }
    }

    /// Runs `script` with `input` on standard input and returns standard output.
    public static func run(script: String, input: Data = Data()) throws -> Data {
        guard let interpreter else { throw Failure.notConfigured }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: interpreter)
        process.arguments = ["-c", script]
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        BuiltProduct.ignoreBrokenPipes()
        try process.run()
        // Write and read concurrently so neither pipe can fill up and deadlock.
        let writer = Thread {
            try? stdin.fileHandleForWriting.write(contentsOf: input)
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let errors = OutputCollector(stderr.fileHandleForReading)
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errorOutput = errors.wait()
        guard process.terminationStatus == 0 else {
            throw Failure.exited(
                status: process.terminationStatus, stderr: String(decoding: errorOutput, as: UTF8.self))
        }
        return output
    }

    /// Runs `script` with `request` encoded as JSON on stdin and decodes its JSON stdout as `Response`.
    public static func exchange<Request: Encodable, Response: Decodable>(
        script: String, request: Request, as: Response.Type
    ) throws -> Response {
        let output = try run(script: script, input: try JSONEncoder().encode(request))
        return try JSONDecoder().decode(Response.self, from: output)
    }
}
