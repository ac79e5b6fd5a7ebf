internal import CSodium
internal import PHIGuardSecureMemory

/// The Ed25519 key that signs checkpoints (libsodium `crypto_sign_*`).
///
/// Only the audit writer holds it; anyone with the matching ``AuditCheckpointPublicKey`` can check
/// a checkpoint off-host. The secret key lives in guarded memory; `description` never shows it.
public struct AuditSigningKey: Sendable, CustomStringConvertible {
    /// The seed length in bytes.
    public static let seedLength = 32

    let secretKey: SecretBytes
    /// The public half, to give to verifiers.
    public let publicKey: AuditCheckpointPublicKey

    /// Derives the key pair from a 32-byte `seed` and zeroes the caller's array.
    public init(seed: inout [UInt8]) throws(AuditError) {
        defer { Sodium.zero(&seed) }
        guard seed.count == Self.seedLength else { throw .invalidKey("a signing seed is \(Self.seedLength) bytes") }
        guard Sodium.isReady else { throw .secureMemoryFailure("libsodium unavailable") }
        var publicBytes = [UInt8](repeating: 0, count: Int(crypto_sign_publickeybytes()))
        do {
            secretKey = try seed.withUnsafeBufferPointer { seedBytes throws(SecretBytesInitError<Never>) in
                try SecretBytes(count: Int(crypto_sign_secretkeybytes()), idleProtection: .noAccess) { buffer in
                    _ = crypto_sign_seed_keypair(
                        &publicBytes, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), seedBytes.baseAddress!)
                }
            }
        } catch {
            throw .secureMemoryFailure("guarded allocation failed")
        }
        publicKey = AuditCheckpointPublicKey(validated: publicBytes)
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

    func sign(_ message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Int(crypto_sign_bytes()))
        secretKey.withUnsafeBytes { secret in
            _ = crypto_sign_detached(
                &signature, nil, message, UInt64(message.count), secret.baseAddress!.assumingMemoryBound(to: UInt8.self)
            )
        }
        return signature
    }
}

/// The public Ed25519 key that verifies checkpoints. Not secret: print it, pin it, publish it.
public struct AuditCheckpointPublicKey: Sendable, Hashable, CustomStringConvertible {
    /// The 32 key bytes.
    public let bytes: [UInt8]

    init(validated bytes: [UInt8]) { self.bytes = bytes }

    /// A public key from its 32 bytes.
    public init(bytes: [UInt8]) throws(AuditError) {
        guard bytes.count == 32 else { throw .invalidKey("an Ed25519 public key is 32 bytes") }
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
        guard signature.count == Int(crypto_sign_bytes()), Sodium.isReady else { return false }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), bytes) == 0
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
