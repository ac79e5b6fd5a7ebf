import PHIGuardTestSupport
import Testing

@testable import PHIGuardCrypto

// Outside test vectors for the crypto layer's primitives. Provenance:
// - BLAKE2b keyed: the BLAKE2 reference test vectors (github.com/BLAKE2/BLAKE2, testvectors/blake2b-kat.txt:
//   key 00 01 … 3f, input 00 01 … (n-1), 64-byte output); unkeyed "abc": RFC 7693 Appendix A. Both were
//   re-checked with CPython's hashlib.blake2b, an independent implementation.
// - HMAC-SHA256: RFC 4231 section 4 test cases 1, 2, 3, 4, 6 and 7 (re-checked with CPython's hmac).
// - Ed25519: RFC 8032 section 7.1 TEST 1 and TEST 2.

@Suite("BLAKE2b")
struct BLAKE2bTests {
    static let katKey = [UInt8](0..<64)

    @Test(
        "the reference keyed KAT (blake2b-kat.txt)",
        arguments: [
            (
                0,
                "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568"
            ),
            (
                1,
                "961f6dd1e4dd30f63901690c512e78e4b45e4742ed197c3c5e45c549fd25f2e4187b0bc9fe30492b16b0d0bc4ef9b0f34c7003fac09a5ef1532e69430234cebd"
            ),
            (
                2,
                "da2cfbe2d8409a0f38026113884f84b50156371ae304c4430173d08a99d9fb1b983164a3770706d537f49e0c916d9f32b95cc37a95b99d857436f0232c88a965"
            ),
            (
                255,
                "142709d62e28fcccd0af97fad0f8465b971e82201dc51070faa0372aa43e92484be1c1e73ba10906d5d1853db6a4106e0a7bf9800d373d6dee2d46d62ef2a461"
            ),
        ])
    func keyedKAT(length: Int, expected: String) throws {
        let message = (0..<length).map { UInt8(truncatingIfNeeded: $0) }
        #expect(Hex.encode(try BLAKE2b.hash(message, key: Self.katKey, outputCount: 64)) == expected)
        let secret = try SecretBytes(copying: Self.katKey)
        #expect(Hex.encode(try BLAKE2b.hash(message, key: secret, outputCount: 64)) == expected)
    }

    @Test("RFC 7693 Appendix A: unkeyed BLAKE2b-512 of \"abc\"")
    func rfc7693() throws {
        #expect(
            Hex.encode(try BLAKE2b.hash(Array("abc".utf8), outputCount: 64))
                == "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
        )
    }

    @Test("lengths outside libsodium's documented ranges are typed errors")
    func rejectsLengths() {
        #expect(throws: CryptoError.invalidLength(what: "BLAKE2b output", count: 15)) {
            try BLAKE2b.hash([1], outputCount: 15)
        }
        #expect(throws: CryptoError.invalidLength(what: "BLAKE2b output", count: 65)) {
            try BLAKE2b.hash([1], outputCount: 65)
        }
        #expect(throws: CryptoError.invalidLength(what: "BLAKE2b key", count: 8)) {
            try BLAKE2b.hash([1], key: [UInt8](repeating: 1, count: 8), outputCount: 32)
        }
        #expect(throws: CryptoError.invalidLength(what: "BLAKE2b key", count: 65)) {
            try BLAKE2b.hash([1], key: [UInt8](repeating: 1, count: 65), outputCount: 32)
        }
    }

    @Test("an empty key is no key")
    func emptyKey() throws {
        #expect(try BLAKE2b.hash([1, 2, 3], key: [], outputCount: 32) == BLAKE2b.hash([1, 2, 3], outputCount: 32))
    }
}

@Suite("HMAC-SHA256")
struct HMACSHA256Tests {
    @Test(
        "RFC 4231 test cases",
        arguments: [
            (
                [UInt8](repeating: 0x0B, count: 20), Array("Hi There".utf8),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
            ),
            (
                Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
            ),
            (
                [UInt8](repeating: 0xAA, count: 20), [UInt8](repeating: 0xDD, count: 50),
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
            ),
            (
                [UInt8](1...25), [UInt8](repeating: 0xCD, count: 50),
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
            ),
            (
                [UInt8](repeating: 0xAA, count: 131),
                Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
            ),
            (
                [UInt8](repeating: 0xAA, count: 131),
                Array(
                    ("This is a test using a larger than block-size key and a larger than block-size data. "
                        + "The key needs to be hashed before being used by the HMAC algorithm.").utf8),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
            ),
        ])
    func rfc4231(key: [UInt8], message: [UInt8], expected: String) throws {
        let hmac = try HMACSHA256(key: key)
        #expect(Hex.encode(try hmac.authenticationCode(for: message)) == expected)
        // The keyed state is reused: a second MAC from it is the same.
        #expect(Hex.encode(try hmac.authenticationCode(for: message)) == expected)
    }
}

