internal import PHIGuardCrypto

/// A stored encrypted field: format version, key id, nonce and ciphertext‖tag, in one byte string.
///
/// Binary form (for BLOB/BYTEA columns), format version 1:
///
/// | Offset        | Length | Content                                                     |
/// |---------------|--------|-------------------------------------------------------------|
/// | 0             | 1      | format version, `0x01`                                      |
/// | 1             | 1      | key id length `L`, 1…32                                     |
/// | 2             | `L`    | key id, ASCII `A–Z a–z 0–9 . _ -`                            |
/// | 2+`L`         | 24     | XChaCha20 nonce (random per encryption)                     |
/// | 26+`L`        | n+16   | XChaCha20-Poly1305-IETF ciphertext of the n-byte plaintext, then the tag |
///
/// The header (the first 26+`L` bytes) is authenticated: the associated data is the header followed
/// by the ``FieldContext`` encoding, so changing the version, the key id, the nonce or the context
/// makes decryption fail. Text form (for TEXT columns): `phgf:` followed by the binary form in
/// unpadded URL-safe base64. See the "Envelope format" article for the full specification.
public struct FieldEnvelope: Sendable, Hashable, CustomStringConvertible {
    /// The format version this build writes.
    public static let currentFormatVersion: UInt8 = 1
    /// The longest plaintext an envelope may carry (16 MiB): a bound against absurd allocations.
    public static let maximumPlaintextByteCount = 16 << 20
    /// The prefix of the text form.
    public static let textPrefix = "phgf:"
    /// Nonce length in bytes.
    static let nonceByteCount = 24
    /// Tag length in bytes.
    static let tagByteCount = 16

    /// The whole envelope, binary form.
    public let bytes: [UInt8]
    /// The format version (always ``currentFormatVersion`` for a parsed envelope today).
    public var formatVersion: UInt8 { bytes[0] }
    /// The id of the root key the field key was derived from.
    public let keyID: String

    /// Parses the binary form. Any malformed input throws ``FieldEncryptionError/decryptionFailed``.
    public init(bytes: [UInt8]) throws(FieldEncryptionError) {
        do { self = try Self.parse(bytes) } catch { throw .decryptionFailed }
    }

    /// Parses the text form (`phgf:…`). Any malformed input throws ``FieldEncryptionError/decryptionFailed``.
    public init(text: String) throws(FieldEncryptionError) {
        do { self = try Self.parse(text: text) } catch { throw .decryptionFailed }
    }

    /// The text form: `phgf:` + unpadded URL-safe base64 of ``bytes``.
    public var text: String { Self.textPrefix + Base64.encode(bytes, variant: .urlSafeUnpadded) }

    /// Shows the version, key id and length only.
    public var description: String {
        "FieldEnvelope(version: \(formatVersion), keyID: \(keyID), \(bytes.count) bytes)"
    }

    /// Builds an envelope from parts already validated by the encryptor.
    init(validatedBytes: [UInt8], keyID: String) {
        self.bytes = validatedBytes
        self.keyID = keyID
    }

    /// Length of the header (everything before the ciphertext).
    var headerByteCount: Int { 2 + Int(bytes[1]) + Self.nonceByteCount }
    /// Range of the nonce in ``bytes``.
    var nonceRange: Range<Int> { (2 + Int(bytes[1]))..<headerByteCount }

    /// Strict parser with the internal reason for a refusal.
    package static func parse(_ bytes: [UInt8]) throws(EnvelopeRejection) -> FieldEnvelope {
        guard bytes.count >= 2 else { throw .truncated }
        guard bytes[0] == currentFormatVersion else { throw .unsupportedVersion }
        let keyIDLength = Int(bytes[1])
        guard FieldKey.keyIDLengths.contains(keyIDLength) else { throw .malformed }
        guard bytes.count >= 2 + keyIDLength + nonceByteCount + tagByteCount else { throw .truncated }
        guard bytes.count <= 2 + keyIDLength + nonceByteCount + tagByteCount + maximumPlaintextByteCount else {
            throw .malformed
        }
        let idBytes = bytes[2..<(2 + keyIDLength)]
        guard idBytes.allSatisfy(FieldKey.isKeyIDByte) else { throw .malformed }
        return FieldEnvelope(validatedBytes: bytes, keyID: String(decoding: idBytes, as: UTF8.self))
    }

    /// Strict parser of the text form with the internal reason for a refusal.
    package static func parse(text: String) throws(EnvelopeRejection) -> FieldEnvelope {
        guard text.hasPrefix(textPrefix) else { throw .malformed }
        let body = text.utf8.dropFirst(textPrefix.utf8.count)
        // Refuse before decoding anything longer than the largest envelope could be.
        let largest = 2 + 32 + nonceByteCount + tagByteCount + maximumPlaintextByteCount
        guard body.count <= (largest + 2) / 3 * 4 else { throw .malformed }
        guard let bytes = Base64.decode(text.dropFirst(textPrefix.count), variant: .urlSafeUnpadded) else {
            throw .malformed
        }
        return try parse(bytes)
    }
}
