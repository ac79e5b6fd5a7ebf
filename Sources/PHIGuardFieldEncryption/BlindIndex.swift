internal import Foundation
internal import PHIGuardCrypto

/// How a value is normalised before it is indexed, so that equal values in different spellings
/// match. Choose the loosest rule your searches need: looser rules mean more equal index values.
public enum BlindIndexNormalization: Sendable {
    /// Unicode NFC only: exact matches.
    case exact
    /// NFKC, lower-cased, leading and trailing white space removed, inner runs of white space
    /// collapsed to one space (names, e-mail addresses).
    ///
    /// Not for login names: index `LoginName.value` (PHIGuardAuthentication's one canonical form,
    /// which sign-in, lockout and registration also use) with ``BlindIndexNormalization/exact``.
    /// Two normalisations would disagree about which spellings are one name, and a spelling the
    /// index merges but the lockout key does not gets a fresh lockout counter for the same account.
    case caseFolded
    /// NFKC, then only the ASCII digits are kept (SSNs, MRNs, phone numbers: `078-05-1120` = `078 05 1120`).
    case digitsOnly
    /// Your own function.
    case custom(@Sendable (String) -> String)

    /// The normalised form of `value`.
    public func normalize(_ value: String) -> String {
        switch self {
        case .exact:
            return value.precomposedStringWithCanonicalMapping
        case .caseFolded:
            let folded = value.precomposedStringWithCompatibilityMapping.lowercased()
            return folded.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        case .digitsOnly:
            return String(
                value.precomposedStringWithCompatibilityMapping.unicodeScalars.filter { ("0"..."9").contains($0) }
                    .map(Character.init))
        case .custom(let function):
            return function(value)
        }
    }
}

/// A truncated blind index value: store it in its own column and search with `WHERE idx = ?`.
public struct BlindIndexValue: Sendable, Hashable, CustomStringConvertible {
    /// The index bits, big-endian; unused low bits of the last byte are zero.
    public let bytes: [UInt8]
    /// The number of meaningful bits.
    public let bits: Int

    /// Lower-case hex of ``bytes``.
    public var hex: String { Hex.encode(bytes) }

    /// The hex form (an index value is what the database stores anyway).
    public var description: String { hex }
}

/// Why a blind index could not be created or planned.
public enum BlindIndexError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Bits outside 1…256.
    case invalidBitLength(Int)
    /// The index name, table or field is empty or longer than 1,024 bytes.
    case invalidName(String)
    /// The population is too small for any bit length to give at least 2 and fewer than √rows
    /// expected false positives; use a compound index or none.
    case populationTooSmall(population: Int)
    /// The key could not be derived (secure memory).
    case keyDerivationFailed(String)

    /// A description without any indexed value.
    public var description: String {
        switch self {
        case .invalidBitLength(let bits): "blind index length \(bits) is outside 1...256 bits"
        case .invalidName(let reason): "invalid blind index name: \(reason)"
        case .populationTooSmall(let population):
            "a population of \(population) rows is too small for a safe blind index"
        case .keyDerivationFailed(let reason): "blind index key derivation failed: \(reason)"
        }
    }
}

/// A keyed, truncated BLAKE2b index of a field's normalised value for equality search.
///
/// ```swift
/// let plan = try BlindIndexPlanner.plan(population: 2_000_000, inputDomainBits: 30)  // SSNs
/// let ssnIndex = try BlindIndex(name: "ssn", table: "patients", field: "ssn",
///                               bits: plan.recommendedBits, normalization: .digitsOnly, rootKey: indexKey)
/// let value = ssnIndex.value(for: "078-05-1120").bytes   // store beside the envelope; search by it
/// ```
///
/// `value = BLAKE2b-256(key: indexKey, lp(normalize(part₁)) ‖ lp(normalize(part₂)) ‖ …)` truncated to
/// `bits`, where each index has its own key derived from `rootKey` (purpose `blind-index`, table,
/// field, index name; see ``FieldKey``). Leakage, honestly: rows with equal values have equal index
/// values, so the index reveals equality patterns and value frequencies to anyone who can read the
/// column; truncation makes unrelated values collide on purpose so that an index value points at
/// several rows (see ``BlindIndexPlanner``), but it does not hide frequency of common values. Do not
/// index low-entropy fields (sex, a yes/no diagnosis) alone.
public struct BlindIndex: Sendable, CustomStringConvertible {
    /// The index name (part of its key derivation).
    public let name: String
    /// The table.
    public let table: String
    /// The field (for compound indexes, a name for the combination).
    public let field: String
    /// The number of bits kept.
    public let bits: Int
    /// How values are normalised.
    public let normalization: BlindIndexNormalization
    private let key: SecretBytes

    /// An index `name` on `table`.`field` keeping `bits` bits, keyed by a subkey of `rootKey`.
    ///
    /// Use a root key that does not rotate with the encryption keys (rotating it means recomputing
    /// every index value).
    public init(
        name: String, table: String, field: String, bits: Int, normalization: BlindIndexNormalization = .exact,
        rootKey: FieldKey
    ) throws(BlindIndexError) {
        guard (1...256).contains(bits) else { throw .invalidBitLength(bits) }
        for (label, value) in [("name", name), ("table", table), ("field", field)] {
            guard (1...FieldContext.maximumComponentByteCount).contains(value.utf8.count) else {
                throw .invalidName("\(label) must be 1-\(FieldContext.maximumComponentByteCount) bytes")
            }
        }
        do {
            key = try SubkeyDerivation.derive(
                from: rootKey, purpose: .blindIndex, table: table, field: field, index: name)
        } catch {
            throw .keyDerivationFailed(error.description)
        }
        self.name = name
        self.table = table
        self.field = field
        self.bits = bits
        self.normalization = normalization
    }

    /// The index value of one field value.
    public func value(for value: String) -> BlindIndexValue {
        self.value(forParts: [value])
    }

    /// The index value of a compound key (for example date of birth and last name), each part
    /// normalised and length-prefixed so `("ab", "c")` and `("a", "bc")` differ.
    public func value(forParts parts: [String]) -> BlindIndexValue {
        var input: [UInt8] = []
        for part in parts { FieldContext.appendLengthPrefixed(normalization.normalize(part), to: &input) }
        defer { Sodium.zero(&input) }
        // The key is a 32-byte subkey and the output 32 bytes, both within BLAKE2b's limits.
        let digest = Sodium.requireSuccess { () throws(CryptoError) in
            try BLAKE2b.hash(input, key: key, outputCount: 32)
        }
        let byteCount = (bits + 7) / 8
        var truncated = Array(digest.prefix(byteCount))
        let unused = byteCount * 8 - bits
        if unused > 0, let lastIndex = truncated.indices.last {
            truncated[lastIndex] &= UInt8(truncatingIfNeeded: 0xFF << unused)
        }
        return BlindIndexValue(bytes: truncated, bits: bits)
    }

    /// Names and length only.
    public var description: String { "BlindIndex(\(name) on \(table).\(field), \(bits) bits)" }
}
