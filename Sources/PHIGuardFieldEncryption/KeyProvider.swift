internal import Foundation
internal import PHIGuardCrypto

/// Where root keys come from. Implement it over your KMS or secrets manager; PHIGuard ships a
/// key-file provider and an environment-variable provider.
public protocol KeyProvider: Sendable {
    /// Loads the keyring. Errors never contain key bytes.
    func keyring() throws(KeyProviderError) -> Keyring
}

/// Why a keyring could not be loaded or saved. No case carries key bytes; file contents are never echoed.
public enum KeyProviderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The key file does not exist.
    case fileNotFound(path: String)
    /// The key file could not be opened or read (`errno` value).
    case unreadable(path: String, errno: Int32)
    /// The key file is readable or writable by group or others (mode shown in octal). Fix with `chmod 600`.
    case insecurePermissions(path: String, mode: String)
    /// The path is not a regular file (a directory, a device, a symbolic link).
    case notRegularFile(path: String)
    /// The key file or variable is larger than ``KeyringFile/maximumByteCount``.
    case tooLarge
    /// The key file or variable is not a valid keyring (line number, reason; the line is not echoed).
    case malformed(line: Int, reason: String)
    /// The environment variable is not set or empty.
    case variableNotSet(name: String)
    /// The file already exists (``KeyringFile/write(_:to:replacing:)`` without `replacing`).
    case fileExists(path: String)
    /// Writing the key file failed (`errno` value); no partial file is left behind.
    case writeFailed(path: String, errno: Int32)
    /// The keys parse but do not form a valid keyring (duplicate ids, no active key).
    case invalidKeyring(FieldEncryptionError)

    /// A description naming the file or variable, never its contents.
    public var description: String {
        switch self {
        case .fileNotFound(let path): "key file \(path) does not exist"
        case .unreadable(let path, let code): "key file \(path) could not be read (errno \(code))"
        case .insecurePermissions(let path, let mode):
            "key file \(path) has mode \(mode); it must not be accessible to group or others (chmod 600 \(path))"
        case .notRegularFile(let path): "key file \(path) is not a regular file"
        case .tooLarge: "keyring is larger than \(KeyringFile.maximumByteCount) bytes"
        case .malformed(let line, let reason): "keyring line \(line): \(reason)"
        case .variableNotSet(let name): "environment variable \(name) is not set"
        case .fileExists(let path): "key file \(path) already exists"
        case .writeFailed(let path, let code): "key file \(path) could not be written (errno \(code))"
        case .invalidKeyring(let error): "invalid keyring: \(error)"
        }
    }
}

/// Loads a keyring from a file that only its owner can read (mode `0600` or `0400`); any other
/// mode is refused with ``KeyProviderError/insecurePermissions(path:mode:)``. Symbolic links are
/// refused too. The format is ``KeyringFile``'s.
public struct KeyFileProvider: KeyProvider {
    /// The key file's path.
    public let path: String

    /// A provider reading `path` on each ``keyring()`` call.
    public init(path: String) {
        self.path = path
    }

    /// Reads, checks and parses the key file.
    public func keyring() throws(KeyProviderError) -> Keyring {
        var bytes = try KeyringFile.readProtectedFile(path)
        defer { Sodium.zero(&bytes) }
        return try KeyringFile.parse(bytes)
    }
}

/// Loads a keyring from an environment variable (default `PHIGUARD_FIELD_KEYS`) holding the
/// ``KeyringFile`` format; entries may be separated by `;` instead of newlines, for example
/// `active 2026-11 <base64>;retired 2026-05 <base64>` (the header line is optional here).
///
/// Environment variables are visible to the process's user and to child processes; prefer a key
/// file or a secrets manager where you can.
public struct EnvironmentKeyProvider: KeyProvider {
    /// The variable read.
    public let variable: String
    private let environment: [String: String]?

    /// A provider reading `variable` from `environment` (default: the process environment).
    public init(variable: String = "PHIGUARD_FIELD_KEYS", environment: [String: String]? = nil) {
        self.variable = variable
        self.environment = environment
    }

    /// Reads and parses the variable.
    public func keyring() throws(KeyProviderError) -> Keyring {
        let value = (environment ?? ProcessInfo.processInfo.environment)[variable] ?? ""
        guard !value.isEmpty else { throw .variableNotSet(name: variable) }
        guard value.utf8.count <= KeyringFile.maximumByteCount else { throw .tooLarge }
        var bytes = Array(value.utf8).map { $0 == UInt8(ascii: ";") ? UInt8(ascii: "\n") : $0 }
        defer { Sodium.zero(&bytes) }
        return try KeyringFile.parse(bytes, headerRequired: false)
    }
}

/// The keyring text format shared by key files and the environment provider.
///
/// ```
/// phiguard-field-keyring v1
/// # comments and blank lines are ignored
/// active 2026-11 <32-byte key, standard base64>
/// retired 2026-05 <base64>
/// revoked 2025-11
/// ```
///
/// Exactly one `active` line; any number of `retired` and `revoked` lines; ids are unique.
public enum KeyringFile {
    /// The first line of a key file.
    public static let header = "phiguard-field-keyring v1"
    /// The largest keyring accepted (64 KiB).
    public static let maximumByteCount = 64 * 1024

