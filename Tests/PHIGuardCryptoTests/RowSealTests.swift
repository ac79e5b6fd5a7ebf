import Testing

@testable import PHIGuardCrypto

@Suite("Row seals")
struct RowSealTests {
    static func sealer() throws -> RowSealer {
        var key = [UInt8](repeating: 0x42, count: RowSealer.keyByteCount)
        let sealer = try RowSealer(key: &key)
        #expect(key.allSatisfy { $0 == 0 }, "the caller's key copy is zeroed")
        return sealer
    }

    @Test("the encoding is unambiguous: splits, absent vs empty, lists vs fields, types all differ")
    func unambiguous() {
        let pairs: [([RowSealField], [RowSealField])] = [
            ([.text("ab"), .text("c")], [.text("a"), .text("bc")]),
            ([.absent], [.text("")]),
            ([.texts(["a", "b"])], [.text("a"), .text("b")]),
            ([.texts(["a,b"])], [.texts(["a", "b"])]),
            ([.integer(1)], [.bool(true)]),
            ([.bytes([0x61])], [.text("a")]),
            ([.map(["a": "b"])], [.texts(["a", "b"])]),
            ([.map(["ab": "c"])], [.map(["a": "bc"])]),
            ([], [.absent]),
        ]
        for (left, right) in pairs {
            #expect(
                RowSealer.encode(purpose: "t", rowID: "1", fields: left)
                    != RowSealer.encode(purpose: "t", rowID: "1", fields: right), "\(left) vs \(right)")
        }
        // The purpose/row id boundary is length-prefixed too.
        #expect(
            RowSealer.encode(purpose: "ab", rowID: "c", fields: [])
                != RowSealer.encode(purpose: "a", rowID: "bc", fields: []))
        // Maps do not depend on insertion order.
        var forward: [String: String] = [:]
        var backward: [String: String] = [:]
        for index in 0..<50 { forward["k\(index)"] = "v\(index)" }
        for index in (0..<50).reversed() { backward["k\(index)"] = "v\(index)" }
        #expect(
            RowSealer.encode(purpose: "t", rowID: "1", fields: [.map(forward)])
                == RowSealer.encode(purpose: "t", rowID: "1", fields: [.map(backward)]))
    }

    @Test("a seal verifies only for its purpose, row id, fields and key")
    func binding() throws {
        let sealer = try Self.sealer()
        let fields: [RowSealField] = [.text("p-1"), .texts(["patient"]), .bool(false)]
        let seal = sealer.seal(purpose: "accounts.v1", rowID: "a-1", fields: fields)
        #expect(seal.count == RowSealer.sealByteCount)
        #expect(sealer.verify(seal, purpose: "accounts.v1", rowID: "a-1", fields: fields))
        #expect(!sealer.verify(seal, purpose: "sessions.v1", rowID: "a-1", fields: fields))
        #expect(!sealer.verify(seal, purpose: "accounts.v1", rowID: "a-2", fields: fields))
        #expect(
            !sealer.verify(
                seal, purpose: "accounts.v1", rowID: "a-1", fields: [.text("p-2"), .texts(["patient"]), .bool(false)]))
        #expect(!sealer.verify(nil, purpose: "accounts.v1", rowID: "a-1", fields: fields))
        #expect(!sealer.verify(Array(seal.prefix(16)), purpose: "accounts.v1", rowID: "a-1", fields: fields))
        var flipped = seal
        flipped[31] ^= 1
        #expect(!sealer.verify(flipped, purpose: "accounts.v1", rowID: "a-1", fields: fields))
        let other = try RowSealer(randomKey: ())
        #expect(!other.verify(seal, purpose: "accounts.v1", rowID: "a-1", fields: fields))
        // Keyed BLAKE2b-256 of the encoding, nothing hand-rolled.
        var key = [UInt8](repeating: 0x42, count: 32)
        let expected = try BLAKE2b.hash(
            RowSealer.encode(purpose: "accounts.v1", rowID: "a-1", fields: fields), key: key, outputCount: 32)
        Sodium.zero(&key)
        #expect(seal == expected)
    }

    @Test("keys of the wrong length are refused")
    func keyLength() {
        var short = [UInt8](repeating: 1, count: 16)
        #expect(throws: SecureMemoryError.self) { _ = try RowSealer(key: &short) }
        #expect(short.allSatisfy { $0 == 0 })
    }
}
