internal import CArgon2
internal import PHIGuardCrypto

/// The single place PHIGuard calls libargon2 and converts its error codes.
package enum Argon2 {
    /// Computes an Argon2 tag with `argon2_ctx`, which (unlike `argon2id_hash_raw`) takes the
    /// `secret` (pepper) and associated-data inputs the reference KATs use.
    package static func tag(
        variant: Argon2Variant,
        version: Argon2Version,
        parameters: Argon2Parameters,
        password: UnsafeRawBufferPointer,
        salt: [UInt8],
        secret: UnsafeRawBufferPointer? = nil,
        associatedData: [UInt8] = [],
        tagLength: Int
    ) throws(PasswordHashingError) -> [UInt8] {
        var tag = [UInt8](repeating: 0, count: tagLength)
        var salt = salt
        var associatedData = associatedData
        let status: Int32 = tag.withUnsafeMutableBufferPointer { out in
            salt.withUnsafeMutableBufferPointer { saltBuffer in
                associatedData.withUnsafeMutableBufferPointer { adBuffer in
                    var context = argon2_context(
                        out: out.baseAddress, outlen: UInt32(tagLength),
                        pwd: mutableBytes(password), pwdlen: UInt32(password.count),
                        salt: saltBuffer.baseAddress, saltlen: UInt32(saltBuffer.count),
                        secret: secret.flatMap(mutableBytes), secretlen: UInt32(secret?.count ?? 0),
                        ad: adBuffer.baseAddress, adlen: UInt32(adBuffer.count),
                        t_cost: parameters.iterations, m_cost: parameters.memoryKiB,
                        lanes: parameters.parallelism, threads: parameters.parallelism,
                        version: version.rawValue,
                        allocate_cbk: nil, free_cbk: nil,
                        flags: 0)  // ARGON2_DEFAULT_FLAGS: never wipe inputs (they may be read-only)
                    return argon2_ctx(&context, variant.cType)
                }
            }
        }
        guard status == ARGON2_OK.rawValue else {
            Sodium.zero(&tag)
            throw .argon2Failure(code: status, message: String(cString: argon2_error_message(status)))
        }
        return tag
    }

    /// libargon2 takes `uint8_t *` for inputs it only reads (it writes them only with the CLEAR
    /// flags, which PHIGuard never sets), so read-only secret memory is safe to pass.
    private static func mutableBytes(_ buffer: UnsafeRawBufferPointer) -> UnsafeMutablePointer<UInt8>? {
        buffer.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: UInt8.self)) }
    }
}

extension Argon2Variant {
    var cType: argon2_type {
        switch self {
        case .argon2d: Argon2_d
        case .argon2i: Argon2_i
        case .argon2id: Argon2_id
        }
    }
}
