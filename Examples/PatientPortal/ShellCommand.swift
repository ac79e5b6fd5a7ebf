import ArgumentParser
import Foundation
import PortalCore

#if canImport(Glibc)
    import Glibc
#endif

/// `shell`: the same commands, one per line, for a person at a terminal (or a script on a pipe).
struct ShellCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "An interactive shell: type the portal's commands without `PatientPortal` (exit, quit or EOF leave).",
        discussion: """
            Each line is one command, run as `PatientPortal LINE` with the shell's --database, --database-url, \
            --keys, --session-file, --policy and --client-address appended (they override the same options \
            typed on the line). Words split at spaces; "…" or '…' keep spaces inside one word; there are no \
            backslash escapes, variables, globs or pipes. A failing command prints its usual one line and the \
            shell goes on. Passwords and codes are read from the same standard input as the commands (with \
            echo off on a terminal): type them at their prompt, never on the command line. The prompt \
            `portal> ` is shown on standard error when standard input is a terminal. No history is kept.
            """)

    @OptionGroup var options: PortalOptions

    /// The longest command line accepted.
    static let maximumLineBytes = 4096

    /// A line that cannot be split into words (an unbalanced quote) or is too long.
    struct UnreadableLine: Error {}

    /// Splits `line` into words: runs of non-spaces, with "…" or '…' keeping spaces inside a word.
    static func words(_ line: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        for character in line {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
                inWord = true
            } else if character == " " || character == "\t" {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(character)
                inWord = true
            }
        }
        guard quote == nil else { throw UnreadableLine() }
        if inWord { words.append(current) }
        return words
    }

    /// The shell's global options, appended to every command line.
    var globalArguments: [String] {
        var arguments = [
            "--database", options.database, "--keys", options.keys, "--session-file", options.sessionFile,
            "--policy", options.policy, "--client-address", options.clientAddress,
        ]
        if let url = options.databaseURL { arguments += ["--database-url", url] }
        return arguments
    }

    /// One line of standard input, read without stdio buffering beyond it (so a password reader of the
    /// next command finds its line); `nil` at the end of input; a line over the limit is dropped whole and
    /// refused.
    static func readLine() -> Result<String, UnreadableLine>? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let got = read(STDIN_FILENO, &byte, 1)
            if got < 0, errno == EINTR { continue }
            if got <= 0 { return bytes.isEmpty ? nil : .success(String(decoding: bytes, as: UTF8.self)) }
            if byte == 0x0A { break }
            bytes.append(byte)
            if bytes.count > maximumLineBytes {  // too long: drop the rest of the line, then refuse it
                while read(STDIN_FILENO, &byte, 1) == 1, byte != 0x0A {}
                return .failure(UnreadableLine())
            }
        }
        if bytes.last == 0x0D { bytes.removeLast() }
        return .success(String(decoding: bytes, as: UTF8.self))
    }

    func run() async throws {
        let terminal = isatty(STDIN_FILENO) == 1
        while true {
            if terminal { FileHandle.standardError.write(Data("portal> ".utf8)) }
            guard let line = Self.readLine() else { break }
            let words: [String]
            do {
                words = try Self.words(try line.get())
            } catch {
                FileHandle.standardError.write(
                    Data("PatientPortal: unreadable line (unbalanced quote or too long)\n".utf8))
                continue
            }
            guard let first = words.first, !first.hasPrefix("#") else { continue }
            if first == "exit" || first == "quit" { break }
            if first == "shell" {
                FileHandle.standardError.write(Data("PatientPortal: already in the shell\n".utf8))
                continue
            }
            await Self.execute(words, globalArguments: globalArguments)
        }
    }

    /// Parses and runs one command; every failure is reported on one line and the shell goes on.
    static func execute(_ words: [String], globalArguments: [String]) async {
        do {
            var command: any ParsableCommand
            do {
                command = try PatientPortal.parseAsRoot(words + globalArguments)
            } catch {
                // Name the typed mistake (an unknown command would otherwise be reported as the first
                // appended option); a line that parses alone failed for the appended options themselves.
                _ = try PatientPortal.parseAsRoot(words)
                throw error
            }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exit as ExitCode {
            _ = exit  // the command has printed its one line already
        } catch {
            let status = PatientPortal.exitCode(for: error)
            if status == .success {  // --help and the like
                print(PatientPortal.fullMessage(for: error))
            } else {
                FileHandle.standardError.write(Data("PatientPortal: \(PatientPortal.message(for: error))\n".utf8))
            }
        }
        fflush(nil)  // this command's output before the next prompt
    }
}
