import Foundation
import Testing

@testable import PHIGuardFieldEncryption

struct Patient: Codable, Equatable {
    var id: String
    var displayName: String
    @EncryptedField var ssn: String
    @EncryptedField var diagnosis: String?
    @EncryptedField var allergies: [String]
}

@Suite("EncryptedField property wrapper")
struct EncryptedFieldTests {
    let encryptor: FieldEncryptor

    init() throws {
        encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
    }

    func encoder(recordID: String) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.userInfo[FieldEncryptionCoding.userInfoKey] = FieldEncryptionCoding(
            encryptor: encryptor, table: "patients", recordID: recordID)
        return encoder
    }

    func decoder(recordID: String) -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.userInfo[FieldEncryptionCoding.userInfoKey] = FieldEncryptionCoding(
            encryptor: encryptor, table: "patients", recordID: recordID)
        return decoder
    }

    @Test("PHI fields are stored as envelopes and decode back")
    func roundTrip() throws {
        let patient = Patient(
            id: "A", displayName: "J. S.", ssn: "078-05-1120", diagnosis: nil, allergies: ["penicillin"])
        let data = try encoder(recordID: "A").encode(patient)
        let json = String(decoding: data, as: UTF8.self)
        #expect(!json.contains("078-05-1120"))
        #expect(!json.contains("penicillin"))
        #expect(json.contains("J. S."))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        #expect((object?["ssn"] as? String)?.hasPrefix("phgf:") == true)
        #expect((object?["diagnosis"] as? String)?.hasPrefix("phgf:") == true)  // nil is encrypted too
        #expect(try decoder(recordID: "A").decode(Patient.self, from: data) == patient)
    }

    @Test("a record's JSON decoded as another record, or a value moved to another field, fails")
    func bound() throws {
        let patient = Patient(id: "A", displayName: "x", ssn: "078-05-1120", diagnosis: "flu", allergies: [])
        let data = try encoder(recordID: "A").encode(patient)
        #expect(throws: FieldEncryptionError.decryptionFailed) {
            try decoder(recordID: "B").decode(Patient.self, from: data)
        }
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["diagnosis"] = object["ssn"]
        let swapped = try JSONSerialization.data(withJSONObject: object)
        #expect(throws: FieldEncryptionError.decryptionFailed) {
            try decoder(recordID: "A").decode(Patient.self, from: swapped)
        }
    }

    @Test("coding without a FieldEncryptionCoding refuses rather than writing PHI in the clear")
    func missingContext() throws {
        let patient = Patient(id: "A", displayName: "x", ssn: "078-05-1120", diagnosis: nil, allergies: [])
        #expect(throws: FieldEncryptionError.self) { try JSONEncoder().encode(patient) }
    }
}
