import Foundation
import PHIGuardTOTP
import Testing

@Suite("Base32 (RFC 4648 §6)")
struct Base32Tests {
    /// RFC 4648 §10 test vectors.
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "MY======"), ("fo", "MZXQ===="), ("foo", "MZXW6==="), ("foob", "MZXW6YQ="),
        ("fooba", "MZXW6YTB"), ("foobar", "MZXW6YTBOI======"),
    ]

    @Test("RFC 4648 §10 vectors encode, padded and unpadded")
    func encodeVectors() {
        for (plain, encoded) in Self.vectors {
            #expect(Base32.encode(Array(plain.utf8), padded: true) == encoded)
            #expect(Base32.encode(Array(plain.utf8)) == encoded.replacingOccurrences(of: "=", with: ""))
        }
    }

    @Test("Decoding is tolerant of padding, lower case and spaces")
    func decodeTolerant() throws {
        for (plain, encoded) in Self.vectors where !plain.isEmpty {
            let bytes = Array(plain.utf8)
            #expect(try Base32.decode(encoded) == bytes)
            #expect(try Base32.decode(encoded.replacingOccurrences(of: "=", with: "")) == bytes)
            #expect(try Base32.decode(encoded.lowercased()) == bytes)
        }
        #expect(try Base32.decode("mzxw 6ytb oi") == Array("foobar".utf8))
        #expect(try Base32.decode(" MZXW6YTB OI====== ") == Array("foobar".utf8))
    }

    @Test("Round trip of random lengths")
    func roundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        for length in 1...80 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(try Base32.decode(Base32.encode(bytes)) == bytes)
            #expect(try Base32.decode(Base32.encode(bytes, padded: true)) == bytes)
        }
    }

    @Test(
        "Malformed text gives typed errors",
        arguments: [
            ("", Base32DecodingError.empty),
            ("   ", .empty),
            ("====", .misplacedPadding),
            ("MZXW1YTB", .invalidCharacter(offset: 4)),
            ("MZXW8YTB", .invalidCharacter(offset: 4)),
            ("MZ-XW6YTB", .invalidCharacter(offset: 2)),
            ("MZXW6YTB\n", .invalidCharacter(offset: 8)),
            ("MZXWé", .invalidCharacter(offset: 4)),
            ("MZ=XW6YTB", .misplacedPadding),
            ("M", .invalidLength),
            ("MZX", .invalidLength),
            ("MZXW6Y", .invalidLength),
            ("MY=====", .invalidPadding),
            ("MY==", .invalidPadding),
            ("MZ", .nonZeroTrailingBits),
            ("MZXW6YTBOJ", .nonZeroTrailingBits),
        ])
    func malformed(text: String, error: Base32DecodingError) {
        #expect(throws: error) { try Base32.decode(text) }
    }

    @Test("A huge input is rejected by length before decoding")
    func huge() {
        let text = String(repeating: "A", count: 10_000_000)
        #expect(throws: Base32DecodingError.tooLong(maximumLength: Base32.maximumEncodedLength)) {
            try Base32.decode(text)
        }
    }
}
