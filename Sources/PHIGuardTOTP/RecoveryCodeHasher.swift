internal import PHIGuardCrypto

/// Generates recovery codes and hashes typed ones for lookup.
///
/// **Why a fast keyed hash and not Argon2id.** Each code carries 120 random bits, so even with the hash
/// database and the key stolen, finding a code takes about 2^119 hash computations on average: a slow
/// password hash would add nothing but cost. (Argon2id is for low-entropy secrets such as passwords;
/// a code under ~112 bits would need it.) The fast hash also means a typed code is checked against an
/// account's codes in microseconds, so redeeming cannot be used to tie up the server. The hash is
/// BLAKE2b-256 (libsodium `crypto_generichash`) over a domain label and the code's 15 bytes, keyed with
/// an optional 16–64-byte application key (a pepper kept outside the database). Changing the key
/// invalidates stored hashes: issue new codes after a key change.
///
/// ```swift
/// let hasher = RecoveryCodeHasher()
/// let codes = try hasher.generate()                  // 10 codes
/// show(codes.map { $0.reveal() })                    // once
/// try await store.replaceCodes(codes.map(\.hash), accountID: id)
/// // later:
/// if try await hasher.redeem(typed, accountID: id, in: store) { signIn() }
/// ```
public struct RecoveryCodeHasher: Sendable {
    /// The default number of codes per account.
    public static let defaultCount = 10
    /// The random bits in each code.
    public static let codeBits = 120
    /// The characters codes are written with: 32 symbols, no `0`, `O`, `1` or `I`.
    public static let alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

    private static let symbols = Array(alphabet.utf8)
    private static let codeBytes = 15
    private static let codeSymbols = 24
    private static let domain = Array("PHIGuard recovery code v1".utf8)

    private let key: SecretBytes?

    /// A hasher without an application key.
    public init() {
        key = nil
    }

    /// A hasher keyed with 16–64 bytes of application secret (copied into guarded memory).
    public init(key rawKey: some Collection<UInt8>) throws(RecoveryCodeError) {
        guard (16...64).contains(rawKey.count) else { throw .invalidKeyLength(rawKey.count) }
        do {
            key = try SecretBytes(copying: rawKey, idleProtection: .readOnly)
        } catch {
            throw .secureMemoryFailure(error.description)
        }
    }

    /// `count` new codes from libsodium's CSPRNG, each with its hash.
    public func generate(count: Int = defaultCount) throws(RecoveryCodeError) -> [RecoveryCode] {
        guard (1...100).contains(count) else { throw .invalidCount(count) }
        var codes: [RecoveryCode] = []
        for _ in 0..<count {
            var raw: [UInt8]
            do {
                raw = try Sodium.randomBytes(count: Self.codeBytes)
            } catch {
                throw .secureMemoryFailure(error.description)
            }
            defer { Sodium.zero(&raw) }
            codes.append(RecoveryCode(text: Self.format(raw), hash: try hash(raw: raw)))
        }
        return codes
    }

    /// The hash of a typed code, to look up in a ``RecoveryCodeStore``. Spaces, hyphens and lower case
    /// are ignored; anything else outside the alphabet is ``RecoveryCodeError/malformedCode``.
    public func hash(_ typed: String) throws(RecoveryCodeError) -> RecoveryCodeHash {
        var raw = try Self.parse(typed)
        defer { Sodium.zero(&raw) }
        return try hash(raw: raw)
    }

    /// Hashes `typed` and atomically consumes it from `accountID`'s codes. Returns `false` if it is not one
    /// of them (never issued, or already used).
    public func redeem(_ typed: String, accountID: String, in store: any RecoveryCodeStore)
        async throws(RecoveryCodeError) -> Bool
    {
        let hash = try hash(typed)
        do {
            return try await store.consume(hash, accountID: accountID)
        } catch {
            throw .store(String(describing: type(of: error)))
        }
    }

    private func hash(raw: [UInt8]) throws(RecoveryCodeError) -> RecoveryCodeHash {
        var input = Self.domain + raw
        defer { Sodium.zero(&input) }
        do {
            return RecoveryCodeHash(bytes: try BLAKE2b.hash(input, key: key, outputCount: 32))
        } catch {
            throw .secureMemoryFailure(error.description)
        }
    }

    /// 15 bytes → 24 symbols of 5 bits, grouped by four.
    static func format(_ raw: [UInt8]) -> String {
        var text: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in raw {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                if text.count % 5 == 4 { text.append(UInt8(ascii: "-")) }
                text.append(symbols[Int((buffer >> UInt32(bits)) & 0x1F)])
            }
            buffer &= (1 << UInt32(bits)) - 1
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Typed text → 15 bytes, or ``RecoveryCodeError/malformedCode``.
    static func parse(_ typed: String) throws(RecoveryCodeError) -> [UInt8] {
        // Cheap bound first: 24 symbols plus generous separators.
        guard typed.utf8.count <= 64 else { throw .malformedCode }
        var raw: [UInt8] = []
        raw.reserveCapacity(codeBytes)
        var buffer: UInt32 = 0
        var bits = 0
        var count = 0
        for character in typed.utf8 {
            if character == UInt8(ascii: " ") || character == UInt8(ascii: "-") { continue }
            let upper = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(character) ? character - 32 : character
            guard let value = symbols.firstIndex(of: upper) else {
                Sodium.zero(&raw)
                throw .malformedCode
            }
            count += 1
            guard count <= codeSymbols else {
                Sodium.zero(&raw)
                throw .malformedCode
            }
            buffer = (buffer << 5) | UInt32(value)
            bits += 5
            if bits >= 8 {
                bits -= 8
                raw.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        guard count == codeSymbols else {
            Sodium.zero(&raw)
            throw .malformedCode
        }
        return raw
    }
}
