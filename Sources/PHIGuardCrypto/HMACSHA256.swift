internal import CSodium

/// HMAC-SHA256 (RFC 2104 / RFC 4231) with the key absorbed once, through libsodium's
/// `crypto_auth_hmacsha256_*`.
///
/// The state after absorbing the key is itself key-equivalent, so it lives in read-only guarded
/// memory; each MAC starts from a stack copy of it (no re-keying per message) and zeroes the copy.
///
/// ```swift
/// let hmac = try HMACSHA256(key: keyBytes)
/// let tag = try hmac.authenticationCode(for: message)
/// ```
package struct HMACSHA256: Sendable {
    /// The length of a MAC in bytes.
    package static let byteCount = 32

    private let keyedState: SecretBytes

    /// Absorbs `key` (any length; RFC 2104 hashes keys longer than a block first).
    package init(key: UnsafeRawBufferPointer) throws(CryptoError) {
        try Sodium.requireReady()
        let size = MemoryLayout<crypto_auth_hmacsha256_state>.size
        do throws(SecretBytesInitError<CryptoError>) {
            keyedState = try SecretBytes(count: size, idleProtection: .readOnly) {
                (buffer) throws(CryptoError) in
                var state = crypto_auth_hmacsha256_state()
                defer { withUnsafeMutableBytes(of: &state) { Sodium.zero($0) } }
                // libsodium wants a non-null key pointer even for an empty key.
                var empty: UInt8 = 0
                let status = withUnsafePointer(to: &empty) { fallback in
                    crypto_auth_hmacsha256_init(
                        &state, key.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? fallback, key.count)
                }
                try Sodium.check(status, "crypto_auth_hmacsha256_init")
                withUnsafeBytes(of: &state) { buffer.copyMemory(from: $0) }
            }
        } catch {
            switch error {
            case .memory(let memory): throw .memory(memory)
            case .initializer(let inner): throw inner
            }
        }
    }

    /// Absorbs `key`, an array in ordinary memory (the caller zeroes its copy).
    package init(key: [UInt8]) throws(CryptoError) {
        self = try key.withUnsafeBytes { key in Result { () throws(CryptoError) in try HMACSHA256(key: key) } }.get()
    }

    /// Writes `HMAC-SHA256(key, message)` to `output`, which must hold ``byteCount`` bytes.
    @inline(__always)
    package func authenticate(_ message: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer)
        throws(CryptoError)
    {
        try keyedState.withUnsafeBytes { (stored) throws(CryptoError) in
            var state = stored.loadUnaligned(as: crypto_auth_hmacsha256_state.self)
            defer { withUnsafeMutableBytes(of: &state) { Sodium.zero($0) } }
            try Sodium.check(
                crypto_auth_hmacsha256_update(
                    &state, message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count)),
                "crypto_auth_hmacsha256_update")
            try Sodium.check(
                crypto_auth_hmacsha256_final(&state, output.assumingMemoryBound(to: UInt8.self)),
                "crypto_auth_hmacsha256_final")
        }
    }

    /// `HMAC-SHA256(key, message)` as a new array.
    package func authenticationCode(for message: [UInt8]) throws(CryptoError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Self.byteCount)
        try message.withUnsafeBytes { message in
            output.withUnsafeMutableBytes { out in
                Result { () throws(CryptoError) in try authenticate(message, into: out.baseAddress!) }
            }
        }.get()
        return output
    }
}
