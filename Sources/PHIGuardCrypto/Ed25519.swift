internal import CSodium

/// Ed25519 signatures (RFC 8032) through libsodium's `crypto_sign_*`.
package enum Ed25519 {
    /// The seed (private key) length in bytes.
    package static let seedByteCount = 32
    /// The public key length in bytes.
    package static let publicKeyByteCount = 32
    /// The signature length in bytes.
    package static let signatureByteCount = 64

    /// A key pair derived from a seed; the expanded secret key lives in guarded memory.
    package struct SigningKey: Sendable {
        private let secretKey: SecretBytes
        /// The public half (not secret).
        package let publicKey: [UInt8]

        /// Derives the key pair from a ``Ed25519/seedByteCount``-byte `seed` (the caller zeroes its copy).
        package init(seed: UnsafeRawBufferPointer) throws(CryptoError) {
            try Sodium.requireReady()
            guard seed.count == Ed25519.seedByteCount, let seedBase = seed.baseAddress else {
                throw .invalidLength(what: "Ed25519 seed", count: seed.count)
            }
            var publicBytes = [UInt8](repeating: 0, count: Int(crypto_sign_publickeybytes()))
            do throws(SecretBytesInitError<CryptoError>) {
                secretKey = try SecretBytes(count: Int(crypto_sign_secretkeybytes()), idleProtection: .noAccess) {
                    (buffer) throws(CryptoError) in
                    try Sodium.check(
                        crypto_sign_seed_keypair(
                            &publicBytes, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self),
                            seedBase.assumingMemoryBound(to: UInt8.self)),
                        "crypto_sign_seed_keypair")
                }
            } catch {
                switch error {
                case .memory(let memory): throw .memory(memory)
                case .initializer(let inner): throw inner
                }
            }
            publicKey = publicBytes
        }

        /// Derives the key pair from a seed held in an ordinary array (the caller zeroes it).
        package init(seed: [UInt8]) throws(CryptoError) {
            self = try seed.withUnsafeBytes { seed in
                Result { () throws(CryptoError) in try SigningKey(seed: seed) }
            }.get()
        }

        /// The detached ``Ed25519/signatureByteCount``-byte signature of `message`.
        package func signature(for message: [UInt8]) throws(CryptoError) -> [UInt8] {
            var signature = [UInt8](repeating: 0, count: Ed25519.signatureByteCount)
            let status = secretKey.withUnsafeBytes { secret in
                crypto_sign_detached(
                    &signature, nil, message, UInt64(message.count),
                    secret.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            try Sodium.check(status, "crypto_sign_detached")
            return signature
        }
    }

    /// Whether `signature` is a valid signature of `message` under `publicKey`; `false` for wrong
    /// lengths, an invalid key or signature, or when libsodium is unavailable.
    package static func isValidSignature(_ signature: [UInt8], for message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == signatureByteCount, publicKey.count == publicKeyByteCount, Sodium.isReady else {
            return false
        }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), publicKey) == 0
    }
}
