import Testing

@testable import PHIGuardFieldEncryption

@Suite("Envelopes: round trips, bit flips, context changes, truncation")
struct EnvelopeTamperTests {
    let encryptor: FieldEncryptor
    let context = FieldContext(table: "patients", recordID: "patient-A", field: "ssn", extra: "tenant-7")

    init() throws {
        encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
    }

    @Test("round trip in binary and text form, for empty and long values")
    func roundTrip() throws {
        for length in [0, 1, 63, 64, 4096] {
            let plaintext = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let envelope = try encryptor.encrypt(plaintext, context: context)
            #expect(envelope.keyID == "k1")
            #expect(envelope.formatVersion == 1)
            #expect(envelope.bytes.count == 2 + 2 + 24 + length + 16)
            #expect(try encryptor.decrypt(envelope, context: context) == plaintext)
            #expect(try encryptor.decrypt(bytes: envelope.bytes, context: context) == plaintext)
            #expect(envelope.text.hasPrefix("phgf:"))
            #expect(try encryptor.decrypt(text: envelope.text, context: context) == plaintext)
            #expect(try FieldEnvelope(text: envelope.text) == envelope)
        }
        let text = try encryptor.encrypt("078-05-1120", context: context)
        #expect(try encryptor.decryptString(text, context: context) == "078-05-1120")
    }

    @Test("two encryptions of one value differ (random nonce)")
    func randomNonce() throws {
        let first = try encryptor.encrypt("same", context: context)
        let second = try encryptor.encrypt("same", context: context)
        #expect(first.bytes != second.bytes)
    }

    @Test("every single-bit flip of the envelope is rejected")
    func everyBitFlip() throws {
        let envelope = try encryptor.encrypt(Array("078-05-1120 John Smith".utf8), context: context)
        var reasons: [EnvelopeRejection: Int] = [:]
        for bit in 0..<(envelope.bytes.count * 8) {
            var bytes = envelope.bytes
            bytes[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
            // Public API: one uniform failure.
            #expect(throws: FieldEncryptionError.decryptionFailed, "bit \(bit)") {
                try encryptor.decrypt(bytes: bytes, context: context)
            }
            // Internally: a distinct reason.
            do {
                _ = try encryptor.open(try FieldEnvelope.parse(bytes), context: context)
                Issue.record("bit \(bit) flipped and the envelope still opened")
            } catch {
                reasons[error, default: 0] += 1
            }
        }
        // Version byte flips → unsupported version; key-id length flips → malformed or truncated;
        // key-id flips → unknown key or malformed; nonce, ciphertext and tag flips → authentication.
        #expect(reasons[.unsupportedVersion] == 8)
        #expect((reasons[.authenticationFailed] ?? 0) >= (24 + 22 + 16) * 8)
        #expect(reasons[.unknownKeyID, default: 0] > 0)
        #expect(reasons.values.reduce(0, +) == envelope.bytes.count * 8)
    }

