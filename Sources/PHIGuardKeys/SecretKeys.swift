package import PHIGuardCrypto

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The 32-byte key that encrypts backups (an XChaCha20-Poly1305 secretstream key), held in guarded
/// memory and never printed. PHIGuard has this one backup key type: the key directory's `backup.key`
/// (``KeySource/backupKey()``) and a key file kept apart from the directory (``load(path:)``, written by
/// `phiguard backup keygen`) are the same format and load to the same key, so either one creates,
/// verifies and restores backups with `PHIGuardBackup`.
///
/// The file is text, mode `0600`: a header line that makes a wrong file detectable, then the key in
/// standard base64.
///
/// ```
/// phiguard-backup-key v1
/// <32 bytes, standard base64>
/// ```
public struct BackupKey: Sendable, CustomStringConvertible {
    /// The first line of a backup key file.
    public static let fileHeader = "phiguard-backup-key v1"
    /// The key length in bytes.
    public static let byteCount = 32
    /// The label of the key check (``fingerprint``, and the 16 bytes in every backup's header).
    static let keyCheckLabel = Array("PHIGuard.backup.key-check.v1".utf8)
    /// The largest backup key file read (the header and 44 base64 characters leave plenty of room).
    static let maximumFileBytes = 1024

    /// The guarded bytes (for PHIGuard's own modules: pass them to the AEAD).
    package let secret: SecretBytes

    /// Wraps exactly ``byteCount`` guarded bytes.
    package init(secret: SecretBytes) throws(KeyError) {
        guard secret.count == Self.byteCount else {
            throw .secureMemory(reason: "a backup key is \(Self.byteCount) bytes")
        }
        self.secret = secret
    }

    /// A new random key.
    public static func generate() throws(KeyError) -> BackupKey {
        let secret: SecretBytes
        do { secret = try SecretBytes(randomCount: byteCount) } catch {
            throw .secureMemory(reason: "a backup key could not be generated in guarded memory")
        }
        return try BackupKey(secret: secret)
    }

    /// Reads a backup key file kept outside a key directory (`phiguard backup keygen`,
    /// ``write(to:)``). The key directory's file checks apply: not a symbolic link, a regular file
    /// owned by the user running PHIGuard, mode `0600` or `0400`; then the format above. The text
    /// goes from the file into guarded memory and is decoded there.
    public static func load(path: String) throws(KeyError) -> BackupKey {
        var status = stat()
        if lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFLNK { throw .symbolicLink(path: path) }
        let text: SecretBytes
        do { text = try PrivateFile.readSecret(path, maximumByteCount: maximumFileBytes) } catch {
            throw KeyError(error, kind: .backup)
        }
        return try parse(text, path: path)
    }

    /// Decodes the file format (header line, then one base64 line) from guarded memory.
    static func parse(_ text: SecretBytes, path: String) throws(KeyError) -> BackupKey {
        let header = Array(fileHeader.utf8)
        let key: SecretBytes? = text.withUnsafeBytes { bytes in
            // The header line, ended by "\n" or "\r\n"; the rest is the key (surrounding whitespace ignored).
            guard bytes.count > header.count, bytes.prefix(header.count).elementsEqual(header) else { return nil }
            var rest = header.count
            if bytes[rest] == UInt8(ascii: "\r") { rest += 1 }
            guard rest < bytes.count, bytes[rest] == UInt8(ascii: "\n") else { return nil }
            return Base64.decodeSecret(UnsafeRawBufferPointer(rebasing: bytes[(rest + 1)...]), variant: .standard)
        }
        guard let key else {
            throw .malformed(
                path: path,
                reason: "expected the line '\(fileHeader)' and then the key in base64 (a backup.key of bare "
                    + "base64 from an older key directory takes that line added at the top)")
        }
        guard key.count == byteCount else { throw .malformed(path: path, reason: "the key is not 32 bytes") }
        return try BackupKey(secret: key)
    }

    /// The file's contents (the caller zeroes them).
    func fileContents() -> [UInt8] {
        var text = Array((Self.fileHeader + "\n").utf8)
        secret.withUnsafeBytes { text += Array(Base64.encode($0, variant: .standard).utf8) }
        text.append(UInt8(ascii: "\n"))
        return text
    }

    /// Writes the key to a new file at `path` (mode `0600`; an existing file is never replaced:
    /// ``KeyError/exists(path:)``).
    public func write(to path: String) throws(KeyError) {
        var text = fileContents()
        defer { Sodium.zero(&text) }
        do { try PrivateFile.write(text, to: path) } catch { throw KeyError(error, kind: nil) }
    }

    /// 16 bytes written in every backup's header: BLAKE2b keyed with this key over
    /// `PHIGuard.backup.key-check.v1`, so a wrong key is reported as a wrong key rather than as tampering.
    package func keyCheck() throws(KeyError) -> [UInt8] {
        do { return try BLAKE2b.hash(Self.keyCheckLabel, key: secret, outputCount: 16) } catch {
            throw .secureMemory(reason: "libsodium could not compute the backup key check")
        }
    }

    /// The first 8 bytes of the key check, in hex: names the key (and the key a backup needs, whose
    /// header holds the key check) without revealing it.
    public var fingerprint: String {
        (try? keyCheck()).map { Hex.encode($0.prefix(8)) } ?? "unavailable"
    }

    /// Calls `body` with a temporary copy of the bytes (zeroed when `body` returns or throws).
    public func withTemporaryCopy<R>(_ body: (inout [UInt8]) async throws -> R) async rethrows -> R {
        var copy = secret.withUnsafeBytes { Array($0) }
        defer { Sodium.zero(&copy) }
        return try await body(&copy)
    }

    /// `BackupKey(fingerprint: …, <redacted>)`: never the key.
    public var description: String { "BackupKey(fingerprint: \(fingerprint), <redacted>)" }
}
