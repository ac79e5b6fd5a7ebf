import Foundation
import PHIGuardCrypto
import PHIGuardTestSupport
import Testing

@testable import PHIGuardFieldEncryption

@Suite("Keys, keyrings, derivation and providers")
struct KeyringTests {
    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("phiguard-keys-\(UUID().uuidString)").path
    }

    @Test("key ids are validated")
    func keyIDs() throws {
        for bad in ["", String(repeating: "a", count: 33), "has space", "ü", "a/b"] {
            #expect(throws: FieldEncryptionError.self) { try FieldKey.generate(id: bad) }
        }
        for good in ["a", "2026-11", "k.1_x", String(repeating: "Z", count: 32)] {
            #expect(try FieldKey.generate(id: good).id == good)
        }
        var short = [UInt8](repeating: 1, count: 31)
        #expect(throws: FieldEncryptionError.self) { try FieldKey(id: "k", bytes: &short) }
    }

    @Test("duplicate ids and revoking the active key are refused")
    func keyringConsistency() throws {
        let key = try FieldKey.generate(id: "k1")
        #expect(throws: FieldEncryptionError.self) {
            try Keyring(active: key, retired: [try FieldKey.generate(id: "k1")])
        }
        #expect(throws: FieldEncryptionError.self) { try Keyring(active: key, revokedKeyIDs: ["k1"]) }
        #expect(throws: FieldEncryptionError.self) { try Keyring(active: key).revoking("k1") }
        let rotated = try Keyring(active: key).rotated(to: try FieldKey.generate(id: "k2"))
        #expect(rotated.activeKeyID == "k2")
        #expect(rotated.retiredKeyIDs == ["k1"])
    }

    @Test("subkeys are domain-separated by table and field, and deterministic")
    func derivation() throws {
        var rootBytes = [UInt8](repeating: 0x42, count: 32)
        let root = try FieldKey(id: "k1", bytes: &rootBytes)
        func subkey(_ table: String, _ field: String) throws -> [UInt8] {
            try SubkeyDerivation.derive(from: root, purpose: .fieldEncryption, table: table, field: field)
                .withUnsafeBytes { Array($0) }
        }
        #expect(try subkey("patients", "ssn") == subkey("patients", "ssn"))
        #expect(try subkey("patients", "ssn") != subkey("patients", "mrn"))
        #expect(try subkey("patients", "ssn") != subkey("visits", "ssn"))
        #expect(try subkey("ab", "c") != subkey("a", "bc"))
        let index = try SubkeyDerivation.derive(from: root, purpose: .blindIndex, table: "patients", field: "ssn")
            .withUnsafeBytes { Array($0) }
        #expect(try index != subkey("patients", "ssn"))
        // Envelopes from one field cannot be opened as another even with the same record id.
        let encryptor = FieldEncryptor(keyring: try Keyring(active: root))
        let envelope = try encryptor.encrypt("x", context: FieldContext(table: "t", recordID: "1", field: "a"))
        #expect(throws: FieldEncryptionError.decryptionFailed) {
            try encryptor.decrypt(envelope, context: FieldContext(table: "t", recordID: "1", field: "b"))
        }
    }

    @Test("key file: written 0600, read back, ids and fingerprints preserved")
    func keyFileRoundTrip() throws {
        let path = temporaryPath()
        defer { unlink(path) }
        let keyring = try Keyring(
            active: try FieldKey.generate(id: "k2"), retired: [try FieldKey.generate(id: "k1")], revokedKeyIDs: ["k0"])
        try KeyringFile.write(keyring, to: path)
        var status = stat()
        #expect(stat(path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
        let loaded = try KeyFileProvider(path: path).keyring()
        #expect(loaded.activeKeyID == "k2")
        #expect(loaded.retiredKeyIDs == ["k1"])
        #expect(loaded.revokedKeyIDs == ["k0"])
        #expect(loaded.keys.map(\.fingerprint) == keyring.keys.map(\.fingerprint))
        // Values encrypted with the original decrypt with the loaded keyring.
        let context = FieldContext(table: "t", recordID: "1", field: "f")
        let envelope = try FieldEncryptor(keyring: keyring).encrypt("v", context: context)
        #expect(try FieldEncryptor(keyring: loaded).decryptString(envelope, context: context) == "v")
        // Writing again without `replacing` is refused; with it, the file is replaced atomically.
        #expect(throws: KeyProviderError.fileExists(path: path)) { try KeyringFile.write(keyring, to: path) }
        try KeyringFile.write(try keyring.rotated(to: try FieldKey.generate(id: "k3")), to: path, replacing: true)
        #expect(try KeyFileProvider(path: path).keyring().activeKeyID == "k3")
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600)
    }

    @Test("key files readable by group or others are refused with a clear error")
    func keyFilePermissions() throws {
        let path = temporaryPath()
        defer { unlink(path) }
        try KeyringFile.write(try Keyring(active: try FieldKey.generate(id: "k1")), to: path)
        for mode in [0o644, 0o640, 0o604, 0o660, 0o666] as [mode_t] {
            chmod(path, mode)
            #expect(throws: KeyProviderError.insecurePermissions(path: path, mode: "0" + String(mode, radix: 8))) {
                try KeyFileProvider(path: path).keyring()
            }
        }
        chmod(path, 0o400)
        #expect(try KeyFileProvider(path: path).keyring().activeKeyID == "k1")
        let error = KeyProviderError.insecurePermissions(path: path, mode: "0644")
        #expect(error.description.contains("chmod 600"))
        #expect(throws: KeyProviderError.fileNotFound(path: path + ".missing")) {
            try KeyFileProvider(path: path + ".missing").keyring()
        }
        let link = path + ".link"
        symlink(path, link)
        defer { unlink(link) }
        #expect(throws: KeyProviderError.notRegularFile(path: link)) { try KeyFileProvider(path: link).keyring() }
    }

    @Test("malformed keyrings are refused with a line number, never echoing the line")
    func malformedKeyrings() throws {
        let key = Base64Key.random()
        let cases: [(String, Int)] = [
            ("active k1 \(key)\n", 1),  // header missing
            ("phiguard-field-keyring v2\nactive k1 \(key)\n", 1),
            ("phiguard-field-keyring v1\nactive k1 \(key)\nactive k2 \(key)\n", 3),
            ("phiguard-field-keyring v1\nactive k1 notbase64!\n", 2),
            ("phiguard-field-keyring v1\nactive k1 \(Base64Key.random(count: 16))\n", 2),
            ("phiguard-field-keyring v1\nfrozen k1 \(key)\n", 2),
            ("phiguard-field-keyring v1\nactive bad/id \(key)\n", 2),
            ("phiguard-field-keyring v1\nretired k1 \(key)\n", 0),  // no active key
        ]
        for (text, line) in cases {
            do {
                _ = try KeyringFile.parse(Array(text.utf8))
                Issue.record("accepted: line \(line)")
            } catch {
                if case .malformed(let reportedLine, let reason) = error {
                    #expect(reportedLine == line)
                    #expect(!reason.contains(key))
                } else {
                    Issue.record("unexpected \(error)")
                }
            }
        }
        #expect(throws: KeyProviderError.tooLarge) {
            try KeyringFile.parse([UInt8](repeating: 0x20, count: KeyringFile.maximumByteCount + 1))
        }
    }

    @Test("environment provider: semicolon-separated entries, missing variable")
    func environmentProvider() throws {
        let value = "active k2 \(Base64Key.random());retired k1 \(Base64Key.random());revoked k0"
        let keyring = try EnvironmentKeyProvider(environment: ["PHIGUARD_FIELD_KEYS": value]).keyring()
        #expect(keyring.activeKeyID == "k2")
        #expect(keyring.retiredKeyIDs == ["k1"])
        #expect(keyring.revokedKeyIDs == ["k0"])
        #expect(throws: KeyProviderError.variableNotSet(name: "PHIGUARD_FIELD_KEYS")) {
            try EnvironmentKeyProvider(environment: [:]).keyring()
        }
    }
}

/// Random key material in the key-file encoding.
enum Base64Key {
    static func random(count: Int = 32) -> String {
        Data((0..<count).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }
}
