internal import CSodium

/// Subkeys from a root key with libsodium's `crypto_kdf_derive_from_key` (BLAKE2b keyed with the
/// root key, salted with the subkey id and personalised with an 8-byte context).
package enum KDF {
    /// The root key length in bytes (`crypto_kdf_KEYBYTES`).
    package static let rootKeyByteCount = 32
    /// The context length in bytes (`crypto_kdf_CONTEXTBYTES`).
    package static let contextByteCount = 8
    /// The subkey lengths accepted (`crypto_kdf_BYTES_MIN` ... `crypto_kdf_BYTES_MAX`).
    package static let subkeyByteCounts = 16...64

    /// Derives subkey `id` of `count` bytes for `context` from `rootKey`, into guarded memory.
    ///
    /// Throws ``CryptoError/invalidLength(what:count:)`` for a wrong root key, context or subkey
    /// length, ``CryptoError/memory(_:)`` if guarded memory is unavailable, and
    /// ``CryptoError/failed(function:code:)`` if libsodium refuses.
    package static func deriveSubkey(
        count: Int, id: UInt64, context: [UInt8], from rootKey: SecretBytes,
        idleProtection: SecretBytes.IdleProtection = .noAccess
    ) throws(CryptoError) -> SecretBytes {
        try Sodium.requireReady()
        guard subkeyByteCounts.contains(count) else { throw .invalidLength(what: "KDF subkey", count: count) }
        guard context.count == contextByteCount else {
            throw .invalidLength(what: "KDF context", count: context.count)
        }
        guard rootKey.count == rootKeyByteCount else {
            throw .invalidLength(what: "KDF root key", count: rootKey.count)
        }
        do throws(SecretBytesInitError<CryptoError>) {
            return try SecretBytes(count: count, idleProtection: idleProtection) { (buffer) throws(CryptoError) in
                let status = rootKey.withUnsafeBytes { root in
                    context.withUnsafeBytes { ctx in
                        crypto_kdf_derive_from_key(
                            buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), buffer.count, id,
                            ctx.baseAddress!.assumingMemoryBound(to: CChar.self),
                            root.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
                try Sodium.check(status, "crypto_kdf_derive_from_key")
            }
        } catch {
            switch error {
            case .memory(let memory): throw .memory(memory)
            case .initializer(let inner): throw inner
            }
        }
    }
}
