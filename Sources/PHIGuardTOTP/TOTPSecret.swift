internal import PHIGuardCrypto

/// The shared secret of an HOTP/TOTP credential, held in guarded memory (libsodium `sodium_malloc`:
/// guard pages, locked where the system allows, zeroed on release).
///
/// New secrets come from libsodium's CSPRNG, 160 bits by default (RFC 4226 §4 recommends 160 and
/// requires at least 128). The bytes are reachable only inside ``withUnsafeBytes(_:)`` or through the
/// explicit ``revealBase32()``; `description` is `<redacted>` and equality is constant-time.
///
/// ```swift
/// let secret = try TOTPSecret()                       // 160 random bits
/// let imported = try TOTPSecret(base32: "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP")
/// ```
public final class TOTPSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The size of a new secret unless asked otherwise: 160 bits (20 bytes).
    public static let defaultBitCount = 160
    /// The shortest secret accepted: 16 bytes (128 bits, RFC 4226 §4 R6).
    public static let minimumByteCount = 16
    /// The longest secret accepted: 1,024 bytes (a bound against absurd input).
    public static let maximumByteCount = 1_024

    let bytes: SecretBytes

    /// The number of secret bytes (not secret itself).
    public var byteCount: Int { bytes.count }

    /// A new random secret of `bitCount` bits (a multiple of 8, from 128 to 8,192).
    public init(randomBitCount bitCount: Int = TOTPSecret.defaultBitCount) throws(TOTPError) {
        guard bitCount % 8 == 0, (Self.minimumByteCount * 8...Self.maximumByteCount * 8).contains(bitCount) else {
            throw .invalidSecretBitCount(bitCount)
        }
        do {
            // Read-only while idle: verification is a hot path, and two mprotect calls per use would dominate it.
            bytes = try SecretBytes(randomCount: bitCount / 8, idleProtection: .readOnly)
        } catch {
            throw .secureMemoryFailure(error.description)
        }
    }

    /// Copies `rawBytes` into guarded memory. Zero your own copy afterwards.
    public init(bytes rawBytes: some Collection<UInt8>) throws(TOTPError) {
        guard (Self.minimumByteCount...Self.maximumByteCount).contains(rawBytes.count) else {
            throw .invalidSecretLength(byteCount: rawBytes.count)
        }
        do {
            bytes = try SecretBytes(copying: rawBytes, idleProtection: .readOnly)
        } catch {
            throw .secureMemoryFailure(error.description)
        }
    }

    /// Decodes a Base32 secret (spaces, lower case and missing padding are fine; see ``Base32``).
    public convenience init(base32 text: some StringProtocol) throws(TOTPError) {
        var decoded: [UInt8]
        do {
            decoded = try Base32.decode(text)
        } catch {
            throw .malformedSecret(error)
        }
        defer { Sodium.zero(&decoded) }
        try self.init(bytes: decoded)
    }

    /// The secret as unpadded upper-case Base32, for an enrolment URI or an encrypted backup.
    ///
    /// This puts the secret into an ordinary `String`; call it only where the secret must leave
    /// guarded memory, and do not log the result.
    public func revealBase32() -> String {
        bytes.withUnsafeBytes { Base32.encode($0) }
    }

    /// Gives `body` read access to the raw secret bytes (for example to encrypt them for storage).
    /// Do not let the pointer escape.
    public func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try bytes.withUnsafeBytes(body)
    }

    /// Constant-time comparison of the secret bytes (lengths are compared first; they are public).
    public static func == (lhs: TOTPSecret, rhs: TOTPSecret) -> Bool {
        lhs.bytes.constantTimeEquals(rhs.bytes)
    }

    /// Always `<redacted>`.
    public var description: String { "<redacted>" }
    /// Always `<redacted>`.
    public var debugDescription: String { "<redacted>" }
    /// A mirror with no children, so `dump` shows nothing secret.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
