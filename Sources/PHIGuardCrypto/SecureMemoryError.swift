/// Failures of the secret-memory layer. None of them carries secret bytes.
package enum SecureMemoryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `sodium_init` failed: the process has no usable entropy source.
    case libsodiumUnavailable
    /// `sodium_malloc` could not provide guarded memory of the requested size.
    case allocationFailed(byteCount: Int)
    /// A secret of zero bytes, or longer than ``SecretBytes/maximumCount``, was requested.
    case invalidLength(Int)

    package var description: String {
        switch self {
        case .libsodiumUnavailable: "libsodium could not be initialised (no entropy source)"
        case .allocationFailed(let count): "guarded allocation of \(count) bytes failed"
        case .invalidLength(let count): "invalid secret length \(count)"
        }
    }
}
