internal import PHIGuardCrypto

/// A parsed Argon2 hash in the PHC string format:
/// `$argon2id$v=19$m=19456,t=2,p=1[,keyid=…]$<salt>$<hash>` (salt and hash in unpadded base64).
///
/// Parsing is strict and allocation-bounded: input longer than ``maximumLength`` is rejected before
/// it is looked at; numbers must be canonical decimal; parameters must be in the order `m,t,p`;
/// costs must be within ``Argon2Parameters`` bounds; salt must be 8–64 bytes and hash 16–64 bytes.
/// Version 16 strings omit `v=` (libargon2's convention). The optional `keyid` is the PHC field for
/// the pepper id; `data` (associated data) is not supported.
public struct PHCString: Sendable, Hashable, CustomStringConvertible {
    /// The longest PHC string PHIGuard will parse.
    public static let maximumLength = 512
    /// Accepted salt lengths in bytes.
    public static let saltLengths = 8...64
    /// Accepted hash (tag) lengths in bytes.
    public static let hashLengths = 16...64

    /// The Argon2 variant.
    public let variant: Argon2Variant
    /// The Argon2 version.
    public let version: Argon2Version
    /// The cost parameters.
    public let parameters: Argon2Parameters
    /// The id of the pepper the hash was made with, if any.
    public let pepperID: String?
    /// The salt bytes.
    public let salt: [UInt8]
    /// The tag bytes.
    public let hash: [UInt8]

    /// Builds a PHC value from its parts (used when hashing).
    init(
        variant: Argon2Variant, version: Argon2Version, parameters: Argon2Parameters, pepperID: String?,
        salt: [UInt8], hash: [UInt8]
    ) {
        self.variant = variant
        self.version = version
        self.parameters = parameters
        self.pepperID = pepperID
        self.salt = salt
        self.hash = hash
    }

    /// Parses `encoded`, throwing ``PasswordHashingError/malformedHash(_:)`` with the reason.
    public init(parsing encoded: String) throws(PasswordHashingError) {
        let utf8 = encoded.utf8
        guard utf8.count <= Self.maximumLength, utf8.allSatisfy({ $0 >= 0x21 && $0 < 0x7F }) else {
            throw .malformedHash(.tooLong)
        }
        var fields = encoded.split(separator: "$", omittingEmptySubsequences: false)[...]
        // A leading "$" gives an empty first field; every other field must be non-empty.
        guard fields.popFirst() == "", fields.allSatisfy({ !$0.isEmpty }) else { throw .malformedHash(.structure) }
        guard let variantField = fields.popFirst(), let variant = Argon2Variant(rawValue: String(variantField)) else {
            throw .malformedHash(fields.isEmpty ? .structure : .unsupportedAlgorithm)
        }
        var version = Argon2Version.v16
        if let field = fields.first, field.hasPrefix("v=") {
            fields.removeFirst()
            guard let number = Self.canonicalDecimal(field.dropFirst(2)), let parsed = Argon2Version(rawValue: number)
            else { throw .malformedHash(.unsupportedVersion) }
            version = parsed
        }
        guard fields.count == 3 else { throw .malformedHash(.structure) }
        let (parameters, pepperID) = try Self.parseParameters(fields[fields.startIndex])
        guard let salt = Base64.decode(fields[fields.startIndex + 1], variant: .standardUnpadded),
            Self.saltLengths.contains(salt.count)
        else { throw .malformedHash(.salt) }
        guard let hash = Base64.decode(fields[fields.startIndex + 2], variant: .standardUnpadded),
            Self.hashLengths.contains(hash.count)
        else { throw .malformedHash(.hash) }
        self.init(
            variant: variant, version: version, parameters: parameters, pepperID: pepperID, salt: salt, hash: hash)
    }

    /// The PHC string.
    public var encoded: String {
        var text = "$\(variant.rawValue)"
        if version == .v19 { text += "$v=19" }
        text += "$\(parameters)"
        if let pepperID { text += ",keyid=" + Base64.encode(Array(pepperID.utf8), variant: .standardUnpadded) }
        text += "$" + Base64.encode(salt, variant: .standardUnpadded)
        text += "$" + Base64.encode(hash, variant: .standardUnpadded)
        return text
    }

    /// The PHC string with the hash replaced by `<redacted>` (hashes are offline-crackable; keep them out of logs).
    public var description: String {
        var text = encoded
        text.removeSubrange(text.index(after: text.lastIndex(of: "$")!)...)
        return text + "<redacted>"
    }

    private static func parseParameters(_ field: Substring) throws(PasswordHashingError) -> (Argon2Parameters, String?)
    {
        let pairs = field.split(separator: ",", omittingEmptySubsequences: false)
        guard pairs.count == 3 || pairs.count == 4 else { throw .malformedHash(.parameterSyntax) }
        var values: [UInt32] = []
        for (pair, key) in zip(pairs.prefix(3), ["m=", "t=", "p="]) {
            guard pair.hasPrefix(key), let value = canonicalDecimal(pair.dropFirst(2)) else {
                throw .malformedHash(.parameterSyntax)
            }
            values.append(value)
        }
        var pepperID: String?
        if pairs.count == 4 {
            guard pairs[3].hasPrefix("keyid=") else { throw .malformedHash(.parameterSyntax) }
            guard let bytes = Base64.decode(pairs[3].dropFirst(6), variant: .standardUnpadded),
                let id = String(validating: bytes, as: UTF8.self), PasswordPepper.isValidID(id)
            else { throw .malformedHash(.keyID) }
            pepperID = id
        }
        guard Argon2Parameters.problem(memoryKiB: values[0], iterations: values[1], parallelism: values[2]) == nil
        else {
            throw .malformedHash(.parameterBounds)
        }
        let parameters = try Argon2Parameters(memoryKiB: values[0], iterations: values[1], parallelism: values[2])
        return (parameters, pepperID)
    }

    /// `0` or a decimal without leading zeros that fits in `UInt32`; anything else is `nil`.
    private static func canonicalDecimal(_ text: Substring) -> UInt32? {
        let digits = text.utf8
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        guard digits.count == 1 || digits.first != 0x30 else { return nil }
        return UInt32(text)
    }
}
