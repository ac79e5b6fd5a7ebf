internal import PHIGuardCrypto

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// A password as typed, held in guarded memory from the moment it is read: ``readLine(from:maximumBytes:)``
/// reads it with `read(2)` straight into a `sodium_malloc` buffer, so no `String`, array or stdio
/// buffer ever holds it. Hash or verify it with ``PasswordHasher/hash(secret:)`` / ``PasswordHasher/verify(secret:against:)``.
///
/// The one copy outside guarded memory: a password with a non-ASCII byte is NFKC-normalised
/// (``PasswordInput``), which Foundation does on a `String`; that string is released, not zeroed.
/// An ASCII password is its own NFKC form and goes from the input buffer to Argon2 without a copy.
public struct PasswordSecret: Sendable, CustomStringConvertible {
    let secret: SecretBytes

    /// The number of bytes typed (not secret: Argon2's cost does not depend on it).
    public var byteCount: Int { secret.count }

    /// Reads one line from `descriptor` (default standard input), one byte per `read(2)` so nothing
    /// past the newline is consumed (a second line, such as a TOTP code, stays for the next reader).
    /// A trailing `\r` is removed. Returns `nil` at end of input with nothing read.
    ///
    /// - Throws: ``PasswordHashingError/passwordTooLong(maximumUTF8Bytes:)`` past `maximumBytes`,
    ///   ``PasswordHashingError/secureMemoryFailure(_:)`` if guarded memory or `read` fails.
    public static func readLine(from descriptor: Int32 = 0, maximumBytes: Int = PasswordInput.maximumUTF8Bytes)
        throws(PasswordHashingError) -> PasswordSecret?
    {
        var count = 0
        var sawNewline = false
        let buffer: SecretBytes
        do {
            buffer = try SecretBytes(count: maximumBytes + 1) { (out) throws(PasswordHashingError) in
                guard let base = out.baseAddress else { throw .secureMemoryFailure("empty buffer") }
                while count <= maximumBytes {
                    let got = read(descriptor, base + count, 1)
                    if got < 0 {
                        if errno == EINTR { continue }
                        throw .secureMemoryFailure("read failed (errno \(errno))")
                    }
                    if got == 0 { break }
                    if out[count] == 0x0A {
                        out[count] = 0
                        sawNewline = true
                        break
                    }
                    count += 1
                }
            }
        } catch {
            switch error {
            case .initializer(let inner): throw inner
            case .memory(let memory): throw .secureMemoryFailure(memory.description)
            }
        }
        guard count <= maximumBytes else { throw .passwordTooLong(maximumUTF8Bytes: maximumBytes) }
        let trailingReturn = count > 0 && buffer.withUnsafeBytes { $0[count - 1] == 0x0D }
        let length = trailingReturn ? count - 1 : count
        guard length > 0 else {
            if !sawNewline && count == 0 { return nil }
            throw .emptyPassword
        }
        do {
            return PasswordSecret(
                secret: try buffer.withUnsafeBytes { (bytes) throws(SecureMemoryError) in
                    try SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
                })
        } catch {
            throw .secureMemoryFailure(error.description)
        }
    }

    /// The bytes to hash: the input itself when it is ASCII (its own NFKC form), else its NFKC form
    /// (through a `String`, the one unavoidable copy). Applies the ``PasswordInput`` rules.
    func normalizedSecret() throws(PasswordHashingError) -> SecretBytes {
        let ascii = secret.withUnsafeBytes { bytes in bytes.allSatisfy { $0 < 0x80 } }
        if ascii {
            guard secret.count <= PasswordInput.maximumUTF8Bytes else {
                throw .passwordTooLong(maximumUTF8Bytes: PasswordInput.maximumUTF8Bytes)
            }
            return secret
        }
        let text = secret.withUnsafeBytes { String(validating: $0, as: UTF8.self) }
        guard let text else { throw .invalidEncoding }
        return try PasswordInput.secureBytes(text)
    }

    /// Always `PasswordSecret(<redacted>)`.
    public var description: String { "PasswordSecret(<redacted>)" }
}
