import Foundation
import PHIGuardCrypto
import PHIGuardTestSupport
import Testing

@testable import PHIGuardFieldEncryption

/// PHIGuard's raw XChaCha20-Poly1305 against PyNaCl's bindings, in both directions, one Python run each.
@Suite("PyNaCl interop", .enabled(if: InteropPython.shouldRun))
struct AEADInteropTests {
    struct Case: Codable {
        var key: String
        var nonce: String
        var aad: String
        var message: String
        var sealed: String
    }

    /// Varied cases: empty and long messages, empty and long associated data.
    func cases() -> [Case] {
        let lengths = [(0, 0), (1, 0), (0, 13), (15, 16), (16, 1), (64, 40), (255, 3), (1000, 100), (4096, 0)]
        return lengths.map { (messageLength, aadLength) in
            Case(
                key: randomHex(32), nonce: randomHex(24), aad: randomHex(aadLength),
                message: randomHex(messageLength), sealed: "")
        }
    }

    func randomHex(_ count: Int) -> String {
        Array(0..<count).map { _ in UInt8.random(in: 0...255) }.hex
    }

    @Test("PHIGuard's ciphertexts decrypt in PyNaCl")
    func phiguardToPyNaCl() throws {
        var requests = cases()
        for index in requests.indices {
            let item = requests[index]
            requests[index].sealed = try AEAD.seal(
                .xChaCha20Poly1305, message: [UInt8](hex: item.message), associatedData: [UInt8](hex: item.aad),
                nonce: [UInt8](hex: item.nonce), key: [UInt8](hex: item.key)
            ).hex
        }
        let script = """
            import json, sys
            from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt as dec
            out = []
            for c in json.load(sys.stdin):
                h = bytes.fromhex
                out.append(dec(h(c["sealed"]), h(c["aad"]), h(c["nonce"]), h(c["key"])).hex())
            print(json.dumps(out))
            """
        let plaintexts = try InteropPython.exchange(script: script, request: requests, as: [String].self)
        #expect(plaintexts == requests.map(\.message))
    }

    @Test("PyNaCl's ciphertexts decrypt in PHIGuard, byte for byte equal to ours")
    func pyNaClToPHIGuard() throws {
        let requests = cases()
        let script = """
            import json, sys
            from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt as enc
            out = []
            for c in json.load(sys.stdin):
                h = bytes.fromhex
                c["sealed"] = enc(h(c["message"]), h(c["aad"]), h(c["nonce"]), h(c["key"])).hex()
                out.append(c)
            print(json.dumps(out))
            """
        let sealed = try InteropPython.exchange(script: script, request: requests, as: [Case].self)
        #expect(sealed.count == requests.count)
        for item in sealed {
            let opened = try AEAD.open(
                .xChaCha20Poly1305, ciphertext: [UInt8](hex: item.sealed), associatedData: [UInt8](hex: item.aad),
                nonce: [UInt8](hex: item.nonce), key: [UInt8](hex: item.key))
            #expect(opened.hex == item.message)
            let ours = try AEAD.seal(
                .xChaCha20Poly1305, message: [UInt8](hex: item.message), associatedData: [UInt8](hex: item.aad),
                nonce: [UInt8](hex: item.nonce), key: [UInt8](hex: item.key))
            #expect(ours.hex == item.sealed)
        }
    }
}
