/// Why a libsodium primitive refused its inputs or failed. Carries lengths and libsodium function
/// names only, never a byte of a key, message or digest.
package enum CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `sodium_init` failed: the process has no usable entropy source.
    case libsodiumUnavailable
    /// An input or output length is outside what the primitive accepts (`what` names the parameter).
    case invalidLength(what: String, count: Int)
    /// A libsodium function returned a failure code (converted in ``Sodium/check(_:_:)`` only).
    case failed(function: String, code: Int32)
    /// Guarded memory for a result could not be allocated.
    case memory(SecureMemoryError)

    /// A description without any secret or message byte.
    package var description: String {
        switch self {
        case .libsodiumUnavailable: "libsodium could not be initialised (no entropy source)"
        case .invalidLength(let what, let count): "invalid \(what) length \(count)"
        case .failed(let function, let code): "\(function) failed (\(code))"
        case .memory(let error): error.description
        }
    }
}
