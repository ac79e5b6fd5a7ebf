/// A keyed BLAKE2b-128 digest of identifiers, for stores that must not keep them in clear (account
/// ids, login names and client addresses are identifiers under HIPAA).
///
/// The parts are joined with a zero byte, so `["login", "alice"]` and `["login\0alice"]` collide only
/// when the caller lets a part contain a zero byte; every PHIGuard store prefixes a fixed label.
package struct KeyedDigest: Sendable {
    private let key: SecretBytes

    /// A digest keyed with `secret` (32 bytes), copied into guarded memory; the caller's copy is zeroed.
    /// Throws ``SecureMemoryError/invalidLength(_:)`` unless `secret` is 32 bytes.
    package init(secret: inout [UInt8]) throws(SecureMemoryError) {
        defer { Sodium.zero(&secret) }
        guard secret.count == 32 else { throw .invalidLength(secret.count) }
        key = try SecretBytes(copying: secret, idleProtection: .readOnly)
    }

    /// A digest keyed with `secret`, sharing its guarded memory (nothing is copied or zeroed).
    package init(secret: DigestSecret) {
        key = secret.bytes
    }

    /// The 16-byte digest of `parts`, joined with zero bytes.
    ///
    /// The key is 32 bytes (checked at initialisation) and the output 16, so libsodium cannot refuse
    /// the call; that lets the stores' hot paths stay non-throwing.
    package func digest(_ parts: String...) -> [UInt8] {
        var input: [UInt8] = []
        for (index, part) in parts.enumerated() {
            if index > 0 { input.append(0) }
            input.append(contentsOf: part.utf8)
        }
        return Sodium.requireSuccess { () throws(CryptoError) in try BLAKE2b.hash(input, key: key, outputCount: 16) }
    }
}
