import ArgumentParser
import Foundation

/// The exit codes every `phiguard` subcommand uses (documented in Documentation/CLI.md).
enum CLIExit {
    /// A negative answer: invalid password, denied request, broken chain, failing policy tests.
    static let negative = ExitCode(1)
    /// `password verify`: the password is valid but the stored hash should be replaced.
    static let needsRehash = ExitCode(3)
    /// The input data is malformed (a bad PHC string, policy file, JSON request, key file).
    static let dataError = ExitCode(65)
    /// An input file is missing or unreadable.
    static let noInput = ExitCode(66)
    /// An internal error (libsodium unavailable, out of memory).
    static let internalError = ExitCode(70)
    /// An output file cannot be created (it exists already: keys are never overwritten).
    static let cannotCreate = ExitCode(73)
}

/// Prints `message` to standard error as `phiguard: message` and exits with `code`.
func fail(_ message: String, _ code: ExitCode) throws -> Never {
    FileHandle.standardError.write(Data("phiguard: \(message)\n".utf8))
    throw code
}

/// `--json`: machine-readable output, one JSON object per result on standard output.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON instead of text.")
    var json = false

    /// Prints `value` as one line of JSON with `--json`, else `text`.
    func emit<Value: Encodable>(_ value: Value, text: @autoclosure () -> String) {
        if json {
            print(jsonLine(value))
        } else {
            print(text())
        }
    }
}

/// One line of sorted-key JSON.
func jsonLine<Value: Encodable>(_ value: Value) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(value) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}

/// Reads a secret (a password, a TOTP code) without it ever appearing in `argv` or shell history.
///
/// From a terminal it prompts on standard error with echo turned off; otherwise it reads standard
/// input up to the first newline (a single trailing `\n` or `\r\n` is removed).
enum SecretInput {
    /// The most bytes read from a pipe (a password is at most 1,024 bytes; this leaves room for mistakes).
    static let maximumBytes = 64 * 1024

    static func read(prompt: String) throws -> String {
        if isatty(STDIN_FILENO) == 1 {
            return try readFromTerminal(prompt: prompt)
        }
        var bytes: [UInt8] = []
        while bytes.count <= maximumBytes {
            let byte = getchar()
            if byte == EOF || byte == 0x0A { break }
            bytes.append(UInt8(truncatingIfNeeded: byte))
        }
        guard bytes.count <= maximumBytes else {
            try fail("secret input is longer than \(maximumBytes) bytes", CLIExit.dataError)
        }
        if bytes.last == 0x0D { bytes.removeLast() }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            try fail("secret input is not valid UTF-8", CLIExit.dataError)
        }
        return text
    }

    private static func readFromTerminal(prompt: String) throws -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        var original = termios()
        tcgetattr(STDIN_FILENO, &original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true) else { try fail("no input", CLIExit.dataError) }
        return line
    }
}
