internal import PHIGuardCrypto

/// A server-side secret mixed into every hash as Argon2's `secret` input (a "pepper").
///
/// A stolen database alone is then not enough to test password guesses. Each pepper has a short
/// id, written into the PHC string's `keyid` field, so peppers can be rotated: hashes made with a
/// retired pepper still verify and report ``PasswordVerification/validNeedsRehash(_:)``, and a hash
/// naming an id the hasher does not know throws ``PasswordHashingError/unknownPepper(id:)``.
///
/// The bytes live in guarded memory; `description` never shows them.
public struct PasswordPepper: Sendable, CustomStringConvertible {
    /// Accepted pepper lengths in bytes.
    public static let lengths = 16...64

    /// The pepper id: 1–8 characters from `A–Z a–z 0–9 . _ -`.
    public let id: String
    let secret: SecretBytes

    /// Takes `bytes` as the pepper with id `id`, and zeroes the caller's array.
    public init(id: String, bytes: inout [UInt8]) throws(PasswordHashingError) {
        defer { Sodium.zero(&bytes) }
        guard Self.isValidID(id) else { throw .invalidPepper("id must be 1-8 characters of A-Z a-z 0-9 . _ -") }
        guard Self.lengths.contains(bytes.count) else { throw .invalidPepper("length must be 16-64 bytes") }
        do {
            secret = try SecretBytes(copying: bytes, idleProtection: .noAccess)
        } catch {
            throw .secureMemoryFailure(error.description)
        }
        self.id = id
    }

    /// A new random 32-byte pepper. Store it with your other keys (it is not recoverable from hashes).
    public static func generate(id: String) throws(PasswordHashingError) -> PasswordPepper {
        var bytes: [UInt8]
        do { bytes = try Sodium.randomBytes(count: 32) } catch { throw .secureMemoryFailure(error.description) }
        return try PasswordPepper(id: id, bytes: &bytes)
    }

    /// `PasswordPepper(id: …, <redacted>)`.
    public var description: String { "PasswordPepper(id: \(id), <redacted>)" }

    static func isValidID(_ id: String) -> Bool {
        (1...8).contains(id.utf8.count)
            && id.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                    true
                default: false
                }
            }
    }
}

/// The peppers a hasher knows: the current one (used for new hashes) and retired ones (verify only).
public struct PepperRing: Sendable, CustomStringConvertible {
    /// The pepper new hashes use.
    public let current: PasswordPepper
    private let byID: [String: PasswordPepper]

    /// A ring whose current pepper is `current`; `retired` peppers still verify old hashes.
    /// Throws ``PasswordHashingError/invalidPepper(_:)`` if two peppers share an id.
    public init(current: PasswordPepper, retired: [PasswordPepper] = []) throws(PasswordHashingError) {
        var byID = [current.id: current]
        for pepper in retired {
            guard byID.updateValue(pepper, forKey: pepper.id) == nil else {
                throw .invalidPepper("duplicate pepper id '\(pepper.id)'")
            }
        }
        self.current = current
        self.byID = byID
    }

    /// The pepper with `id`, or `nil`.
    public func pepper(id: String) -> PasswordPepper? { byID[id] }

    /// Lists the ids only.
    public var description: String { "PepperRing(current: \(current.id), known: \(byID.keys.sorted()))" }
}
