internal import CSodium

/// One-time libsodium initialisation and the few libsodium primitives every module shares.
///
/// `sodium_init` is safe to call from several threads, but it is cheaper and clearer to call it
/// once: `Sodium.isReady` is a lazily initialised global, which Swift guarantees runs exactly once.
package enum Sodium {
    private static let initialisation: Bool = sodium_init() >= 0

    /// `true` once libsodium has initialised (it returns -1 only when no entropy source works).
    package static var isReady: Bool { initialisation }

    /// Fills `buffer` with bytes from libsodium's CSPRNG.
    package static func randomBytes(into buffer: UnsafeMutableRawBufferPointer) throws(SecureMemoryError) {
        guard isReady else { throw .libsodiumUnavailable }
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        randombytes_buf(base, buffer.count)
    }

    /// `count` random bytes in an ordinary array (for public values such as salts and nonces).
    package static func randomBytes(count: Int) throws(SecureMemoryError) -> [UInt8] {
        guard isReady else { throw .libsodiumUnavailable }
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { randombytes_buf(base, buffer.count) }
        }
        return bytes
    }

    /// A uniformly random integer in `0..<upperBound` (libsodium's `randombytes_uniform`, no modulo bias).
    package static func randomUniform(_ upperBound: UInt32) throws(SecureMemoryError) -> UInt32 {
        guard isReady else { throw .libsodiumUnavailable }
        return randombytes_uniform(upperBound)
    }

    /// Constant-time equality of two byte buffers; buffers of different lengths are unequal
    /// (the length itself is not secret in any PHIGuard format).
    package static func constantTimeEqual(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard lhs.count > 0, let left = lhs.baseAddress, let right = rhs.baseAddress else { return true }
        return sodium_memcmp(left, right, lhs.count) == 0
    }

    /// Constant-time equality of two byte sequences held in ordinary memory.
    package static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        lhs.withUnsafeBytes { left in rhs.withUnsafeBytes { right in constantTimeEqual(left, right) } }
    }

    /// Overwrites `buffer` with zeros in a way the optimiser may not remove.
    package static func zero(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        sodium_memzero(base, buffer.count)
    }

    /// Zeroes an ordinary array in place (used for transient copies of secrets).
    package static func zero(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { zero($0) }
    }
}
