/// Everything that can go wrong encrypting, decrypting or re-encrypting a field.
///
/// Every reason an envelope is refused (tampered bytes, truncation, an unknown format version, an
/// unknown or revoked key id, the wrong table/record/field context) is reported as the single case
/// ``decryptionFailed``, so an attacker probing stored values learns nothing from the error. The
/// distinct reason is logged at `debug` level (reason name, table and field only) for operators.
/// No case carries plaintext, key or ciphertext bytes: descriptions are safe to log.
public enum FieldEncryptionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The envelope is not a valid encryption of any value for this context under this keyring.
    case decryptionFailed
    /// The context is unusable: an empty or over-long table, record id or field name.
    case invalidContext(String)
    /// A key id or key length is invalid, or a keyring is inconsistent (duplicate ids, active key revoked).
    case invalidKey(String)
    /// The plaintext is longer than ``FieldEnvelope/maximumPlaintextByteCount``.
    case plaintextTooLong(maximumByteCount: Int)
    /// A re-encrypted value did not decrypt back to the original; nothing was written.
    case verificationFailed
    /// libsodium could not be initialised or guarded memory could not be allocated.
    case secureMemoryFailure(String)

    /// A description without any secret, plaintext or ciphertext byte.
    public var description: String {
        switch self {
        case .decryptionFailed: "field decryption failed"
        case .invalidContext(let reason): "invalid field context: \(reason)"
        case .invalidKey(let reason): "invalid field key: \(reason)"
        case .plaintextTooLong(let maximum): "field plaintext is longer than \(maximum) bytes"
        case .verificationFailed: "re-encrypted field did not verify"
        case .secureMemoryFailure(let reason): "secure memory failure: \(reason)"
        }
    }
}

/// Why an envelope was refused, internally. Publicly all of these are
/// ``FieldEncryptionError/decryptionFailed``; tests and the debug log see the distinction.
package enum EnvelopeRejection: Error, Hashable, Sendable, CustomStringConvertible {
    /// Shorter than the smallest well-formed envelope for its header (or empty).
    case truncated
    /// The header is not well formed (bad key id length or characters, text form not canonical).
    case malformed
    /// The format version byte is not one this build reads.
    case unsupportedVersion
    /// No key with the envelope's key id is in the keyring.
    case unknownKeyID
    /// The envelope's key id is listed as revoked.
    case revokedKeyID
    /// The tag did not verify. This is the one failure for modified bytes *and* for a wrong
    /// context (another table, record, field or extra context): AEAD cannot tell them apart.
    case authenticationFailed
    /// The subkey could not be prepared (guarded memory); reported publicly as a secure-memory failure.
    case keyUnavailable(String)

    /// The reason's name, safe to log.
    package var description: String {
        switch self {
        case .truncated: "truncated"
        case .malformed: "malformed"
        case .unsupportedVersion: "unsupported-version"
        case .unknownKeyID: "unknown-key-id"
        case .revokedKeyID: "revoked-key-id"
        case .authenticationFailed: "authentication-failed (tampered or wrong context)"
        case .keyUnavailable(let reason): "key-unavailable (\(reason))"
        }
    }
}
