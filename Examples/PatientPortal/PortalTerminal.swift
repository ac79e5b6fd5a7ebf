import Foundation
import Logging
import PHIGuardCrypto
import PortalCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The CLI's cookie jar: one file (mode 0600) holding the session token's cookie value between runs.
///
/// Only the token's hash is in the database, so this file is the one place the token lives. Every
/// state change of the session issues a new token, and the file is rewritten each time.
struct PortalSessionFile {
    let path: String

    /// The stored cookie value, or `nil` when there is no file.
    /// Refuses a link, a non-regular file or one its group or others can access.
    func read() throws -> String? {
        var bytes: [UInt8]
        do {
            bytes = try PrivateFile.read(path, maximumByteCount: 256)
        } catch {
            if case .notFound = error { return nil }
            throw PortalError.sessionFileUnusable
        }
        defer { Sodium.zero(&bytes) }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    /// Replaces the file atomically with `cookieValue`, mode 0600 from the start.
    func write(_ cookieValue: String) throws {
        var bytes = Array((cookieValue + "\n").utf8)
        defer { Sodium.zero(&bytes) }
        do {
            try PrivateFile.write(bytes, to: path, replacing: true)
        } catch {
            throw PortalError.sessionFileUnusable
        }
    }

    /// Deletes the file (after sign-out).
    func remove() {
        unlink(path)
    }
}

/// Reads what the user types: secrets with echo off on a terminal, otherwise line by line from
/// standard input (so `printf 'password\ncode\n' | PatientPortal login --user alice` works). Secrets
/// are never taken from the command line, where `ps` and the shell history would see them.
enum PortalInput {
    /// The longest line accepted (a password is at most 1,024 bytes; this leaves room for mistakes).
    static let maximumBytes = 4096

    /// One line, prompted on standard error with echo off when standard input is a terminal.
    static func secret(_ prompt: String) throws -> String {
        try line(prompt, echo: false)
    }

    /// One line, prompted on standard error when standard input is a terminal, read up to its newline only.
    static func line(_ prompt: String, echo: Bool = true) throws -> String {
        let terminal = isatty(STDIN_FILENO) == 1
        var original = termios()
        if terminal {
            FileHandle.standardError.write(Data(prompt.utf8))
            if !echo {
                tcgetattr(STDIN_FILENO, &original)
                var silent = original
                silent.c_lflag &= ~tcflag_t(ECHO)
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
            }
        }
        defer {
            if terminal, !echo {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
                FileHandle.standardError.write(Data("\n".utf8))
            }
        }
        var bytes: [UInt8] = []
        var sawNewline = false
        var byte: UInt8 = 0
        // One `read(2)` per byte, never the C stdio buffer: the next line stays on standard input for
        // the next reader (a password reader, or the `shell`'s next command).
        while bytes.count <= maximumBytes {
            let got = read(STDIN_FILENO, &byte, 1)
            if got < 0, errno == EINTR { continue }
            if got <= 0 { break }
            if byte == 0x0A {
                sawNewline = true
                break
            }
            bytes.append(byte)
        }
        if bytes.last == 0x0D { bytes.removeLast() }
        guard bytes.count <= maximumBytes, sawNewline || !bytes.isEmpty,
            let text = String(validating: bytes, as: UTF8.self)
        else { throw PortalError.missingInput }
        return text
    }
}

/// Where the libraries' and the error reporter's log lines go: a file beside the database (mode
/// 0600), never the terminal. The user sees one public line and a reference; the operator finds the
/// internal detail under that reference here.
enum PortalLogging {
    private static let bootstrapped = Mutex(false)

    /// Installs the file handler (once per process) and returns the portal's logger.
    static func bootstrap(path: String) -> Logger {
        let sink = PortalLogFile(path: path)
        bootstrapped.withLock { done in
            guard !done else { return }
            done = true
            LoggingSystem.bootstrap { label in PortalLogHandler(label: label, file: sink) }
        }
        return Logger(label: "patient-portal")
    }
}

/// An append-only log file shared by every handler of the process.
final class PortalLogFile: Sendable {
    private let descriptor: Int32

    init(path: String) {
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Appends one line (a single `write` with `O_APPEND`, so lines of concurrent writers do not mix).
    func append(_ line: String) {
        guard descriptor >= 0 else { return }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
    }
}

/// A swift-log handler writing `time level label: message metadata` lines to a ``PortalLogFile``.
struct PortalLogHandler: LogHandler {
    let label: String
    let file: PortalLogFile
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = SystemClock().now.formatted(.iso8601)
        file.append("\(time) \(event.level) \(label): \(event.message)" + (fields.isEmpty ? "" : " " + fields))
    }
}
