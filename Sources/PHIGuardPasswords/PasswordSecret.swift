package import PHIGuardCrypto

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// A password as typed, held in guarded memory (`sodium_malloc`: guard pages, `mlock`, zeroed on
/// release): the type every PHIGuard entry point that takes a password accepts first
/// (``PasswordHasher/hash(secret:)``, ``PasswordHasher/verify(secret:against:)``, ``PasswordPolicy``
/// and the sign-in, registration, recovery and password-change steps of `LoginFlow`).
///
/// Make one without an intermediate `String`:
/// - ``readLine(from:maximumBytes:)`` reads a line with `read(2)` straight into guarded memory;
/// - ``init(consuming:)`` takes the bytes of a request body (say) and zeroes the caller's array;
/// - ``init(copying:)`` copies from a buffer the caller zeroes afterwards.
///
/// ``init(_:)`` accepts a `String` for convenience; the `String` itself stays in ordinary memory
/// (Swift cannot zero it), so prefer the others where the password arrives as bytes.
///
/// An empty input, or one longer than ``PasswordInput/maximumUTF8Bytes``, is accepted here and refused
/// where it is used (``PasswordHashingError/emptyPassword``, ``PasswordHashingError/passwordTooLong(maximumUTF8Bytes:)``),
/// exactly as a `String` password is; a too-long input is never copied.
///
/// The one copy outside guarded memory: a password with a non-ASCII byte is NFKC-normalised
/// (``PasswordInput``), which Foundation does on a `String`; that string is released, not zeroed.
/// An ASCII password is its own NFKC form and goes from the input buffer to Argon2 (and through the
/// ``PasswordPolicy`` checks) without a copy outside guarded memory.
public struct PasswordSecret: Sendable, CustomStringConvertible {
    /// The typed bytes; `nil` when `refusal` says why there are none.
    let secret: SecretBytes?
    /// Why this input cannot be a password (empty, too long), thrown where it is used.
    let refusal: PasswordHashingError?

    /// The number of bytes typed (not secret: Argon2's cost does not depend on it).
    public let byteCount: Int

    /// Wraps bytes already in guarded memory (nothing is copied). For PHIGuard's own readers.
    package init(_ secret: SecretBytes) {
        self.secret = secret
        refusal = nil
        byteCount = secret.count
    }

    private init(refusal: PasswordHashingError, byteCount: Int) {
        secret = nil
        self.refusal = refusal
        self.byteCount = byteCount
    }

    /// Copies `bytes` (UTF-8) into guarded memory; the caller zeroes its own buffer afterwards.
    ///
    /// - Throws: ``PasswordHashingError/secureMemoryFailure(_:)`` only, if guarded memory cannot be
    ///   allocated. (Empty and too-long inputs are refused where the password is used.)
    public init(copying bytes: UnsafeRawBufferPointer) throws(PasswordHashingError) {
        guard !bytes.isEmpty else {
            self.init(refusal: .emptyPassword, byteCount: 0)
            return
        }
        guard bytes.count <= PasswordInput.maximumUTF8Bytes else {
            self.init(
                refusal: .passwordTooLong(maximumUTF8Bytes: PasswordInput.maximumUTF8Bytes), byteCount: bytes.count)
            return
        }
        do {
            self.init(try SecretBytes(copying: bytes))
        } catch {
            throw .secureMemoryFailure(error.description)
        }
    }

    /// Moves `bytes` (UTF-8) into guarded memory and zeroes the caller's array, even when it throws.
    ///
    /// - Throws: ``PasswordHashingError/secureMemoryFailure(_:)`` only (see ``init(copying:)``).
    public init(consuming bytes: inout [UInt8]) throws(PasswordHashingError) {
        defer { Sodium.zero(&bytes) }
        let copied = bytes.withUnsafeBytes { buffer in
            Result { () throws(PasswordHashingError) in try PasswordSecret(copying: buffer) }
        }
        self = try copied.get()
    }

    /// The UTF-8 bytes of `password`, copied into guarded memory. A convenience for callers that
    /// already hold the password as a `String`: the `String` (and any copies Swift made of it) stays
    /// in ordinary memory until reused; PHIGuard makes no further copy.
    ///
    /// - Throws: ``PasswordHashingError/secureMemoryFailure(_:)`` only (see ``init(copying:)``).
    public init(_ password: String) throws(PasswordHashingError) {
        var password = password
        let copied = password.withUTF8 { buffer in
            Result { () throws(PasswordHashingError) in try PasswordSecret(copying: UnsafeRawBufferPointer(buffer)) }
        }
        self = try copied.get()
    }

    /// ``readLine(from:maximumBytes:)`` from standard input, prompted like a password: when standard
    /// input is a terminal, `prompt` goes to standard error and echo is off while the line is typed
    /// (restored afterwards, also when reading throws); from a pipe, no prompt and no terminal change.
    public static func readLine(prompt: String) throws(PasswordHashingError) -> PasswordSecret? {
        let terminal = isatty(STDIN_FILENO) == 1
        var original = termios()
        if terminal {
            _ = prompt.utf8CString.withUnsafeBufferPointer { write(STDERR_FILENO, $0.baseAddress, $0.count - 1) }
            tcgetattr(STDIN_FILENO, &original)
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        }
        defer {
            if terminal {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
                _ = write(STDERR_FILENO, "\n", 1)
            }
        }
        return try readLine(from: STDIN_FILENO)
    }

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
                try buffer.withUnsafeBytes { (bytes) throws(SecureMemoryError) in
                    try SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
                })
        } catch {
            throw .secureMemoryFailure(error.description)
        }
    }

    /// The bytes to hash: the input itself when it is ASCII (its own NFKC form), else its NFKC form
    /// (through a `String`, the one unavoidable copy). Applies the ``PasswordInput`` rules.
    func normalizedSecret() throws(PasswordHashingError) -> SecretBytes {
        guard let secret else { throw refusal ?? .emptyPassword }
        if isASCII {
            guard secret.count <= PasswordInput.maximumUTF8Bytes else {
                throw .passwordTooLong(maximumUTF8Bytes: PasswordInput.maximumUTF8Bytes)
            }
            return secret
        }
        return try PasswordInput.secureBytes(try normalizationCopy())
    }

    /// Whether every byte is ASCII (then the bytes are their own NFKC form). `false` without bytes.
    var isASCII: Bool {
        secret?.withUnsafeBytes { bytes in bytes.allSatisfy { $0 < 0x80 } } ?? false
    }

    /// The input as a `String`, for NFKC normalisation of a non-ASCII password: the documented copy
    /// outside guarded memory. Refuses what is not a password (``refusal``) and invalid UTF-8.
    func normalizationCopy() throws(PasswordHashingError) -> String {
        guard let secret else { throw refusal ?? .emptyPassword }
        guard let text = secret.withUnsafeBytes({ String(validating: $0, as: UTF8.self) }) else {
            throw .invalidEncoding
        }
        return text
    }

    /// Always `PasswordSecret(<redacted>)`.
    public var description: String { "PasswordSecret(<redacted>)" }
}
