/// An HMAC-based one-time password generator (RFC 4226), the building block of ``TOTP``.
///
/// ```swift
/// let hotp = HOTP(secret: try TOTPSecret(bytes: Array("12345678901234567890".utf8)))
/// hotp.code(counter: 0)   // "755224"
/// ```
public struct HOTP: Sendable {
    /// The shared secret.
    public let secret: TOTPSecret
    /// The HMAC hash function.
    public let algorithm: OTPAlgorithm
    /// The number of digits in a code.
    public let digits: OTPDigits

    /// An HOTP generator; SHA-1 and 6 digits by default, as RFC 4226 specifies.
    public init(secret: TOTPSecret, algorithm: OTPAlgorithm = .sha1, digits: OTPDigits = .six) {
        self.secret = secret
        self.algorithm = algorithm
        self.digits = digits
    }

    /// The code for the 64-bit `counter`, zero-padded to ``digits`` characters.
    public func code(counter: UInt64) -> String {
        OneTimePasswordFunction(secret: secret, algorithm: algorithm, digits: digits).code(counter: counter)
    }
}
