internal import Crypto
internal import PHIGuardCrypto

/// The HOTP function of RFC 4226 §5.3 (HMAC, dynamic truncation, modulo 10^digits), keyed once per use.
///
/// The keyed HMAC state is built once and copied for each counter, so checking a window of
/// candidates costs one key schedule plus two hash compressions per candidate.
struct OneTimePasswordFunction: Sendable {
    private enum Keyed: Sendable {
        case sha1(HMAC<Insecure.SHA1>)
        case sha256(HMAC<SHA256>)
        case sha512(HMAC<SHA512>)
    }

    private let keyed: Keyed
    let digits: OTPDigits

    init(secret: TOTPSecret, algorithm: OTPAlgorithm, digits: OTPDigits) {
        // swift-crypto copies the key into its own zeroing storage; it lives only as long as this value.
        let key = secret.bytes.withUnsafeBytes { SymmetricKey(data: $0) }
        switch algorithm {
        case .sha1: keyed = .sha1(HMAC<Insecure.SHA1>(key: key))
        case .sha256: keyed = .sha256(HMAC<SHA256>(key: key))
        case .sha512: keyed = .sha512(HMAC<SHA512>(key: key))
        }
        self.digits = digits
    }

    /// The code for `counter` as a number below 10^digits.
    func value(counter: UInt64) -> UInt32 {
        switch keyed {
        case .sha1(let hmac): Self.truncate(hmac, counter: counter) % digits.modulus
        case .sha256(let hmac): Self.truncate(hmac, counter: counter) % digits.modulus
        case .sha512(let hmac): Self.truncate(hmac, counter: counter) % digits.modulus
        }
    }

    /// The code for `counter` as a zero-padded string.
    func code(counter: UInt64) -> String {
        let digitBytes = Self.asciiDigits(value(counter: counter), count: digits.rawValue)
        return withUnsafeBytes(of: digitBytes) { String(decoding: $0.prefix(digits.rawValue), as: UTF8.self) }
    }

    /// `value` as `count` ASCII digits, left-aligned in 8 bytes and zero-filled after them.
    static func asciiDigits(_ value: UInt32, count: Int) -> UInt64 {
        var remaining = value
        var packed: UInt64 = 0
        // Little-endian packing: byte i of the tuple is digit i (most significant first).
        for index in stride(from: count - 1, through: 0, by: -1) {
            let digit = UInt64(UInt8(ascii: "0") + UInt8(remaining % 10))
            remaining /= 10
            packed |= digit << UInt64(index * 8)
        }
        return packed.littleEndian
    }

    private static func truncate<H: HashFunction>(_ keyed: HMAC<H>, counter: UInt64) -> UInt32 {
        var hmac = keyed
        withUnsafeBytes(of: counter.bigEndian) { hmac.update(data: $0) }
        let tag = hmac.finalize()
        return tag.withUnsafeBytes { mac -> UInt32 in
            let offset = Int(mac[mac.count - 1] & 0x0F)
            return (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16)
                | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        }
    }
}