    @Test("every change of context is rejected")
    func everyContextChange() throws {
        let envelope = try encryptor.encrypt("078-05-1120", context: context)
        let others = [
            FieldContext(table: "patient", recordID: "patient-A", field: "ssn", extra: "tenant-7"),
            FieldContext(table: "patients ", recordID: "patient-A", field: "ssn", extra: "tenant-7"),
            FieldContext(table: "patients", recordID: "patient-B", field: "ssn", extra: "tenant-7"),
            FieldContext(table: "patients", recordID: "patient-a", field: "ssn", extra: "tenant-7"),
            FieldContext(table: "patients", recordID: "patient-A", field: "mrn", extra: "tenant-7"),
            FieldContext(table: "patients", recordID: "patient-A", field: "ssn", extra: "tenant-8"),
            FieldContext(table: "patients", recordID: "patient-A", field: "ssn", extra: ""),
            FieldContext(table: "patients", recordID: "patient-A", field: "ssn", extra: nil),
            // Shifting bytes between components must not give the same associated data.
            FieldContext(table: "patientsp", recordID: "atient-A", field: "ssn", extra: "tenant-7"),
            FieldContext(table: "patients", recordID: "patient-As", field: "sn", extra: "tenant-7"),
        ]
        for other in others {
            #expect(throws: FieldEncryptionError.decryptionFailed, "\(other)") {
                try encryptor.decrypt(envelope, context: other)
            }
            #expect(throws: EnvelopeRejection.authenticationFailed) { try encryptor.open(envelope, context: other) }
        }
        #expect(try encryptor.decryptString(envelope, context: context) == "078-05-1120")
    }

    @Test("a ciphertext copied into another patient's row does not decrypt there")
    func copiedCiphertext() throws {
        let contextA = FieldContext(table: "patients", recordID: "A", field: "diagnosis")
        let contextB = FieldContext(table: "patients", recordID: "B", field: "diagnosis")
        let envelopeA = try encryptor.encrypt("HIV positive", context: contextA)
        #expect(throws: FieldEncryptionError.decryptionFailed) { try encryptor.decrypt(envelopeA, context: contextB) }
    }

    @Test("truncation at every length is rejected")
    func everyTruncation() throws {
        let envelope = try encryptor.encrypt(Array("078-05-1120".utf8), context: context)
        for length in 0..<envelope.bytes.count {
            let bytes = Array(envelope.bytes.prefix(length))
            #expect(throws: FieldEncryptionError.decryptionFailed, "length \(length)") {
                try encryptor.decrypt(bytes: bytes, context: context)
            }
            let text = "phgf:" + String(envelope.text.dropFirst(5).prefix(length))
            if text != envelope.text {
                #expect(throws: FieldEncryptionError.decryptionFailed, "text length \(length)") {
                    try encryptor.decrypt(text: text, context: context)
                }
            }
        }
        // Appending is refused too.
        #expect(throws: FieldEncryptionError.decryptionFailed) {
            try encryptor.decrypt(bytes: envelope.bytes + [0], context: context)
        }
    }

    @Test("malformed text forms are rejected without crashing")
    func malformedText() throws {
        for text in ["", "phgf:", "phgf", "PHGF:AQ", "phgf:!!!!", "phgf:AQJrMQ==", String(repeating: "A", count: 100)] {
            #expect(throws: FieldEncryptionError.decryptionFailed) {
                try encryptor.decrypt(text: text, context: context)
            }
        }
    }

    @Test("unknown and revoked key ids: distinct internal reasons, one public failure")
    func unknownAndRevokedKeys() throws {
        let key1 = try FieldKey.generate(id: "k1")
        let key2 = try FieldKey.generate(id: "k2")
        let old = FieldEncryptor(keyring: try Keyring(active: key1))
        let envelope = try old.encrypt("value", context: context)
        let rotated = try Keyring(active: key1).rotated(to: key2)
        #expect(try FieldEncryptor(keyring: rotated).decryptString(envelope, context: context) == "value")
        let revoked = FieldEncryptor(keyring: try rotated.revoking("k1"))
        #expect(throws: EnvelopeRejection.revokedKeyID) { try revoked.open(envelope, context: context) }
        #expect(throws: FieldEncryptionError.decryptionFailed) { try revoked.decrypt(envelope, context: context) }
        let stranger = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k9")))
        #expect(throws: EnvelopeRejection.unknownKeyID) { try stranger.open(envelope, context: context) }
        // A different key that reuses the id "k1" is an authentication failure, not a silent success.
        let impostor = FieldEncryptor(keyring: try Keyring(active: try FieldKey.generate(id: "k1")))
        #expect(throws: EnvelopeRejection.authenticationFailed) { try impostor.open(envelope, context: context) }
    }

    @Test("wrong format version is its own internal reason")
    func wrongVersion() throws {
        var bytes = try encryptor.encrypt("value", context: context).bytes
        for version in [0, 2, 0x7F, 0xFF] {
            bytes[0] = UInt8(version)
            #expect(throws: EnvelopeRejection.unsupportedVersion) { try FieldEnvelope.parse(bytes) }
        }
    }

    @Test("invalid contexts and oversized plaintexts are refused before any crypto")
    func invalidInputs() throws {
        for bad in [
            FieldContext(table: "", recordID: "1", field: "f"), FieldContext(table: "t", recordID: "", field: "f"),
            FieldContext(table: "t", recordID: "1", field: ""),
            FieldContext(table: String(repeating: "t", count: 1025), recordID: "1", field: "f"),
            FieldContext(table: "t", recordID: "1", field: "f", extra: String(repeating: "x", count: 4097)),
        ] {
            #expect(throws: FieldEncryptionError.self) { try encryptor.encrypt("v", context: bad) }
        }
        let tooLong = [UInt8](repeating: 0, count: FieldEnvelope.maximumPlaintextByteCount + 1)
        #expect(
            throws: FieldEncryptionError.plaintextTooLong(maximumByteCount: FieldEnvelope.maximumPlaintextByteCount)
        ) {
            try encryptor.encrypt(tooLong, context: context)
        }
    }

    @Test("descriptions carry no plaintext, key or ciphertext")
    func descriptionsAreSafe() throws {
        var keyBytes = [UInt8](repeating: 0xAB, count: 32)
        let key = try FieldKey(id: "k1", bytes: &keyBytes)
        #expect(keyBytes == [UInt8](repeating: 0, count: 32))
        let encryptor = FieldEncryptor(keyring: try Keyring(active: key))
        let envelope = try encryptor.encrypt("SECRET-PHI-VALUE", context: context)
        let texts = [
            key.description, String(describing: key), String(reflecting: key), "\(try Keyring(active: key))",
            envelope.description, context.description,
            FieldEncryptionError.decryptionFailed.description,
        ]
        for text in texts {
            #expect(!text.contains("SECRET"))
            #expect(!text.lowercased().contains("abab"))
            #expect(!text.contains("q6ur"))  // base64 of 0xAB bytes
            #expect(!text.contains("patient-A"))
            #expect(!text.contains(envelope.text.dropFirst(5).prefix(12)))
        }
    }
}
