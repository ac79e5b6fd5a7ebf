internal import CSodium

/// The two libsodium ChaCha20-Poly1305 constructions, with lengths checked before any C call.
///
/// This is the raw layer under PHIGuardFieldEncryption's `FieldEncryptor`: the caller chooses the
/// nonce, so it is `package` (tests use it) and never a product API. Envelopes always use
/// ``Algorithm/xChaCha20Poly1305`` with a random 24-byte nonce.
package enum AEAD {
    /// The AEAD constructions PHIGuard knows.
    package enum Algorithm: Sendable {
        /// `crypto_aead_xchacha20poly1305_ietf_*`: 32-byte key, 24-byte nonce, 16-byte tag.
        case xChaCha20Poly1305
        /// `crypto_aead_chacha20poly1305_ietf_*` (RFC 8439): 32-byte key, 12-byte nonce, 16-byte tag.
        case chaCha20Poly1305IETF

        /// Key length in bytes.
        package var keyByteCount: Int {
            switch self {
            case .xChaCha20Poly1305: Int(crypto_aead_xchacha20poly1305_ietf_keybytes())
            case .chaCha20Poly1305IETF: Int(crypto_aead_chacha20poly1305_ietf_keybytes())
            }
        }

        /// Nonce length in bytes.
        package var nonceByteCount: Int {
            switch self {
            case .xChaCha20Poly1305: Int(crypto_aead_xchacha20poly1305_ietf_npubbytes())
            case .chaCha20Poly1305IETF: Int(crypto_aead_chacha20poly1305_ietf_npubbytes())
            }
        }

        /// Tag length in bytes.
        package var tagByteCount: Int {
            switch self {
            case .xChaCha20Poly1305: Int(crypto_aead_xchacha20poly1305_ietf_abytes())
            case .chaCha20Poly1305IETF: Int(crypto_aead_chacha20poly1305_ietf_abytes())
            }
        }

        /// The longest plaintext libsodium accepts (the function form; the macro does not import).
        package var maximumMessageByteCount: Int {
            let limit =
                switch self {
                case .xChaCha20Poly1305: crypto_aead_xchacha20poly1305_ietf_messagebytes_max()
                case .chaCha20Poly1305IETF: crypto_aead_chacha20poly1305_ietf_messagebytes_max()
                }
            // size_t imports as Int: read it back as unsigned (XChaCha's limit is SIZE_MAX - 16).
            return Int(clamping: UInt(bitPattern: limit))
        }
    }

    /// Why a raw AEAD call was refused or failed. Carries lengths only, never bytes.
    package enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The key is not ``Algorithm/keyByteCount`` bytes.
        case invalidKeyLength(Int)
        /// The nonce is not ``Algorithm/nonceByteCount`` bytes.
        case invalidNonceLength(Int)
        /// The message is longer than ``Algorithm/maximumMessageByteCount``.
        case messageTooLong
        /// The ciphertext is shorter than a tag.
        case ciphertextTooShort
        /// The tag did not verify: wrong key, nonce, associated data, or modified ciphertext.
        case authenticationFailed
        /// libsodium could not be initialised.
        case libsodiumUnavailable

        /// A description without any byte of key, nonce, message or ciphertext.
        package var description: String {
            switch self {
            case .invalidKeyLength(let count): "invalid AEAD key length \(count)"
            case .invalidNonceLength(let count): "invalid AEAD nonce length \(count)"
            case .messageTooLong: "AEAD message too long"
            case .ciphertextTooShort: "AEAD ciphertext shorter than its tag"
            case .authenticationFailed: "AEAD authentication failed"
            case .libsodiumUnavailable: "libsodium could not be initialised"
            }
        }
    }

    /// Encrypts `message` into `output` (which must be exactly `message.count + tagByteCount` bytes).
    package static func seal(
        _ algorithm: Algorithm,
        message: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        key: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(Failure) {
        let (n, k) = try check(algorithm, nonce: nonce, key: key)
        guard message.count <= algorithm.maximumMessageByteCount else { throw .messageTooLong }
        guard output.count == message.count + algorithm.tagByteCount, let outBase = output.baseAddress else {
            throw .ciphertextTooShort
        }
        var written: UInt64 = 0
        let out = outBase.assumingMemoryBound(to: UInt8.self)
        let m = message.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let ad = associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let status =
            switch algorithm {
            case .xChaCha20Poly1305:
                crypto_aead_xchacha20poly1305_ietf_encrypt(
                    out, &written, m, UInt64(message.count), ad, UInt64(associatedData.count), nil, n, k)
            case .chaCha20Poly1305IETF:
                crypto_aead_chacha20poly1305_ietf_encrypt(
                    out, &written, m, UInt64(message.count), ad, UInt64(associatedData.count), nil, n, k)
            }
        guard status == 0, written == UInt64(output.count) else { throw .authenticationFailed }
    }

    /// Decrypts and verifies `ciphertext` (ciphertext ‖ tag) into `output`
    /// (exactly `ciphertext.count - tagByteCount` bytes). On failure `output` is zeroed.
    package static func open(
        _ algorithm: Algorithm,
        ciphertext: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        key: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(Failure) {
        let (n, k) = try check(algorithm, nonce: nonce, key: key)
        guard ciphertext.count >= algorithm.tagByteCount else { throw .ciphertextTooShort }
        guard output.count == ciphertext.count - algorithm.tagByteCount else { throw .ciphertextTooShort }
        var written: UInt64 = 0
        // libsodium accepts a NULL output only for an empty message; give it a valid byte otherwise.
        var scratch: UInt8 = 0
        let status = withUnsafeMutablePointer(to: &scratch) { scratchPointer in
            let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? scratchPointer
            guard let c = ciphertext.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return Int32(-1) }
            let ad = associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self)
            return switch algorithm {
            case .xChaCha20Poly1305:
                crypto_aead_xchacha20poly1305_ietf_decrypt(
                    out, &written, nil, c, UInt64(ciphertext.count), ad, UInt64(associatedData.count), n, k)
            case .chaCha20Poly1305IETF:
                crypto_aead_chacha20poly1305_ietf_decrypt(
                    out, &written, nil, c, UInt64(ciphertext.count), ad, UInt64(associatedData.count), n, k)
            }
        }
        guard status == 0, written == UInt64(output.count) else {
            Sodium.zero(output)
            throw .authenticationFailed
        }
    }

    /// Array convenience: `ciphertext ‖ tag` of `message`.
    package static func seal(
        _ algorithm: Algorithm, message: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: [UInt8]
    ) throws(Failure) -> [UInt8] {
        try check(algorithm, nonce: nonce.count, key: key.count)
        var output = [UInt8](repeating: 0, count: message.count + algorithm.tagByteCount)
        var result: Result<Void, Failure> = .success(())
        message.withUnsafeBytes { m in
            associatedData.withUnsafeBytes { ad in
                nonce.withUnsafeBytes { n in
                    key.withUnsafeBytes { k in
                        output.withUnsafeMutableBytes { out in
                            result = Result { () throws(Failure) in
                                try seal(algorithm, message: m, associatedData: ad, nonce: n, key: k, into: out)
                            }
                        }
                    }
                }
            }
        }
        try result.get()
        return output
    }

    /// Array convenience: the verified plaintext of `ciphertext ‖ tag`.
    package static func open(
        _ algorithm: Algorithm, ciphertext: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: [UInt8]
    ) throws(Failure) -> [UInt8] {
        try check(algorithm, nonce: nonce.count, key: key.count)
        guard ciphertext.count >= algorithm.tagByteCount else { throw .ciphertextTooShort }
        var output = [UInt8](repeating: 0, count: ciphertext.count - algorithm.tagByteCount)
        var result: Result<Void, Failure> = .success(())
        ciphertext.withUnsafeBytes { c in
            associatedData.withUnsafeBytes { ad in
                nonce.withUnsafeBytes { n in
                    key.withUnsafeBytes { k in
                        output.withUnsafeMutableBytes { out in
                            result = Result { () throws(Failure) in
                                try open(algorithm, ciphertext: c, associatedData: ad, nonce: n, key: k, into: out)
                            }
                        }
                    }
                }
            }
        }
        try result.get()
        return output
    }

    private static func check(
        _ algorithm: Algorithm, nonce: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer
    ) throws(Failure) -> (nonce: UnsafePointer<UInt8>, key: UnsafePointer<UInt8>) {
        try check(algorithm, nonce: nonce.count, key: key.count)
        guard let n = nonce.baseAddress, let k = key.baseAddress else { throw .invalidNonceLength(nonce.count) }
        return (n.assumingMemoryBound(to: UInt8.self), k.assumingMemoryBound(to: UInt8.self))
    }

    private static func check(_ algorithm: Algorithm, nonce: Int, key: Int) throws(Failure) {
        guard Sodium.isReady else { throw .libsodiumUnavailable }
        guard key == algorithm.keyByteCount else { throw .invalidKeyLength(key) }
        guard nonce == algorithm.nonceByteCount else { throw .invalidNonceLength(nonce) }
    }
}
