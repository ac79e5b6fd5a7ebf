internal import CSodium

/// One-time libsodium initialisation, the conversion of libsodium's return codes, and the small
/// primitives every module shares (randomness, constant-time comparison, zeroing).
///
/// `sodium_init` is safe to call from several threads, but it is cheaper and clearer to call it
/// once: `Sodium.isReady` is a lazily initialised global, which Swift guarantees runs exactly once.
package enum Sodium {
    private static let initialisation: Bool = sodium_init() >= 0

    /// `true` once libsodium has initialised (it returns -1 only when no entropy source works).
    package static var isReady: Bool { initialisation }

    /// Throws ``CryptoError/libsodiumUnavailable`` unless libsodium has initialised.
    package static func requireReady() throws(CryptoError) {
        guard isReady else { throw .libsodiumUnavailable }
    }

    // MARK: Return codes

    /// The one place a libsodium return code becomes a Swift error: 0 is success, anything else is
    /// ``CryptoError/failed(function:code:)`` naming the C function.
    package static func check(_ status: Int32, _ function: StaticString) throws(CryptoError) {
        guard status == 0 else { throw .failed(function: "\(function)", code: status) }
    }

    /// Checks a call whose arguments PHIGuard fixes (a guarded page it allocated itself, for example):
    /// a failure there is a broken invariant, so the process stops rather than carrying on with
    /// weaker protection or a wrong result.
    package static func expectSuccess(_ status: Int32, _ function: StaticString) {
        do { try check(status, function) } catch { preconditionFailure("PHIGuardCrypto: \(error)") }
    }

    /// Runs a primitive whose lengths the caller's type already guarantees (a key checked at
    /// initialisation, a constant output length), for call sites whose public API cannot throw.
    /// libsodium can then fail only through a PHIGuard bug, which stops the process instead of
    /// returning a wrong digest or signature.
    package static func requireSuccess<T>(_ body: () throws(CryptoError) -> T) -> T {
        do { return try body() } catch { preconditionFailure("PHIGuardCrypto: \(error)") }
    }

    // MARK: Randomness

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

    // MARK: Comparison and zeroing

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