    /// Parses keyring text. `headerRequired` is `false` only for the environment variable.
    static func parse(_ bytes: [UInt8], headerRequired: Bool = true) throws(KeyProviderError) -> Keyring {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(KeyProviderError) in try parse(buffer, headerRequired: headerRequired) }
        }.get()
    }

    /// Parses keyring text held elsewhere (a key file read into guarded memory). Each line is copied
    /// into a scratch array that is zeroed after use; keys are decoded straight into guarded memory.
    package static func parse(_ bytes: UnsafeRawBufferPointer, headerRequired: Bool = true) throws(KeyProviderError)
        -> Keyring
    {
        guard bytes.count <= maximumByteCount else { throw .tooLarge }
        var active: FieldKey?
        var retired: [FieldKey] = []
        var revoked: Set<String> = []
        var sawHeader = false
        for (index, rawLine) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .enumerated()
        {
            let lineNumber = index + 1
            var line = Array(rawLine)
            defer { Sodium.zero(&line) }
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            let fields = line.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
            guard let first = fields.first, first.first != UInt8(ascii: "#") else { continue }
            let kind = String(decoding: first, as: UTF8.self)
            if !sawHeader {
                if fields.count == 2, kind == "phiguard-field-keyring" {
                    guard String(decoding: fields[1], as: UTF8.self) == "v1" else {
                        throw .malformed(line: lineNumber, reason: "unsupported keyring version")
                    }
                    sawHeader = true
                    continue
                }
                if headerRequired {
                    throw .malformed(line: lineNumber, reason: "expected '\(header)' as the first line")
                }
                sawHeader = true
            }
            guard fields.count >= 2 else { throw .malformed(line: lineNumber, reason: "missing key id") }
            let id = String(decoding: fields[1], as: UTF8.self)
            guard FieldKey.isValidKeyID(id) else {
                throw .malformed(line: lineNumber, reason: "key id must be 1-32 characters of A-Z a-z 0-9 . _ -")
            }
            switch kind {
            case "active", "retired":
                guard fields.count == 3 else {
                    throw .malformed(line: lineNumber, reason: "expected '\(kind) ID BASE64'")
                }
                guard let keyBytes = fields[2].withUnsafeBytes({ Base64.decodeSecret($0, variant: .standard) })
                else {
                    throw .malformed(line: lineNumber, reason: "key is not canonical base64")
                }
                let key: FieldKey
                do { key = try FieldKey(id: id, secret: keyBytes) } catch {
                    throw .malformed(line: lineNumber, reason: "\(error)")
                }
                if kind == "active" {
                    guard active == nil else { throw .malformed(line: lineNumber, reason: "more than one active key") }
                    active = key
                } else {
                    retired.append(key)
                }
            case "revoked":
                guard fields.count == 2 else { throw .malformed(line: lineNumber, reason: "expected 'revoked ID'") }
                revoked.insert(id)
            default:
                throw .malformed(line: lineNumber, reason: "expected active, retired or revoked")
            }
        }
        guard let active else { throw .malformed(line: 0, reason: "no active key") }
        do {
            return try Keyring(active: active, retired: retired, revokedKeyIDs: revoked)
        } catch {
            throw .invalidKeyring(error)
        }
    }

    /// The text of `keyring` (contains key bytes: write it only to a 0600 file).
    package static func serialize(_ keyring: Keyring) -> [UInt8] {
        var text = Array((header + "\n").utf8)
        for key in keyring.keys {
            text += Array((key.id == keyring.activeKeyID ? "active " : "retired ").utf8)
            text += Array(key.id.utf8)
            text.append(UInt8(ascii: " "))
            text += key.withUnsafeKeyBytes { Array(Base64.encode($0, variant: .standard).utf8) }
            text.append(UInt8(ascii: "\n"))
        }
        for id in keyring.revokedKeyIDs.sorted() {
            text += Array("revoked \(id)\n".utf8)
        }
        return text
    }

    /// Writes `keyring` to `path` with mode 0600. Without `replacing`, an existing file is an error;
    /// with it, the new file is written beside the old one and renamed over it, so a crash leaves
    /// either the old or the new keyring, never a partial one.
    public static func write(_ keyring: Keyring, to path: String, replacing: Bool = false) throws(KeyProviderError) {
        var text = serialize(keyring)
        defer { Sodium.zero(&text) }
        do {
            try PrivateFile.write(text, to: path, replacing: replacing)
        } catch {
            throw KeyProviderError(error)
        }
    }

    /// Reads a regular file that only its owner may access, refusing symbolic links.
    static func readProtectedFile(_ path: String) throws(KeyProviderError) -> [UInt8] {
        do {
            return try PrivateFile.read(path, maximumByteCount: maximumByteCount)
        } catch {
            throw KeyProviderError(error)
        }
    }
}

extension KeyProviderError {
    /// The key-file error for a failure of the shared private-file layer.
    init(_ failure: PrivateFile.Failure) {
        switch failure {
        case .exists(let path): self = .fileExists(path: path)
        case .notFound(let path): self = .fileNotFound(path: path)
        case .notRegularFile(let path): self = .notRegularFile(path: path)
        case .insecurePermissions(let path, let mode): self = .insecurePermissions(path: path, mode: mode)
        case .tooLarge: self = .tooLarge
        case .writeFailed(let path, let code): self = .writeFailed(path: path, errno: code)
        case .readFailed(let path, let code): self = .unreadable(path: path, errno: code)
        case .wrongOwner(let path, _): self = .insecurePermissions(path: path, mode: "another owner")
        case .empty: self = .malformed(line: 0, reason: "empty key file")
        }
    }
}
