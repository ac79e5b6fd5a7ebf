internal import PHIGuardCrypto

/// RFC 4648 §6 Base32 (`A–Z 2–7`), the encoding of TOTP secrets in `otpauth://` URIs.
///
/// Decoding is strict about the alphabet and tolerant of how people copy secrets: spaces are
/// ignored, lower case is accepted, and the `=` padding may be left out. Anything else is a typed
/// ``Base32DecodingError``: characters outside the alphabet, padding in the middle, a length no
/// encoder produces, or non-zero trailing bits (so each byte string has exactly one accepted
/// spelling, up to case, spaces and padding).
///
/// ```swift
/// Base32.encode([0x48, 0x69])               // "JBUQ"
/// try Base32.decode("jbuq")                 // [0x48, 0x69]
/// try Base32.decode("JBUQ====")             // [0x48, 0x69]
/// ```
public enum Base32 {
    /// The longest text ``decode(_:)`` accepts, in UTF-8 bytes (a DoS bound; 8 KiB secrets are far beyond any use).
    public static let maximumEncodedLength = 16_384

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// Encodes `bytes` without padding, as Google Authenticator's Key URI format asks.
    public static func encode(_ bytes: some Collection<UInt8>, padded: Bool = false) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 4) / 5 * 8)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                output.append(alphabet[Int((buffer >> UInt32(bits)) & 0x1F)])
            }
            buffer &= (1 << UInt32(bits)) - 1
        }
        if bits > 0 {
            output.append(alphabet[Int((buffer << UInt32(5 - bits)) & 0x1F)])
        }
        if padded {
            while output.count % 8 != 0 { output.append(UInt8(ascii: "=")) }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes Base32 text (see the type's rules). The caller should zero the result if it is a secret.
    public static func decode(_ text: some StringProtocol) throws(Base32DecodingError) -> [UInt8] {
        let utf8 = text.utf8
        guard utf8.count <= maximumEncodedLength else { throw .tooLong(maximumLength: maximumEncodedLength) }
        var output: [UInt8] = []
        output.reserveCapacity(utf8.count * 5 / 8)
        var buffer: UInt32 = 0
        var bits = 0
        var symbols = 0
        var padding = 0
        for (offset, character) in utf8.enumerated() {
            if character == UInt8(ascii: " ") { continue }
            if character == UInt8(ascii: "=") {
                padding += 1
                continue
            }
            guard padding == 0 else { throw .misplacedPadding }
            let value: UInt32
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(character - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(character - UInt8(ascii: "a"))
            case UInt8(ascii: "2")...UInt8(ascii: "7"): value = UInt32(character - UInt8(ascii: "2")) + 26
            default: throw .invalidCharacter(offset: offset)
            }
            buffer = (buffer << 5) | value
            bits += 5
            symbols += 1
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        guard symbols > 0 else {
            if padding > 0 { throw .misplacedPadding }
            throw .empty
        }
        // Encoders only produce 0, 2, 4, 5 or 7 symbols in the last group of 8 (RFC 4648 §6).
        let expectedPadding: Int
        switch symbols % 8 {
        case 0: expectedPadding = 0
        case 2: expectedPadding = 6
        case 4: expectedPadding = 4
        case 5: expectedPadding = 3
        case 7: expectedPadding = 1
        default:
            Sodium.zero(&output)
            throw .invalidLength
        }
        guard padding == 0 || padding == expectedPadding else {
            Sodium.zero(&output)
            throw .invalidPadding
        }
        guard buffer == 0 else {
            Sodium.zero(&output)
            throw .nonZeroTrailingBits
        }
        return output
    }
}

/// Why Base32 text was rejected. The text itself is never echoed (it is usually a secret).
public enum Base32DecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No Base32 symbols at all (empty, or only spaces).
    case empty
    /// Longer than ``Base32/maximumEncodedLength`` UTF-8 bytes.
    case tooLong(maximumLength: Int)
    /// A character outside `A–Z a–z 2–7`, space and `=`, at this UTF-8 byte offset.
    case invalidCharacter(offset: Int)
    /// A symbol after `=` padding, or padding with no symbols before it.
    case misplacedPadding
    /// Padding present but not the amount RFC 4648 requires for this length.
    case invalidPadding
    /// A number of symbols no encoder produces (1, 3 or 6 in the last group of 8).
    case invalidLength
    /// The last symbol carries non-zero bits beyond the final byte (a non-canonical spelling).
    case nonZeroTrailingBits

    /// A description without the text.
    public var description: String {
        switch self {
        case .empty: "no Base32 symbols"
        case .tooLong(let maximum): "longer than \(maximum) bytes"
        case .invalidCharacter(let offset): "invalid character at byte offset \(offset)"
        case .misplacedPadding: "misplaced '=' padding"
        case .invalidPadding: "wrong amount of '=' padding"
        case .invalidLength: "impossible number of Base32 symbols"
        case .nonZeroTrailingBits: "non-zero trailing bits"
        }
    }
}
