internal import Foundation
internal import PHIGuardCrypto

/// The 32-byte key backups are encrypted under, held in guarded memory.
///
/// It is a key of its own, not a field key or an audit key: whoever restores needs it, and it can
/// be kept offline with the backups' operators. Its file is text, mode `0600`:
///
/// ```
/// phiguard-backup-key v1
/// <32 bytes, standard base64>
/// ```
///
/// ``load(path:)`` is the one place a backup key is read (it refuses symbolic links, files other
/// users can read and anything but the format above).
public struct BackupKey: Sendable, CustomStringConvertible {
    /// The first line of a backup key file.
    public static let fileHeader = "phiguard-backup-key v1"
    static let byteCount = 32
    static let keyCheckLabel = Array("PHIGuard.backup.key-check.v1".utf8)

    let secret: SecretBytes

    init(secret: SecretBytes) {
        self.secret = secret
    }

    /// A new random key.
    public static func generate() throws(BackupError) -> BackupKey {
        do { return BackupKey(secret: try SecretBytes(randomCount: byteCount)) } catch {
            throw .crypto(error.description)
        }
    }

    /// Reads a key file written by ``write(to:)`` (`phiguard backup keygen`).
    public static func load(path: String) throws(BackupError) -> BackupKey {
        var bytes: [UInt8]
        do { bytes = try PrivateFile.read(path, maximumByteCount: 1024) } catch { throw .keyFile(error.description) }
        defer { Sodium.zero(&bytes) }
        let lines = bytes.split(separator: UInt8(ascii: "\n")).map { line in
            line.last == UInt8(ascii: "\r") ? line.dropLast() : line
        }
        guard lines.count == 2, Array(lines[0]) == Array(fileHeader.utf8) else {
            throw .keyFile("\(path) is not a backup key file (expected '\(fileHeader)' and one base64 line)")
        }
        let text = String(decoding: lines[1], as: UTF8.self)
        guard var raw = Base64.decode(text, variant: .standard), raw.count == byteCount else {
            throw .keyFile("\(path) does not hold a 32-byte base64 key")
        }
        defer { Sodium.zero(&raw) }
        do { return BackupKey(secret: try SecretBytes(copying: raw)) } catch { throw .crypto(error.description) }
    }

    /// Writes the key to a new file at `path` (mode `0600`; an existing file is never replaced).
    public func write(to path: String) throws(BackupError) {
        var text = Array((Self.fileHeader + "\n").utf8)
        secret.withUnsafeBytes { text += Array(Base64.encode($0, variant: .standard).utf8) }
        text.append(UInt8(ascii: "\n"))
        defer { Sodium.zero(&text) }
        do { try PrivateFile.write(text, to: path) } catch {
            if case .exists = error { throw .destinationExists(path: path) }
            throw .keyFile(error.description)
        }
    }

    /// 16 bytes written in every backup's header: BLAKE2b keyed with this key over a fixed label,
    /// so a wrong key is reported as ``BackupError/wrongKey`` rather than as tampering.
    func keyCheck() throws(BackupError) -> [UInt8] {
        do { return try BLAKE2b.hash(Self.keyCheckLabel, key: secret, outputCount: 16) } catch {
            throw .crypto(error.description)
        }
    }

    /// The first 8 bytes of the key check, in hex: names the key without revealing it.
    public var fingerprint: String {
        (try? keyCheck()).map { Hex.encode($0.prefix(8)) } ?? "unavailable"
    }

    /// Never the key: `BackupKey(fingerprint: …)`.
    public var description: String { "BackupKey(fingerprint: \(fingerprint))" }
}
