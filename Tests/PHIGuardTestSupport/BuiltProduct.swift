public import Foundation

/// Runs executables this package builds (`phiguard`, the examples) end to end, as a user would.
public enum BuiltProduct {
    /// Makes writing to a child that has already exited fail with EPIPE instead of killing the test
    /// process with SIGPIPE (which ended a whole `swift test` run when a child given a corrupted
    /// database exited before reading its input). Call before writing to any child's standard input.
    public static func ignoreBrokenPipes() { _ = brokenPipesIgnored }
    private static let brokenPipesIgnored: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// The folder that holds the test bundle, and so every product of the same build.
    public static var directory: URL {
        Bundle.main.bundleURL
    }

    /// The result of one run.
    public struct Run: Sendable {
        /// The exit status.
        public let status: Int32
        /// Standard output as text.
        public let stdout: String
        /// Standard error as text.
        public let stderr: String
        /// Whether the process was killed by a signal (a trap, an assertion) instead of exiting:
        /// `status` is then the signal's number.
        public var uncaughtSignal = false
    }

    /// Runs product `name` with `arguments`, writing `input` to its standard input.
    public static func run(
        _ name: String, _ arguments: [String] = [], input: String = "", environment: [String: String]? = nil
    ) throws -> Run {
        let child = try Child(name, arguments, environment: environment)
        let writer = Thread {
            // A child that exits before reading its input closes the pipe: that is its answer, not an error.
            try? child.stdin.write(contentsOf: Data(input.utf8))
            try? child.stdin.close()
        }
        writer.start()
        return child.finish(reading: Data())
    }

    /// Runs product `name` as a conversation: writes `input`, then reads standard output until
    /// `reply` returns a line for what has been printed so far, writes that line and closes
    /// standard input. Gives up (closing standard input) if the output ends first.
    public static func converse(
        _ name: String, _ arguments: [String], input: String, reply: (String) -> String?
    ) throws -> Run {
        let child = try Child(name, arguments, environment: nil)
        try? child.stdin.write(contentsOf: Data(input.utf8))
        var output = Data()
        while true {
            let chunk = child.stdout.availableData
            if chunk.isEmpty { break }  // end of output
            output += chunk
            if let line = reply(String(decoding: output, as: UTF8.self)) {
                try? child.stdin.write(contentsOf: Data((line + "\n").utf8))
                break
            }
        }
        try? child.stdin.close()
        return child.finish(reading: output)
    }

    /// A started product with its three pipes; standard error is collected on a thread of its own.
    private struct Child: @unchecked Sendable {
        // @unchecked Sendable: `run` hands `stdin` to one writer thread and uses the rest only on
        // the calling thread.
        let process = Process()
        let stdin: FileHandle
        let stdout: FileHandle
        let errors: OutputCollector

        init(_ name: String, _ arguments: [String], environment: [String: String]?) throws {
            BuiltProduct.ignoreBrokenPipes()
            process.executableURL = directory.appendingPathComponent(name)
            process.arguments = arguments
            if let environment { process.environment = environment }
            let (input, output, error) = (Pipe(), Pipe(), Pipe())
            process.standardInput = input
            process.standardOutput = output
            process.standardError = error
            try process.run()
            stdin = input.fileHandleForWriting
            stdout = output.fileHandleForReading
            errors = OutputCollector(error.fileHandleForReading)
        }

        /// Reads standard output to its end after `alreadyRead`, and waits for the exit.
        func finish(reading alreadyRead: Data) -> Run {
            let output = alreadyRead + stdout.readDataToEndOfFile()
            process.waitUntilExit()
            return Run(
                status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
                stderr: String(decoding: errors.wait(), as: UTF8.self),
                uncaughtSignal: process.terminationReason == .uncaughtSignal)
        }
    }
}

/// Reads a pipe to its end on its own thread, so a full stderr pipe cannot block the child.
final class OutputCollector: @unchecked Sendable {
    // @unchecked Sendable: `data` is written once by the reader thread before `done` is signalled
    // and read only after `wait()` has observed that signal.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }.start()
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}
