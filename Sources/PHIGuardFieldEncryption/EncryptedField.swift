internal import Foundation

/// Marks a `Codable` model property as PHI to be stored encrypted. The app works with the plain
/// value; encoding writes a text-form ``FieldEnvelope`` bound to the table, the record id and the
/// property's coding path, and decoding reverses it.
///
/// ```swift
/// struct Patient: Codable {
///     var id: String
///     @EncryptedField var ssn: String
///     @EncryptedField var diagnosis: String?
/// }
///
/// let encoder = JSONEncoder()
/// encoder.userInfo[FieldEncryptionCoding.userInfoKey] =
///     FieldEncryptionCoding(encryptor: encryptor, table: "patients", recordID: patient.id)
/// let stored = try encoder.encode(patient)   // {"id":"42","ssn":"phgf:AQ…","diagnosis":"phgf:AQ…"}
/// ```
///
/// The value is serialised as JSON before encryption (so `nil` is encrypted too and does not show).
/// The field name is the coding path without array indexes (`contact.ssn`), so moving a value to
/// another property, record or table makes decoding fail. Encoding or decoding without a
/// ``FieldEncryptionCoding`` in `userInfo` throws: PHI is never written in the clear by accident.
@propertyWrapper
public struct EncryptedField<Value: Codable & Sendable>: Codable, Sendable {
    /// The plaintext value.
    public var wrappedValue: Value

    /// Wraps `wrappedValue`.
    public init(wrappedValue: Value) {
        self.wrappedValue = wrappedValue
    }

    /// Encrypts the value for the context in `encoder.userInfo` and encodes the text envelope.
    public func encode(to encoder: any Encoder) throws {
        let (coding, context) = try FieldEncryptionCoding.context(
            userInfo: encoder.userInfo, codingPath: encoder.codingPath)
        var plaintext = try JSONEncoder().encode(wrappedValue)
        defer { plaintext.resetBytes(in: 0..<plaintext.count) }
        let envelope = try coding.encryptor.encrypt(Array(plaintext), context: context)
        var container = encoder.singleValueContainer()
        try container.encode(envelope.text)
    }

    /// Decodes a text envelope and decrypts it for the context in `decoder.userInfo`.
    public init(from decoder: any Decoder) throws {
        let (coding, context) = try FieldEncryptionCoding.context(
            userInfo: decoder.userInfo, codingPath: decoder.codingPath)
        let text = try decoder.singleValueContainer().decode(String.self)
        var plaintext = try coding.encryptor.decrypt(text: text, context: context)
        defer { plaintext.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        do {
            wrappedValue = try JSONDecoder().decode(Value.self, from: Data(plaintext))
        } catch {
            // The bytes authenticated but are not a `Value`: report without echoing them.
            throw FieldEncryptionError.decryptionFailed
        }
    }
}

/// What ``EncryptedField`` needs to encrypt and decrypt: the encryptor and the record's place.
/// Put it in `JSONEncoder.userInfo` / `JSONDecoder.userInfo` (or any coder's) under ``userInfoKey``.
public struct FieldEncryptionCoding: Sendable {
    /// The `userInfo` key.
    public static let userInfoKey = CodingUserInfoKey(rawValue: "PHIGuard.FieldEncryptionCoding")!
    /// The encryptor.
    public let encryptor: FieldEncryptor
    /// The table (or collection).
    public let table: String
    /// The record's stable id.
    public let recordID: String
    /// Optional extra context.
    public let extra: String?

    /// Coding context for record `recordID` of `table`.
    public init(encryptor: FieldEncryptor, table: String, recordID: String, extra: String? = nil) {
        self.encryptor = encryptor
        self.table = table
        self.recordID = recordID
        self.extra = extra
    }

    static func context(userInfo: [CodingUserInfoKey: Any], codingPath: [any CodingKey]) throws -> (
        FieldEncryptionCoding, FieldContext
    ) {
        guard let coding = userInfo[userInfoKey] as? FieldEncryptionCoding else {
            throw FieldEncryptionError.invalidContext(
                "no FieldEncryptionCoding in the coder's userInfo; refusing to code an encrypted field")
        }
        let field = codingPath.filter { $0.intValue == nil }.map(\.stringValue).joined(separator: ".")
        return (coding, FieldContext(table: coding.table, recordID: coding.recordID, field: field, extra: coding.extra))
    }
}

/// Compares the plaintext values.
extension EncryptedField: Equatable where Value: Equatable {}
/// Hashes the plaintext value.
extension EncryptedField: Hashable where Value: Hashable {}
