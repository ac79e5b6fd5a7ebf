package import PHIGuardCrypto

/// The 32-byte key that encrypts backups (an XChaCha20-Poly1305 key for PHIGuard's AEAD). Held in
/// guarded memory; never printed. Load it with ``KeySource/backupKey()``.
public struct BackupKey: Sendable, CustomStringConvertible {
    /// The key length in bytes.
    public static let byteCount = 32
    /// The guarded bytes (for PHIGuard's own modules: pass them to `AEAD`).
    package let secret: SecretBytes

    /// Wraps exactly ``byteCount`` guarded bytes.
    package init(secret: SecretBytes) throws(KeyError) {
        guard secret.count == Self.byteCount else {
            throw .secureMemory(reason: "a backup key is \(Self.byteCount) bytes")
        }
        self.secret = secret
    }

    /// A public fingerprint (first 8 bytes, hex, of BLAKE2b-256 keyed by the key over
    /// `PHIGuard.backup-key-fingerprint.v1`), to record which key a backup needs.
    public var fingerprint: String {
        let label = Array("PHIGuard.backup-key-fingerprint.v1".utf8)
        let digest = try? BLAKE2b.hash(label, key: secret, outputCount: 32)
        return digest.map { Hex.encode($0.prefix(8)) } ?? ""
    }

    /// Calls `body` with a temporary copy of the bytes (zeroed when `body` returns or throws).
    public func withTemporaryCopy<R>(_ body: (inout [UInt8]) async throws -> R) async rethrows -> R {
        var copy = secret.withUnsafeBytes { Array($0) }
        defer { Sodium.zero(&copy) }
        return try await body(&copy)
    }

    /// `BackupKey(fingerprint: …, <redacted>)`.
    public var description: String { "BackupKey(fingerprint: \(fingerprint), <redacted>)" }
}
