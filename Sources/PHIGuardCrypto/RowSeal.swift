/// One value of a sealed row, in the order the row's schema fixes.
///
/// Every case encodes to a tag byte and a length-prefixed payload (see ``RowSealer``), so no two
/// different rows, however their values are split, encode to the same bytes: `["ab", "c"]` and
/// `["a", "bc"]` differ, `nil` differs from `""`, and a list differs from the same strings as fields.
package enum RowSealField: Sendable, Hashable {
    /// No value (a `NULL` column).
    case absent
    /// Text, as its exact UTF-8 bytes (no normalisation).
    case text(String)
    /// A signed 64-bit integer (a count, a timestamp in microseconds).
    case integer(Int64)
    /// A flag.
    case bool(Bool)
    /// Bytes (a hash, a ciphertext).
    case bytes([UInt8])
    /// An ordered list of texts (roles).
    case texts([String])
    /// A text map, encoded in the byte order of its keys (so the encoding does not depend on hashing).
    case map([String: String])

    /// ``text(_:)``, or ``absent`` for `nil`.
    package static func optional(_ value: String?) -> RowSealField { value.map(RowSealField.text) ?? .absent }
    /// ``integer(_:)``, or ``absent`` for `nil`.
    package static func optional(_ value: Int64?) -> RowSealField { value.map(RowSealField.integer) ?? .absent }
}

/// Seals database rows that carry authorization data (who a session belongs to, an account's roles,
/// a care-team membership) so that a row edited by anyone without the server key is detected.
///
/// The seal is keyed BLAKE2b-256 (``BLAKE2b``, libsodium's `crypto_generichash`) with a 32-byte key
/// held in ``SecretBytes``, over
///
/// ```text
/// "PHIGuard.row-seal.v1" ‖ str(purpose) ‖ str(rowID) ‖ u32(field count) ‖ field…
/// str(x)   = u64be(byte count) ‖ UTF-8 bytes
/// field    = 0x00                                   absent
///          | 0x01 ‖ str(text)                        text
///          | 0x02 ‖ i64be                            integer
///          | 0x03 ‖ 0x00 or 0x01                     bool
///          | 0x04 ‖ u64be(count) ‖ bytes             bytes
///          | 0x05 ‖ u64be(count) ‖ str…              texts, in order
///          | 0x06 ‖ u64be(count) ‖ (str(k) ‖ str(v))…  map, keys in byte order
/// ```
///
/// `purpose` names the table and its format version (`phiguard_sessions.v1`), so a seal made for
/// one table never verifies for another; `rowID` is the row's primary key, so a row's columns copied
/// into another row do not verify. Verification recomputes the seal and compares it in constant time.
package struct RowSealer: Sendable {
    /// The key length in bytes.
    package static let keyByteCount = 32
    /// The seal length in bytes.
    package static let sealByteCount = 32
    private static let domain = Array("PHIGuard.row-seal.v1".utf8)

    private let key: SecretBytes

    /// A sealer keyed with `key` (32 bytes), copied into read-only guarded memory; the caller's
    /// array is zeroed. Throws ``SecureMemoryError/invalidLength(_:)`` for another length.
    package init(key: inout [UInt8]) throws(SecureMemoryError) {
        defer { Sodium.zero(&key) }
        guard key.count == Self.keyByteCount else { throw .invalidLength(key.count) }
        self.key = try SecretBytes(copying: key, idleProtection: .readOnly)
    }

    /// A sealer with a fresh random key (for a process whose sealed rows never outlive it).
    package init(randomKey: Void) throws(SecureMemoryError) {
        key = try SecretBytes(randomCount: Self.keyByteCount, idleProtection: .readOnly)
    }

    /// The 32-byte seal of the row `rowID` of `purpose` with `fields`.
    package func seal(purpose: String, rowID: String, fields: [RowSealField]) -> [UInt8] {
        let message = Self.encode(purpose: purpose, rowID: rowID, fields: fields)
        // The key is 32 bytes (checked at initialisation) and the output 32: libsodium cannot refuse.
        return Sodium.requireSuccess { () throws(CryptoError) in
            try BLAKE2b.hash(message, key: key, outputCount: Self.sealByteCount)
        }
    }

    /// Whether `seal` is the seal of the row (compared in constant time). A missing seal, or one of
    /// the wrong length, never verifies.
    package func verify(_ seal: [UInt8]?, purpose: String, rowID: String, fields: [RowSealField]) -> Bool {
        guard let seal, seal.count == Self.sealByteCount else { return false }
        return Sodium.constantTimeEqual(self.seal(purpose: purpose, rowID: rowID, fields: fields), seal)
    }

    /// The bytes that are sealed (see the type's documentation).
    package static func encode(purpose: String, rowID: String, fields: [RowSealField]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        func count(_ value: Int) {
            withUnsafeBytes(of: UInt64(value).bigEndian) { out.append(contentsOf: $0) }
        }
        func string(_ value: String) {
            count(value.utf8.count)
            out.append(contentsOf: value.utf8)
        }
        count(domain.count)
        out.append(contentsOf: domain)
        string(purpose)
        string(rowID)
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: fields.count).bigEndian) { out.append(contentsOf: $0) }
        for field in fields {
            switch field {
            case .absent:
                out.append(0x00)
            case .text(let value):
                out.append(0x01)
                string(value)
            case .integer(let value):
                out.append(0x02)
                withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
            case .bool(let value):
                out.append(0x03)
                out.append(value ? 1 : 0)
            case .bytes(let value):
                out.append(0x04)
                count(value.count)
                out.append(contentsOf: value)
            case .texts(let values):
                out.append(0x05)
                count(values.count)
                for value in values { string(value) }
            case .map(let values):
                out.append(0x06)
                count(values.count)
                for (key, value) in values.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                    string(key)
                    string(value)
                }
            }
        }
        return out
    }
}
