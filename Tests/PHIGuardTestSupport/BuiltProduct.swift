public import Foundation

/// Runs executables this package builds (`phiguard`, the examples) end to end, as a user would.
public enum BuiltProduct {
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
    }

    /// Runs product `name` with `arguments`, writing `input` to its standard input.
    public static func run(
        _ name: String, _ arguments: [String] = [], input: String = "", environment: [String: String]? = nil
    ) throws -> Run {
        let process = Process()
        process.executableURL = directory.appendingPathComponent(name)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let writer = Thread {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let errors = OutputCollector(stderr.fileHandleForReading)
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
            stderr: String(decoding: errors.wait(), as: UTF8.self))
    }
}

extension BuiltProduct {
    /// Runs product `name` as a conversation: writes `input`, then reads standard output until
    /// `reply` returns a line for what has been printed so far, writes that line and closes
    /// standard input. Gives up (closing standard input) if the output ends first.
    public static func converse(
        _ name: String, _ arguments: [String], input: String, reply: (String) -> String?
    ) throws -> Run {
        let process = Process()
        process.executableURL = directory.appendingPathComponent(name)
        process.arguments = arguments
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let errors = OutputCollector(stderr.fileHandleForReading)
        stdin.fileHandleForWriting.write(Data(input.utf8))
        var output = Data()
        while true {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }  // end of output
            output += chunk
            if let line = reply(String(decoding: output, as: UTF8.self)) {
                stdin.fileHandleForWriting.write(Data((line + "\n").utf8))
                break
            }
        }
        try? stdin.fileHandleForWriting.close()
        output += stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
            stderr: String(decoding: errors.wait(), as: UTF8.self))
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
