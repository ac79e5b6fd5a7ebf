/// The 32-byte secret that keys the digests under which PHIGuard's lockout and rate-limit stores
/// keep identifiers (account ids, login names, client addresses): those stores never hold an
/// identifier in clear.
///
/// The bytes are copied into guarded memory (libsodium `sodium_malloc`, read-only after
/// initialisation) that the secret owns from then on. The stores take the secret itself, never an
/// array, so no store zeroes (or keeps) a caller's copy: the caller decides what happens to its own
/// bytes. One secret may key several stores (their digests are domain-separated by label); keep it
/// across restarts (a new secret forgets every counter) and out of the database.
///
/// ```swift
/// let secret = try DigestSecret(copying: bytesFromYourKeyStore)   // your array is left as it is
/// let lockout = try await SQLiteLockoutStore.open(in: database, keyDigestSecret: secret)
/// let limits = try await SQLiteRateLimitStore.open(in: database, keyDigestSecret: secret)
/// ```
///
/// `description`, `debugDescription` and `dump` show no byte.
public final class DigestSecret: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The only accepted length, in bytes.
    public static let byteCount = 32

    /// The bytes, in guarded memory.
    package let bytes: SecretBytes

    /// Copies `bytes` (exactly ``byteCount``) into guarded memory. The caller's collection is not
    /// changed: zero it yourself when you no longer need it.
    public init(copying bytes: some Collection<UInt8>) throws(DigestSecretError) {
        guard bytes.count == Self.byteCount else { throw .invalidLength(bytes.count) }
        do {
            self.bytes = try SecretBytes(copying: bytes, idleProtection: .readOnly)
        } catch {
            throw .secureMemoryFailure(error.description)
        }
    }

    /// A new secret from libsodium's CSPRNG. Save it with your other keys: stores keyed with it forget
    /// their counters when it is lost.
    public init() throws(DigestSecretError) {
        do {
            bytes = try SecretBytes(randomCount: Self.byteCount, idleProtection: .readOnly)
        } catch {
            throw .secureMemoryFailure(error.description)
        }
    }

    /// `DigestSecret(<redacted>)`.
    public var description: String { "DigestSecret(<redacted>)" }
    /// `DigestSecret(<redacted>)`.
    public var debugDescription: String { description }
    /// A mirror without children.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }
}

/// Why a ``DigestSecret`` could not be made. No case carries a byte of the secret.
public enum DigestSecretError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The bytes are not exactly ``DigestSecret/byteCount`` long; the payload is the length given.
    case invalidLength(Int)
    /// libsodium could not be initialised or could not allocate guarded memory.
    case secureMemoryFailure(String)

    /// A description without secret bytes.
    public var description: String {
        switch self {
        case .invalidLength(let count): "digest secret of \(count) bytes; must be \(DigestSecret.byteCount)"
        case .secureMemoryFailure(let reason): "secure memory failure: \(reason)"
        }
    }
}
