internal import Foundation
internal import PHIGuardCrypto

/// The input rules every password goes through before it reaches Argon2.
///
/// 1. Empty → ``PasswordHashingError/emptyPassword``.
/// 2. Longer than ``maximumUTF8Bytes`` UTF-8 bytes → ``PasswordHashingError/passwordTooLong(maximumUTF8Bytes:)``.
///    Checked before normalisation (so huge inputs cost nothing) and again after it (NFKC can expand text).
/// 3. Unicode NFKC normalisation (NIST SP 800-63B §3.1.1.2), so "Å" typed as one code point or as
///    "A" + ring verifies the same. Never truncated.
/// 4. The UTF-8 bytes are copied straight into guarded memory (`SecretBytes`), which is zeroed on release.
public enum PasswordInput {
    /// The DoS guard: the most UTF-8 bytes a password may have, before and after normalisation.
    public static let maximumUTF8Bytes = 1_024

    /// The NFKC-normalised form of `password`, after the length checks above.
    public static func normalized(_ password: String) throws(PasswordHashingError) -> String {
        guard !password.isEmpty else { throw .emptyPassword }
        guard password.utf8.count <= maximumUTF8Bytes else {
            throw .passwordTooLong(maximumUTF8Bytes: maximumUTF8Bytes)
        }
        let normalized = password.precomposedStringWithCompatibilityMapping
        guard normalized.utf8.count <= maximumUTF8Bytes else {
            throw .passwordTooLong(maximumUTF8Bytes: maximumUTF8Bytes)
        }
        return normalized
    }

    /// The normalised password's UTF-8 bytes in guarded memory.
    static func secureBytes(_ password: String) throws(PasswordHashingError) -> SecretBytes {
        let normalized = try normalized(password)
        do {
            return try SecretBytes(copying: normalized.utf8, idleProtection: .readOnly)
        } catch {
            throw .secureMemoryFailure(error.description)
        }
    }
}
