internal import PHIGuardCrypto

/// Unpadded Base64url through libsodium's strict codec.
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Base64.encode(bytes, variant: .urlSafeUnpadded)
    }

    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        Base64.decode(text, variant: .urlSafeUnpadded)
    }
}
