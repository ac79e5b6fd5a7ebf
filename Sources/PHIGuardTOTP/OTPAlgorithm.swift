/// The HMAC hash function a one-time password is computed with (RFC 6238 §1.2).
public enum OTPAlgorithm: String, Sendable, Hashable, CaseIterable, Codable {
    /// HMAC-SHA-1: the RFC 4226 default and the only one every authenticator app supports.
    case sha1 = "SHA1"
    /// HMAC-SHA-256 (RFC 6238).
    case sha256 = "SHA256"
    /// HMAC-SHA-512 (RFC 6238).
    case sha512 = "SHA512"
}

/// How many decimal digits a one-time password has (RFC 4226 §5.3 allows 6 to 8 here).
public enum OTPDigits: Int, Sendable, Hashable, CaseIterable, Codable {
    /// Six digits: the default, and what every authenticator app shows.
    case six = 6
    /// Seven digits.
    case seven = 7
    /// Eight digits (the RFC 6238 Appendix B test vectors).
    case eight = 8

    /// `10^digits`, the modulus of the truncated HMAC value.
    var modulus: UInt32 {
        switch self {
        case .six: 1_000_000
        case .seven: 10_000_000
        case .eight: 100_000_000
        }
    }
}
