internal import PHIGuardCrypto

/// The secret a client presents to resume its session (the cookie value): 256 bits from libsodium's
/// CSPRNG, held in guarded memory that is zeroed when released.
///
/// The server never stores a token, only its ``SessionTokenHash``. Tokens are made by ``LoginFlow``
/// (never from a value the client chose) and replaced on every change of state, so a planted cookie
/// (session fixation) is worthless. `description` is redacted.
public struct SessionToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The token length in bytes.
    public static let byteCount = 32
    /// The length of ``cookieValue`` (unpadded base64url of 32 bytes).
    public static let cookieValueLength = 43

    private let secret: SecretBytes

    /// A fresh random token.
    init() throws(SecureMemoryError) {
        secret = try SecretBytes(randomCount: Self.byteCount)
    }

    /// Parses a value a client sent; `nil` unless it has exactly the shape of a token this library issues.
    ///
    /// A well-formed value is still only a candidate: ``LoginFlow/resume(_:)`` accepts it only if the
    /// store holds its hash (strict mode: identifiers the server did not issue are refused).
    public init?(cookieValue: String) {
        guard cookieValue.utf8.count == Self.cookieValueLength,
            var bytes = Base64.decode(cookieValue, variant: .urlSafeUnpadded)
        else { return nil }
        defer { Sodium.zero(&bytes) }
        guard bytes.count == Self.byteCount,
            Base64.encode(bytes, variant: .urlSafeUnpadded) == cookieValue,  // canonical spelling only
            let secret = try? SecretBytes(copying: bytes)
        else { return nil }
        self.secret = secret
    }

    /// The value to hand to the client (for example in a `Secure; HttpOnly; SameSite=Strict` cookie).
    ///
    /// This is the one place the secret leaves guarded memory, as a `String` that Swift cannot zero;
    /// write it to the response and drop it.
    public var cookieValue: String {
        secret.withUnsafeBytes { Base64.encode($0, variant: .urlSafeUnpadded) }
    }

    /// The hash under which the session is stored.
    public var hash: SessionTokenHash {
        secret.withUnsafeBytes { SessionTokenHash(hashing: $0) }
    }

    /// `<redacted>`.
    public var description: String { "SessionToken(<redacted>)" }
    /// `<redacted>`.
    public var debugDescription: String { description }
}

/// The BLAKE2b-256 hash of a ``SessionToken``: what a ``SessionStore`` keeps and looks sessions up by.
///
/// A 256-bit random token has no dictionary to attack, so an unkeyed hash is enough: reading the
/// session table does not let anyone present a session.
public struct SessionTokenHash: Sendable, Hashable, CustomStringConvertible {
    /// The 32 hash bytes.
    public let bytes: [UInt8]

    /// Wraps 32 stored hash bytes (for store implementations reading a row); `nil` for another length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// Hashes a token's bytes: an unkeyed BLAKE2b-256 of a fixed-length token, which libsodium
    /// cannot refuse (``SessionToken`` is reachable only once libsodium has initialised).
    init(hashing token: UnsafeRawBufferPointer) {
        bytes = Sodium.requireSuccess { () throws(CryptoError) in try BLAKE2b.hash(token, outputCount: 32) }
    }

    /// Lower-case hex (safe to show: the hash does not open the session).
    public var hex: String { Hex.encode(bytes) }

    /// The first 8 hex digits only.
    public var description: String { "SessionTokenHash(\(hex.prefix(8))…)" }
}
