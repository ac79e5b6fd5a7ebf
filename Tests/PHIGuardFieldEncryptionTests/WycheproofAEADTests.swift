import PHIGuardCrypto
import PHIGuardTestSupport
import Testing

@testable import PHIGuardFieldEncryption

/// Wycheproof `aead_test_schema_v1` files.
struct WycheproofAEADFile: Decodable {
    struct Group: Decodable {
        var ivSize: Int
        var keySize: Int
        var tagSize: Int
        var tests: [Case]
    }

    struct Case: Decodable {
        var tcId: Int
        var comment: String
        var key: String
        var iv: String
        var aad: String
        var msg: String
        var ct: String
        var tag: String
        var result: String
        var flags: [String]
    }

    var algorithm: String
    var numberOfTests: Int
    var testGroups: [Group]
}

@Suite("Wycheproof ChaCha20-Poly1305 vectors through the raw AEAD layer")
struct WycheproofAEADTests {
    struct Tally: Equatable {
        var valid = 0
        var invalid = 0
        var rejectedNonceAtBoundary = 0
    }

    /// Runs every vector of `file` and returns how many of each kind ran.
    func runAll(_ file: String, algorithm: AEAD.Algorithm) throws -> (Tally, Int) {
        let vectors = try Fixture.decode(WycheproofAEADFile.self, from: file)
        var tally = Tally()
        var total = 0
        for group in vectors.testGroups {
            for test in group.tests {
                total += 1
                let key = [UInt8](hex: test.key)
                let nonce = [UInt8](hex: test.iv)
                let aad = [UInt8](hex: test.aad)
                let message = [UInt8](hex: test.msg)
                let sealed = [UInt8](hex: test.ct) + [UInt8](hex: test.tag)
                if nonce.count != algorithm.nonceByteCount {
                    // Wrong nonce sizes never reach libsodium: both directions refuse at the boundary.
                    #expect(test.result == "invalid", "tcId \(test.tcId)")
                    #expect(throws: AEAD.Failure.invalidNonceLength(nonce.count), "tcId \(test.tcId)") {
                        try AEAD.seal(algorithm, message: message, associatedData: aad, nonce: nonce, key: key)
                    }
                    #expect(throws: AEAD.Failure.invalidNonceLength(nonce.count), "tcId \(test.tcId)") {
                        try AEAD.open(algorithm, ciphertext: sealed, associatedData: aad, nonce: nonce, key: key)
                    }
                    tally.rejectedNonceAtBoundary += 1
                    continue
                }
                switch test.result {
                case "valid":
                    let produced = try AEAD.seal(
                        algorithm, message: message, associatedData: aad, nonce: nonce, key: key)
                    #expect(produced == sealed, "tcId \(test.tcId) \(test.comment)")
                    let opened = try AEAD.open(
                        algorithm, ciphertext: sealed, associatedData: aad, nonce: nonce, key: key)
                    #expect(opened == message, "tcId \(test.tcId)")
                    tally.valid += 1
                case "invalid":
                    #expect(throws: AEAD.Failure.self, "tcId \(test.tcId) \(test.comment)") {
                        try AEAD.open(algorithm, ciphertext: sealed, associatedData: aad, nonce: nonce, key: key)
                    }
                    tally.invalid += 1
                default:
                    Issue.record("tcId \(test.tcId): unexpected result \(test.result)")
                }
            }
        }
        #expect(total == vectors.numberOfTests)
        return (tally, total)
    }

    @Test("all 315 XChaCha20-Poly1305 vectors")
    func xChaCha() throws {
        let (tally, total) = try runAll("wycheproof/xchacha20_poly1305_test.json", algorithm: .xChaCha20Poly1305)
        #expect(total == 315)
        // SOURCES.md: 246 valid, 69 invalid of which 9 use non-192-bit nonces.
        #expect(tally == Tally(valid: 246, invalid: 60, rejectedNonceAtBoundary: 9))
    }

    @Test("all 325 ChaCha20-Poly1305 (IETF) vectors")
    func chaCha() throws {
        let (tally, total) = try runAll("wycheproof/chacha20_poly1305_test.json", algorithm: .chaCha20Poly1305IETF)
        #expect(total == 325)
        #expect(tally == Tally(valid: 256, invalid: 60, rejectedNonceAtBoundary: 9))
    }

    @Test("wrong key sizes are refused at the boundary")
    func keySizes() {
        for algorithm in [AEAD.Algorithm.xChaCha20Poly1305, .chaCha20Poly1305IETF] {
            let nonce = [UInt8](repeating: 1, count: algorithm.nonceByteCount)
            for length in [0, 16, 31, 33, 64] {
                let key = [UInt8](repeating: 2, count: length)
                #expect(throws: AEAD.Failure.invalidKeyLength(length)) {
                    try AEAD.seal(algorithm, message: [1, 2, 3], associatedData: [], nonce: nonce, key: key)
                }
                #expect(throws: AEAD.Failure.invalidKeyLength(length)) {
                    try AEAD.open(
                        algorithm, ciphertext: [UInt8](repeating: 0, count: 20), associatedData: [], nonce: nonce,
                        key: key)
                }
            }
        }
    }

    @Test("a ciphertext shorter than a tag is refused")
    func shortCiphertext() {
        let key = [UInt8](repeating: 7, count: 32)
        let nonce = [UInt8](repeating: 1, count: 24)
        for length in 0..<16 {
            #expect(throws: AEAD.Failure.ciphertextTooShort) {
                try AEAD.open(
                    .xChaCha20Poly1305, ciphertext: [UInt8](repeating: 0, count: length), associatedData: [],
                    nonce: nonce, key: key)
            }
        }
    }
}
