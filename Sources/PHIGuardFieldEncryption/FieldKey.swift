package import PHIGuardCrypto

/// A 32-byte root key with an id. Field and blind-index keys are derived from it; it is never used
/// to encrypt directly.
///
/// The bytes live in guarded memory (``FieldKey`` never prints them: `description` shows the id and
/// a fingerprint only). Generate one with ``generate(id:)`` or the `phiguard keys generate` command,
/// and load it through a ``KeyProvider``.
public struct FieldKey: Sendable, CustomStringConvertible {
    /// Root key length in bytes (`crypto_kdf_KEYBYTES`).
    public static let byteCount = 32
    /// Accepted key id lengths.
    static let keyIDLengths = 1...32

    /// The key id written into every envelope: 1–32 characters of `A–Z a–z 0–9 . _ -`.
    public let id: String
    /// A public fingerprint for inventories and logs: the first 8 bytes, in hex, of
    /// BLAKE2b-256 keyed by the root key over the label `PHIGuard.key-fingerprint.v1`.
    /// It identifies a key without revealing anything usable about it.
    public let fingerprint: String
    let secret: SecretBytes
    let idBytes: [UInt8]

    /// Takes `bytes` (exactly 32) as the root key `id`, and zeroes the caller's array.
    public init(id: String, bytes: inout [UInt8]) throws(FieldEncryptionError) {
        defer { Sodium.zero(&bytes) }
        guard Self.isValidKeyID(id) else {
            throw .invalidKey("key id must be 1-32 characters of A-Z a-z 0-9 . _ -")
        }
        guard bytes.count == Self.byteCount else { throw .invalidKey("root key must be \(Self.byteCount) bytes") }
        do {
            secret = try SecretBytes(copying: bytes, idleProtection: .noAccess)
        } catch {
            throw .secureMemoryFailure(error.description)
        }
        self.id = id
        self.idBytes = Array(id.utf8)
        do {
            self.fingerprint = try Self.fingerprint(of: secret)
        } catch {
            throw .secureMemoryFailure(error.description)
        }
    }

    /// Takes `secret` (exactly 32 guarded bytes, e.g. decoded straight from a key file) as the root key `id`.
    package init(id: String, secret: SecretBytes) throws(FieldEncryptionError) {
        guard Self.isValidKeyID(id) else {
            throw .invalidKey("key id must be 1-32 characters of A-Z a-z 0-9 . _ -")
        }
        guard secret.count == Self.byteCount else { throw .invalidKey("root key must be \(Self.byteCount) bytes") }
        self.secret = secret
        self.id = id
        self.idBytes = Array(id.utf8)
        do {
            self.fingerprint = try Self.fingerprint(of: secret)
        } catch {
            throw .secureMemoryFailure(error.description)
        }
    }

    /// A new random root key from libsodium's CSPRNG.
    public static func generate(id: String) throws(FieldEncryptionError) -> FieldKey {
        var bytes: [UInt8]
        do { bytes = try Sodium.randomBytes(count: byteCount) } catch { throw .secureMemoryFailure(error.description) }
        return try FieldKey(id: id, bytes: &bytes)
    }

    /// `FieldKey(id: …, fingerprint: …, <redacted>)`.
    public var description: String { "FieldKey(id: \(id), fingerprint: \(fingerprint), <redacted>)" }

    /// `true` if `id` is a valid key id.
    public static func isValidKeyID(_ id: String) -> Bool {
        keyIDLengths.contains(id.utf8.count) && id.utf8.allSatisfy(isKeyIDByte)
    }

    static func isKeyIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    /// Gives `body` the raw key bytes (for writing key files). Do not let them escape.
    func withUnsafeKeyBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try secret.withUnsafeBytes(body)
    }

    private static func fingerprint(of secret: SecretBytes) throws(CryptoError) -> String {
        let label = Array("PHIGuard.key-fingerprint.v1".utf8)
        return Hex.encode(try BLAKE2b.hash(label, key: secret, outputCount: 32).prefix(8))
    }
}
