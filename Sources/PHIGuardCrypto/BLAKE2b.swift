internal import CSodium

/// BLAKE2b (RFC 7693), keyed or unkeyed, through libsodium's `crypto_generichash`: the one
/// implementation behind every PHIGuard digest (session-token hashes, blind indexes, key
/// fingerprints, recovery-code hashes, store key digests, the subkey domain digest).
///
/// ```swift
/// let digest = try BLAKE2b.hash(message, key: indexKey, outputCount: 32)
/// ```
package enum BLAKE2b {
    /// The output lengths accepted (`crypto_generichash_BYTES_MIN` ... `crypto_generichash_BYTES_MAX`).
    package static let outputCounts = 16...64
    /// The key lengths accepted besides no key (`crypto_generichash_KEYBYTES_MIN` ... `_KEYBYTES_MAX`).
    package static let keyCounts = 16...64

    /// The `outputCount`-byte BLAKE2b digest of `message`, keyed with `key` when it is given and not empty.
    ///
    /// Throws ``CryptoError/invalidLength(what:count:)`` for an output or key length outside
    /// ``outputCounts`` / ``keyCounts``, and ``CryptoError/failed(function:code:)`` if libsodium fails.
    package static func hash(
        _ message: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer? = nil, outputCount: Int
    ) throws(CryptoError) -> [UInt8] {
        try Sodium.requireReady()
        guard outputCounts.contains(outputCount) else {
            throw .invalidLength(what: "BLAKE2b output", count: outputCount)
        }
        let keyCount = key?.count ?? 0
        guard keyCount == 0 || keyCounts.contains(keyCount) else {
            throw .invalidLength(what: "BLAKE2b key", count: keyCount)
        }
        var output = [UInt8](repeating: 0, count: outputCount)
        let status = output.withUnsafeMutableBufferPointer { out in
            crypto_generichash(
                out.baseAddress!, outputCount, message.baseAddress?.assumingMemoryBound(to: UInt8.self),
                UInt64(message.count),
                keyCount == 0 ? nil : key?.baseAddress?.assumingMemoryBound(to: UInt8.self), keyCount)
        }
        try Sodium.check(status, "crypto_generichash")
        return output
    }

    /// The digest of an array, keyed with `key` (ordinary memory) when it is given and not empty.
    package static func hash(_ message: [UInt8], key: [UInt8]? = nil, outputCount: Int) throws(CryptoError)
        -> [UInt8]
    {
        // Array's `withUnsafeBytes` rethrows untyped errors, so the typed result travels in a `Result`.
        try message.withUnsafeBytes { message in
            guard let key else {
                return Result { () throws(CryptoError) in try hash(message, key: nil, outputCount: outputCount) }
            }
            return key.withUnsafeBytes { key in
                Result { () throws(CryptoError) in try hash(message, key: key, outputCount: outputCount) }
            }
        }.get()
    }

    /// The digest of an array, keyed with a secret in guarded memory when one is given.
    package static func hash(_ message: [UInt8], key: SecretBytes?, outputCount: Int) throws(CryptoError)
        -> [UInt8]
    {
        try message.withUnsafeBytes { message in
            guard let key else {
                return Result { () throws(CryptoError) in try hash(message, key: nil, outputCount: outputCount) }
            }
            return key.withUnsafeBytes { key in
                Result { () throws(CryptoError) in try hash(message, key: key, outputCount: outputCount) }
            }
        }.get()
    }
}
