/// Everything that can go wrong with TOTP secrets, codes, configurations, enrolment URIs and QR codes.
///
/// No case carries a secret, a code or a URI: descriptions are safe to log.
public enum TOTPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A secret shorter than ``TOTPSecret/minimumByteCount`` or longer than ``TOTPSecret/maximumByteCount``
    /// bytes (RFC 4226 §4 R6: at least 128 bits).
    case invalidSecretLength(byteCount: Int)
    /// A requested random secret size that is not a multiple of 8 bits between 128 and 8,192 bits.
    case invalidSecretBitCount(Int)
    /// The secret's Base32 text is malformed.
    case malformedSecret(Base32DecodingError)
    /// A period outside ``TOTPConfiguration/allowedPeriods`` seconds.
    case invalidPeriod(Int)
    /// A verification window outside ``TOTP/allowedWindows`` steps.
    case invalidWindow(Int)
    /// The submitted code is not the right number of ASCII digits (checked before any HMAC is computed).
    case malformedCode(MalformedCodeReason)
    /// The time is before 1970 or too far in the future to count in 64-bit seconds.
    case timeOutOfRange
    /// An `otpauth://` URI could not be parsed.
    case malformedURI(OTPAuthURIProblem)
    /// An issuer or account name cannot be written into an `otpauth://` URI.
    case invalidLabel(OTPAuthURIProblem)
    /// libqrencode could not encode the text (too long for a QR code, or out of memory).
    case qrEncodingFailed
    /// libsodium could not be initialised or could not allocate guarded memory.
    case secureMemoryFailure(String)

    /// A description without secrets, codes or URIs.
    public var description: String {
        switch self {
        case .invalidSecretLength(let count):
            "TOTP secret of \(count) bytes; must be \(TOTPSecret.minimumByteCount)–\(TOTPSecret.maximumByteCount) bytes"
        case .invalidSecretBitCount(let bits): "invalid TOTP secret size of \(bits) bits (128–8192, a multiple of 8)"
        case .malformedSecret(let reason): "malformed Base32 secret: \(reason)"
        case .invalidPeriod(let period):
            "invalid TOTP period \(period) s (allowed: \(TOTPConfiguration.allowedPeriods.lowerBound)–\(TOTPConfiguration.allowedPeriods.upperBound))"
        case .invalidWindow(let window):
            "invalid TOTP window ±\(window) (allowed: \(TOTP.allowedWindows.lowerBound)–\(TOTP.allowedWindows.upperBound))"
        case .malformedCode(let reason): "malformed one-time code: \(reason)"
        case .timeOutOfRange: "time is outside the range TOTP can count"
        case .malformedURI(let problem): "malformed otpauth URI: \(problem)"
        case .invalidLabel(let problem): "cannot write otpauth URI label: \(problem)"
        case .qrEncodingFailed: "the text could not be encoded as a QR code"
        case .secureMemoryFailure(let reason): "secure memory failure: \(reason)"
        }
    }
}

/// Why a submitted one-time code was rejected before any HMAC was computed. The code is never echoed.
public enum MalformedCodeReason: String, Sendable, Hashable, CustomStringConvertible {
    /// The code does not have exactly the configured number of digits.
    case length
    /// The code contains something other than the ASCII digits `0`–`9`.
    case nonDigit

    /// The raw value.
    public var description: String { rawValue }
}
