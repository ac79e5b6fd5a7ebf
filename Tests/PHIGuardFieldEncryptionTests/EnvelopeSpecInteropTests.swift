import Foundation
import PHIGuardTestSupport
import Testing

@testable import PHIGuardFieldEncryption

/// The documented envelope format and key derivation, reimplemented in Python from the spec with
/// PyNaCl and hashlib: Python opens PHIGuard's envelopes and writes envelopes PHIGuard opens.
@Suite("Envelope spec interop (PyNaCl)", .enabled(if: InteropPython.shouldRun))
struct EnvelopeSpecInteropTests {
    struct Item: Codable {
        var table: String
        var recordID: String
        var field: String
        var extra: String?
        var plaintext: String
        var envelope: String
    }

    struct Request: Codable {
        var root: String
        var keyID: String
        var items: [Item]
    }

    struct Response: Codable {
        var opened: [String]
        var written: [Item]
    }

    static let script = """
        import json, sys, hashlib, struct, os
        from nacl.bindings import (crypto_aead_xchacha20poly1305_ietf_encrypt as enc,
            crypto_aead_xchacha20poly1305_ietf_decrypt as dec, crypto_generichash_blake2b_salt_personal as b2)
        def lp(s):
            b = s.encode(); return struct.pack(">I", len(b)) + b
        def subkey(root, table, field):
            d = hashlib.blake2b(b"PHIGuard.kdf.v1" + lp("field-encryption") + lp(table) + lp(field) + lp(""),
                                digest_size=16).digest()
            ctx, sid = d[:8], d[8:16]          # subkey id = little-endian UInt64 of d[8:16]: its bytes as is
            return b2(b"", 32, root, sid + bytes(8), ctx + bytes(8))
        def context(i):
            ad = b"PHIGuard.field.v1" + lp(i["table"]) + lp(i["recordID"]) + lp(i["field"])
            return ad + (b"\\x00" if i.get("extra") is None else b"\\x01" + lp(i["extra"]))
        req = json.load(sys.stdin)
        root = bytes.fromhex(req["root"])
        opened, written = [], []
        for i in req["items"]:
            e = bytes.fromhex(i["envelope"])
            assert e[0] == 1
            L = e[1]; header = e[:2 + L + 24]; nonce = header[2 + L:]
            assert header[2:2 + L].decode() == req["keyID"]
            k = subkey(root, i["table"], i["field"])
            opened.append(dec(e[len(header):], header + context(i), nonce, k).decode())
            kid = req["keyID"].encode(); nonce = os.urandom(24)
            header = bytes([1, len(kid)]) + kid + nonce
            ct = enc(i["plaintext"].encode(), header + context(i), nonce, k)
            w = dict(i); w["envelope"] = (header + ct).hex(); written.append(w)
        print(json.dumps({"opened": opened, "written": written}))
        """

    @Test("Python opens PHIGuard envelopes and PHIGuard opens Python's, from the spec alone")
    func bothWays() throws {
        let rootBytes = (0..<32).map { _ in UInt8.random(in: 0...255) }
        var copy = rootBytes
        let encryptor = FieldEncryptor(keyring: try Keyring(active: try FieldKey(id: "2026-11", bytes: &copy)))
        let contexts = [
            FieldContext(table: "patients", recordID: "42", field: "ssn"),
            FieldContext(table: "patients", recordID: "42", field: "diagnosis", extra: "tenant-7"),
            FieldContext(table: "visits", recordID: "ü-9", field: "note", extra: ""),
        ]
        let plaintexts = ["078-05-1120", "", String(repeating: "Ünïcødé note. ", count: 40)]
        var items: [Item] = []
        for (context, plaintext) in zip(contexts, plaintexts) {
            items.append(
                Item(
                    table: context.table, recordID: context.recordID, field: context.field, extra: context.extra,
                    plaintext: plaintext, envelope: try encryptor.encrypt(plaintext, context: context).bytes.hex))
        }
        let response = try InteropPython.exchange(
            script: Self.script, request: Request(root: rootBytes.hex, keyID: "2026-11", items: items),
            as: Response.self)
        #expect(response.opened == plaintexts)
        #expect(response.written.count == items.count)
        for (item, context) in zip(response.written, contexts) {
            let envelope = try FieldEnvelope(bytes: [UInt8](hex: item.envelope))
            #expect(try encryptor.decryptString(envelope, context: context) == item.plaintext)
        }
    }
}
