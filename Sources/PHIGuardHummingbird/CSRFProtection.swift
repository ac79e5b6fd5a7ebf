internal import PHIGuardCrypto

/// Cross-site request forgery protection for state-changing requests: the origin check and the
/// synchronizer token bound to the session. Used by ``CSRFMiddleware``; render ``token(for:)`` into
/// every form as a hidden ``formField`` (or send it as the ``headerName`` header).
///
/// The token is HMAC-SHA256 of the session's public handle under a server key, so it is the same for
/// the whole life of a session (across token rotations, from the second-factor form on) and useless
/// for any other session; it is compared in constant time.
public struct CSRFProtection: Sendable {
    /// The hidden form field that carries the token: `_csrf`.
    public static let formField = "_csrf"
    /// The header that carries the token: `X-CSRF-Token`.
    public static let headerName = "X-CSRF-Token"

    let mac: HMACSHA256
    /// Allowed `Origin` values (`scheme://host[:port]`, lower case); empty means "the request's own host".
    public let allowedOrigins: Set<String>

    /// Protection with a fresh random key (tokens last as long as the process: enough for one
    /// instance). With no `allowedOrigins`, an `Origin` must name the request's own `Host`.
    public init(allowedOrigins: [String] = []) throws(PHIGuardWebConfigurationError) {
        var key: [UInt8]
        do { key = try Sodium.randomBytes(count: 32) } catch { throw .randomnessUnavailable }
        try self.init(key: &key, allowedOrigins: allowedOrigins)
    }

    /// Protection with `key` (at least 32 bytes; zeroed here), shared by every instance behind one
    /// load balancer so a form rendered by one is accepted by another.
    public init(key: inout [UInt8], allowedOrigins: [String] = []) throws(PHIGuardWebConfigurationError) {
        defer { Sodium.zero(&key) }
        guard key.count >= 32 else { throw .keyTooShort }
        do { mac = try HMACSHA256(key: key) } catch { throw .randomnessUnavailable }
        self.allowedOrigins = Set(allowedOrigins.map { $0.lowercased() })
    }

    /// The form token of `session`, or `nil` when the request has no session (anonymous forms are
    /// protected by the origin check alone).
    public func token(for session: PHIGuardSession?) -> String? {
        guard let handle = session?.handle else { return nil }
        return token(forHandle: handle)
    }

    func token(forHandle handle: String) -> String? {
        guard let code = try? mac.authenticationCode(for: Array(("phiguard-csrf-v1:" + handle).utf8)) else {
            return nil
        }
        return Base64.encode(code, variant: .urlSafeUnpadded)
    }

    /// Whether `presented` is `session`'s token (constant-time); `false` without a session. For
    /// middleware of an app's own that requires the token on more requests than ``CSRFMiddleware``
    /// does (for example every state-changing API call, whatever its content type).
    public func verify(_ presented: String, for session: PHIGuardSession?) -> Bool {
        guard let handle = session?.handle else { return false }
        return verify(presented, handle: handle)
    }

    /// Whether `presented` is the token of the session named `handle` (constant-time).
    func verify(_ presented: String, handle: String) -> Bool {
        guard let expected = token(forHandle: handle) else { return false }
        return Sodium.constantTimeEqual(Array(presented.utf8), Array(expected.utf8))
    }
}

/// A configuration PHIGuard's Hummingbird adapter refuses.
public enum PHIGuardWebConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A CSRF key shorter than 32 bytes.
    case keyTooShort
    /// libsodium could not provide randomness or a MAC state.
    case randomnessUnavailable

    /// What is wrong (never a key).
    public var description: String {
        switch self {
        case .keyTooShort: "the CSRF key must be at least 32 bytes"
        case .randomnessUnavailable: "libsodium could not provide randomness"
        }
    }
}
