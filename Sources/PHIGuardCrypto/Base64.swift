internal import CSodium

/// Base64 through libsodium's constant-time codec (`sodium_bin2base64` / `sodium_base642bin`).
///
/// Decoding is strict: the whole input must be consumed, no characters are ignored, and
/// non-zero padding bits are rejected, so each byte string has exactly one accepted encoding.
package enum Base64 {
    /// The alphabets and padding rules libsodium offers.
    package enum Variant: Sendable {
        /// RFC 4648 §4 alphabet with `=` padding.
        case standard
        /// RFC 4648 §4 alphabet without padding (PHC strings).
        case standardUnpadded
        /// RFC 4648 §5 URL-safe alphabet without padding.
        case urlSafeUnpadded

        var sodiumValue: Int32 {
            switch self {
            case .standard: Int32(sodium_base64_VARIANT_ORIGINAL)
            case .standardUnpadded: Int32(sodium_base64_VARIANT_ORIGINAL_NO_PADDING)
            case .urlSafeUnpadded: Int32(sodium_base64_VARIANT_URLSAFE_NO_PADDING)
            }
        }
    }

    /// Encodes `bytes` (any contiguous bytes) in `variant`.
    package static func encode(_ bytes: UnsafeRawBufferPointer, variant: Variant) -> String {
        let capacity = sodium_base64_encoded_len(bytes.count, variant.sodiumValue)
        var output = [CChar](repeating: 0, count: capacity)
        let encoded = output.withUnsafeMutableBufferPointer { out in
            sodium_bin2base64(
                out.baseAddress!, capacity, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count,
                variant.sodiumValue)
        }
        // libsodium returns its output pointer, or aborts on a too-small buffer (sized above).
        precondition(encoded != nil, "sodium_bin2base64 returned NULL")
        return String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Encodes an array of bytes.
    package static func encode(_ bytes: [UInt8], variant: Variant) -> String {
        bytes.withUnsafeBytes { encode($0, variant: variant) }
    }

    /// Decodes `text`, or returns `nil` if it is not exactly a canonical encoding in `variant`.
    package static func decode(_ text: some StringProtocol, variant: Variant) -> [UInt8]? {
        let input = Array(text.utf8)
        if input.isEmpty { return [] }
        var output = [UInt8](repeating: 0, count: input.count / 4 * 3 + 3)
        var written = 0
        var end: UnsafePointer<CChar>? = nil
        let status = input.withUnsafeBufferPointer { inBuffer in
            inBuffer.withMemoryRebound(to: CChar.self) { chars in
                output.withUnsafeMutableBufferPointer { out in
                    let result = sodium_base642bin(
                        out.baseAddress!, out.count, chars.baseAddress, chars.count, nil, &written, &end,
                        variant.sodiumValue)
                    let consumedAll = end.map { $0 == chars.baseAddress! + chars.count } ?? false
                    return result == 0 && consumedAll ? 0 : -1
                }
            }
        }
        guard status == 0 else { return nil }
        output.removeSubrange(written...)
        return output
    }
}
