package import PHIGuardCrypto

/// The Ed25519 key that signs checkpoints (libsodium `crypto_sign_*`).
///
/// Only the audit writer holds it; anyone with the matching ``AuditCheckpointPublicKey`` can check
/// a checkpoint off-host. The secret key lives in guarded memory; `description` never shows it.
public struct AuditSigningKey: Sendable, CustomStringConvertible {
    /// The seed length in bytes.
    public static let seedLength = 32

    let keyPair: Ed25519.SigningKey
    /// The public half, to give to verifiers.
    public let publicKey: AuditCheckpointPublicKey

    /// Derives the key pair from a 32-byte `seed` and zeroes the caller's array.
    public init(seed: inout [UInt8]) throws(AuditError) {
        defer { Sodium.zero(&seed) }
        guard seed.count == Self.seedLength else { throw .invalidKey("a signing seed is \(Self.seedLength) bytes") }
        guard Sodium.isReady else { throw .secureMemoryFailure("libsodium unavailable") }
        do {
            keyPair = try Ed25519.SigningKey(seed: seed)
        } catch {
            switch error {
            case .memory: throw .secureMemoryFailure("guarded allocation failed")
            default: throw .secureMemoryFailure(error.description)
            }
        }
        publicKey = AuditCheckpointPublicKey(validated: keyPair.publicKey)
    }

    /// Derives the key pair from `seed` (exactly 32 guarded bytes, e.g. decoded straight from a key file).
    package init(seed: SecretBytes) throws(AuditError) {
        guard seed.count == Self.seedLength else { throw .invalidKey("a signing seed is \(Self.seedLength) bytes") }
        do {
            keyPair = try seed.withUnsafeBytes { (bytes) throws(CryptoError) in try Ed25519.SigningKey(seed: bytes) }
        } catch {
            switch error {
            case .memory: throw .secureMemoryFailure("guarded allocation failed")
            default: throw .secureMemoryFailure(error.description)
            }
        }
        publicKey = AuditCheckpointPublicKey(validated: keyPair.publicKey)
    }

    /// A new random signing key.
    public static func generate() throws(AuditError) -> AuditSigningKey {
        var seed: [UInt8]
        do { seed = try Sodium.randomBytes(count: seedLength) } catch { throw .secureMemoryFailure(error.description) }
        return try AuditSigningKey(seed: &seed)
    }

    /// Reads the seed from its base64 text (a key file's contents; surrounding whitespace is ignored).
    public init(base64 text: String) throws(AuditError) {
        guard var seed = Base64.decode(text.trimmingASCIIWhitespace(), variant: .standard) else {
            throw .invalidKey("not base64")
        }
        try self.init(seed: &seed)
    }

    /// `AuditSigningKey(public: …, <redacted>)`.
    public var description: String { "AuditSigningKey(public: \(publicKey.base64), <redacted>)" }

    /// The Ed25519 signature of `message`. The key pair was derived at initialisation and
    /// `crypto_sign_detached` has no failure mode for it, so a failure stops the process rather
    /// than writing an unsigned checkpoint.
    func sign(_ message: [UInt8]) -> [UInt8] {
        Sodium.requireSuccess { () throws(CryptoError) in try keyPair.signature(for: message) }
    }
}

/// The public Ed25519 key that verifies checkpoints. Not secret: print it, pin it, publish it.
public struct AuditCheckpointPublicKey: Sendable, Hashable, CustomStringConvertible {
    /// The 32 key bytes.
    public let bytes: [UInt8]

    init(validated bytes: [UInt8]) { self.bytes = bytes }

    /// A public key from its 32 bytes.
    public init(bytes: [UInt8]) throws(AuditError) {
        guard bytes.count == Ed25519.publicKeyByteCount else {
            throw .invalidKey("an Ed25519 public key is 32 bytes")
        }
        self.bytes = bytes
    }

    /// A public key from standard base64.
    public init(base64 text: String) throws(AuditError) {
        guard let bytes = Base64.decode(text.trimmingASCIIWhitespace(), variant: .standard) else {
            throw .invalidKey("not base64")
        }
        try self.init(bytes: bytes)
    }

    /// Standard base64 of the key bytes.
    public var base64: String { Base64.encode(bytes, variant: .standard) }

    /// The base64 key.
    public var description: String { base64 }

    func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        Ed25519.isValidSignature(signature, for: message, publicKey: bytes)
    }
}

/// Helpers for writing new key files (used by `phiguard audit keygen`).
///
/// The returned text is the key itself: write it to a file readable only by the audit writer and
/// the auditors, and do not log it.
public enum AuditKeyMaterial {
    /// A new random 32-byte chain key, base64.
    public static func newChainKeyBase64() throws(AuditError) -> String {
        try newRandomBase64(count: AuditChainKey.length)
    }

    /// A new random 32-byte Ed25519 seed, base64.
    public static func newSigningSeedBase64() throws(AuditError) -> String {
        try newRandomBase64(count: AuditSigningKey.seedLength)
    }

    private static func newRandomBase64(count: Int) throws(AuditError) -> String {
        var bytes: [UInt8]
        do { bytes = try Sodium.randomBytes(count: count) } catch { throw .secureMemoryFailure(error.description) }
        defer { Sodium.zero(&bytes) }
        return Base64.encode(bytes, variant: .standard)
    }
}
