internal import PHIGuardCrypto

/// Per-field and per-index subkeys from a root key with libsodium's `crypto_kdf_derive_from_key`.
///
/// `crypto_kdf` takes an 8-byte context and a 64-bit subkey id. Table and field names do not fit,
/// so both are derived from one domain digest:
///
/// ```
/// D = BLAKE2b-128( "PHIGuard.kdf.v1" ‖ lp(purpose) ‖ lp(table) ‖ lp(field) ‖ lp(index) )
/// ctx      = D[0..<8]                      (8 bytes, used as crypto_kdf's context)
/// subkeyID = D[8..<16] as little-endian UInt64
/// subkey   = crypto_kdf_derive_from_key(32, subkeyID, ctx, rootKey)
/// ```
///
/// `lp(x)` is `x`'s UTF-8 bytes prefixed by their length as 4-byte big-endian; `purpose` is
/// `field-encryption` or `blind-index`, `index` is empty for field encryption. Two different
/// (purpose, table, field, index) tuples share a subkey only if their 128-bit digests collide.
enum SubkeyDerivation {
    /// What a subkey is for (domain separation between encryption and blind indexes).
    enum Purpose: String {
        case fieldEncryption = "field-encryption"
        case blindIndex = "blind-index"
    }

    static let subkeyByteCount = 32

    /// The (context, subkey id) pair for a domain, as documented above.
    static func domain(purpose: Purpose, table: String, field: String, index: String = "") throws(CryptoError) -> (
        context: [UInt8], subkeyID: UInt64
    ) {
        var input = Array("PHIGuard.kdf.v1".utf8)
        for part in [purpose.rawValue, table, field, index] {
            FieldContext.appendLengthPrefixed(part, to: &input)
        }
        let digest = try BLAKE2b.hash(input, outputCount: 16)
        var subkeyID: UInt64 = 0
        for (shift, byte) in digest[8..<16].enumerated() { subkeyID |= UInt64(byte) << (8 * UInt64(shift)) }
        return (Array(digest[0..<8]), subkeyID)
    }

    /// Derives the 32-byte subkey for a domain into read-only guarded memory (hot keys cost no
    /// `mprotect` per use).
    static func derive(
        from root: FieldKey, purpose: Purpose, table: String, field: String, index: String = ""
    ) throws(FieldEncryptionError) -> SecretBytes {
        do {
            let (context, subkeyID) = try domain(purpose: purpose, table: table, field: field, index: index)
            return try KDF.deriveSubkey(
                count: subkeyByteCount, id: subkeyID, context: context, from: root.secret, idleProtection: .readOnly)
        } catch {
            throw .secureMemoryFailure(error.description)
        }
    }
}