@Suite("Ed25519")
struct Ed25519Tests {
    @Test(
        "RFC 8032 section 7.1 TEST 1 and TEST 2",
        arguments: [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
            ),
        ])
    func rfc8032(seed: String, publicKey: String, message: String, signature: String) throws {
        let key = try Ed25519.SigningKey(seed: [UInt8](hex: seed))
        #expect(Hex.encode(key.publicKey) == publicKey)
        let produced = try key.signature(for: [UInt8](hex: message))
        #expect(Hex.encode(produced) == signature)
        #expect(Ed25519.isValidSignature(produced, for: [UInt8](hex: message), publicKey: key.publicKey))
        var tampered = produced
        tampered[0] ^= 1
        #expect(!Ed25519.isValidSignature(tampered, for: [UInt8](hex: message), publicKey: key.publicKey))
        #expect(!Ed25519.isValidSignature(produced, for: [UInt8](hex: message) + [0], publicKey: key.publicKey))
    }

    @Test("a seed that is not 32 bytes is refused; short signatures never verify")
    func rejectsLengths() throws {
        #expect(throws: CryptoError.invalidLength(what: "Ed25519 seed", count: 31)) {
            try Ed25519.SigningKey(seed: [UInt8](repeating: 1, count: 31))
        }
        let key = try Ed25519.SigningKey(seed: [UInt8](repeating: 7, count: 32))
        #expect(!Ed25519.isValidSignature([UInt8](repeating: 0, count: 63), for: [], publicKey: key.publicKey))
    }
}

@Suite("KDF")
struct KDFTests {
    @Test("subkeys are deterministic, differ by id and context, and lengths are checked")
    func deriveSubkey() throws {
        let root = try SecretBytes(copying: [UInt8](0..<32))
        let context = Array("PHIGuard".utf8)
        let a = try KDF.deriveSubkey(count: 32, id: 1, context: context, from: root)
        let b = try KDF.deriveSubkey(count: 32, id: 1, context: context, from: root)
        let c = try KDF.deriveSubkey(count: 32, id: 2, context: context, from: root)
        let d = try KDF.deriveSubkey(count: 32, id: 1, context: Array("phiguard".utf8), from: root)
        #expect(a.constantTimeEquals(b))
        #expect(!a.constantTimeEquals(c))
        #expect(!a.constantTimeEquals(d))
        #expect(throws: CryptoError.invalidLength(what: "KDF context", count: 7)) {
            try KDF.deriveSubkey(count: 32, id: 1, context: [1, 2, 3, 4, 5, 6, 7], from: root)
        }
        #expect(throws: CryptoError.invalidLength(what: "KDF subkey", count: 8)) {
            try KDF.deriveSubkey(count: 8, id: 1, context: context, from: root)
        }
        let shortRoot = try SecretBytes(copying: [UInt8](0..<16))
        #expect(throws: CryptoError.invalidLength(what: "KDF root key", count: 16)) {
            try KDF.deriveSubkey(count: 32, id: 1, context: context, from: shortRoot)
        }
    }
}

@Suite("Hex")
struct HexTests {
    @Test("round trip of every byte value; upper case accepted")
    func roundTrip() {
        let bytes = [UInt8](0...255)
        let text = Hex.encode(bytes)
        #expect(text.count == 512)
        #expect(text.hasPrefix("000102") && text.hasSuffix("fdfeff"))
        #expect(Hex.decode(text) == bytes)
        #expect(Hex.decode(text.uppercased()) == bytes)
        #expect(Hex.encode([]) == "")
        #expect(Hex.decode("") == [])
    }

    @Test(
        "odd length, non-hex characters and oversized input are rejected",
        arguments: ["0", "abc", "0g", "zz", " 00", "0x00", "é0"])
    func rejects(text: String) {
        #expect(Hex.decode(text) == nil)
    }

    @Test("the decoded-length bound")
    func bound() {
        #expect(Hex.decode("0011", maximumByteCount: 2) == [0x00, 0x11])
        #expect(Hex.decode("001122", maximumByteCount: 2) == nil)
    }
}
