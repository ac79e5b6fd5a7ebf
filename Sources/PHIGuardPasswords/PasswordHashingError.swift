/// Everything that can go wrong while hashing or verifying a password.
///
/// No case carries the password, a pepper, a salt or a hash: descriptions are safe to log.
public enum PasswordHashingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The password is empty.
    case emptyPassword
    /// The password is longer than ``PasswordInput/maximumUTF8Bytes`` UTF-8 bytes (before or after
    /// NFKC normalisation). Passwords are never truncated; this bound stops hashing from becoming a DoS.
    case passwordTooLong(maximumUTF8Bytes: Int)
    /// Argon2 parameters outside the documented bounds (see ``Argon2Parameters``).
    case invalidParameters(String)
    /// A stored hash is not a well-formed, supported PHC string.
    case malformedHash(MalformedHashReason)
    /// A stored hash names a pepper id the hasher does not know. Never a silent mismatch.
    case unknownPepper(id: String)
    /// A pepper's id or length is invalid (ids: 1–8 of `A–Z a–z 0–9 . _ -`; secrets: 16–64 bytes).
    case invalidPepper(String)
    /// More than the configured number of requests are already queued; retry later.
    case overloaded
    /// The calling task was cancelled while the request waited for a hashing slot.
    case cancelled
    /// libargon2 reported an error (for example, it could not allocate memory).
    case argon2Failure(code: Int32, message: String)
    /// libsodium could not be initialised or could not allocate guarded memory.
    case secureMemoryFailure(String)
    /// The password bytes read by ``PasswordSecret/readLine(from:maximumBytes:)`` are not valid UTF-8.
    case invalidEncoding

    /// A log-safe description: no password, pepper, salt or hash.
    public var description: String {
        switch self {
        case .emptyPassword: "password is empty"
        case .passwordTooLong(let maximum): "password is longer than \(maximum) UTF-8 bytes"
        case .invalidParameters(let reason): "invalid Argon2 parameters: \(reason)"
        case .malformedHash(let reason): "malformed password hash: \(reason)"
        case .unknownPepper(let id): "password hash uses unknown pepper id '\(id)'"
        case .invalidPepper(let reason): "invalid pepper: \(reason)"
        case .overloaded: "password hashing queue is full"
        case .cancelled: "password hashing was cancelled"
        case .argon2Failure(let code, let message): "libargon2 error \(code): \(message)"
        case .secureMemoryFailure(let reason): "secure memory failure: \(reason)"
        case .invalidEncoding: "password is not valid UTF-8"
        }
    }
}

/// Why a PHC string was rejected. The offending text is never echoed.
public enum MalformedHashReason: String, Sendable, Hashable, CustomStringConvertible {
    /// Longer than ``PHCString/maximumLength`` characters, or has characters outside printable ASCII.
    case tooLong
    /// Not of the form `$argon2…$…`: a field is missing, empty or extra.
    case structure
    /// The algorithm is not argon2id, argon2i or argon2d.
    case unsupportedAlgorithm
    /// The `v=` field is not 16 or 19.
    case unsupportedVersion
    /// The `m=…,t=…,p=…` field is missing, out of order, not canonical decimal, or has unknown keys.
    case parameterSyntax
    /// The parameters parse but are outside ``Argon2Parameters`` bounds.
    case parameterBounds
    /// The `keyid` field is not valid base64 of 1–8 id characters.
    case keyID
    /// The salt is not canonical unpadded base64, or is not 8–64 bytes.
    case salt
    /// The hash is not canonical unpadded base64, or is not 16–64 bytes.
    case hash

    /// A log-safe description: no password, pepper, salt or hash.
    public var description: String { rawValue }
}
