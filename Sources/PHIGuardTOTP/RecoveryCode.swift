/// One single-use recovery code, as generated: the text to show the user once, and the hash to store.
///
/// Codes have 120 random bits written as 24 characters from `23456789ABCDEFGHJKLMNPQRSTUVWXYZ`
/// (no `0`/`O`, no `1`/`I`) in six groups of four: `K7QM-2XRC-9HWD-TF4N-B6PZ-3JVS`.
public struct RecoveryCode: Sendable, CustomStringConvertible {
    /// What to store: the only form in which the code is kept.
    public let hash: RecoveryCodeHash
    private let text: String

    init(text: String, hash: RecoveryCodeHash) {
        self.text = text
        self.hash = hash
    }

    /// The grouped code to show the user once. Never log or store it.
    public func reveal() -> String { text }

    /// Always `<redacted>`.
    public var description: String { "<redacted>" }
}

/// The stored form of a recovery code: `rc1$` and the unpadded Base64url of a 32-byte keyed BLAKE2b hash.
public struct RecoveryCodeHash: Sendable, Hashable, Codable, CustomStringConvertible {
    static let prefix = "rc1$"

    /// The 32 hash bytes (the durable stores keep them as a 32-byte binary column).
    package let bytes: [UInt8]

    package init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses a stored hash (`rc1$…`); throws ``RecoveryCodeError/malformedHash`` otherwise.
    public init(encoded: String) throws(RecoveryCodeError) {
        guard encoded.utf8.count == Self.prefix.utf8.count + 43, encoded.hasPrefix(Self.prefix),
            let bytes = Base64URL.decode(encoded.dropFirst(Self.prefix.count)), bytes.count == 32
        else { throw .malformedHash }
        self.bytes = bytes
    }

    /// The text to store.
    public var encoded: String { Self.prefix + Base64URL.encode(bytes) }

    /// The encoded hash (not secret: it reveals nothing about the code without a 2^120 search).
    public var description: String { encoded }

    /// Decodes from the encoded string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(encoded: try container.decode(String.self))
    }

    /// Encodes as the encoded string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(encoded)
    }
}

/// Everything that can go wrong with recovery codes. Never carries a code.
public enum RecoveryCodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The typed code is not 24 characters of the recovery alphabet (spaces, hyphens and lower case are fine).
    case malformedCode
    /// A stored hash is not `rc1$` followed by 43 Base64url characters.
    case malformedHash
    /// The hashing key is not 16–64 bytes.
    case invalidKeyLength(Int)
    /// The number of codes asked for is outside 1...100.
    case invalidCount(Int)
    /// The recovery code store threw; the payload is the error's type name only.
    case store(String)
    /// libsodium could not be initialised or could not allocate guarded memory.
    case secureMemoryFailure(String)

    /// A description without codes.
    public var description: String {
        switch self {
        case .malformedCode: "malformed recovery code"
        case .malformedHash: "malformed recovery code hash"
        case .invalidKeyLength(let count): "recovery code key of \(count) bytes; must be 16–64"
        case .invalidCount(let count): "cannot generate \(count) recovery codes (1–100)"
        case .store(let type): "recovery code store failed (\(type))"
        case .secureMemoryFailure(let reason): "secure memory failure: \(reason)"
        }
    }
}
