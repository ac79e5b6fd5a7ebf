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

    /// Decodes the canonical base64 in `text` (surrounding ASCII whitespace ignored) straight into
    /// guarded memory, or returns `nil`. Neither the input nor the output is copied elsewhere, so a
    /// key file's text can go from its `SecretBytes` to the key's `SecretBytes` with no other copy.
    package static func decodeSecret(_ text: UnsafeRawBufferPointer, variant: Variant) -> SecretBytes? {
        guard var start = text.baseAddress else { return nil }
        var count = text.count
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        while count > 0, isSpace(start.load(as: UInt8.self)) {
            start += 1
            count -= 1
        }
        while count > 0, isSpace(start.load(fromByteOffset: count - 1, as: UInt8.self)) { count -= 1 }
        guard count > 0 else { return nil }
        let chars = start.assumingMemoryBound(to: CChar.self)
        var written = 0
        // Decoded into a guarded scratch buffer (the exact length is known only afterwards), then
        // copied into one of the exact length; both are guarded memory, zeroed when released.
        let scratch: SecretBytes
        do {
            scratch = try SecretBytes(count: count / 4 * 3 + 3) { (out) throws(CryptoError) in
                var end: UnsafePointer<CChar>? = nil
                guard let base = out.baseAddress else { throw .invalidLength(what: "base64 text", count: count) }
                let status = sodium_base642bin(
                    base.assumingMemoryBound(to: UInt8.self), out.count, chars, count, nil, &written, &end,
                    variant.sodiumValue)
                guard status == 0, end == UnsafePointer(chars) + count else {
                    throw .invalidLength(what: "base64 text", count: count)
                }
            }
        } catch {
            return nil
        }
        guard written > 0 else { return nil }
        let length = written
        return scratch.withUnsafeBytes { bytes in
            try? SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
        }
    }
}
