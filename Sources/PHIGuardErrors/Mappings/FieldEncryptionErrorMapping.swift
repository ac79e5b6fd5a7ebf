public import PHIGuardFieldEncryption

// PHIGuardFieldEncryption → public problems. A field that fails to decrypt is tampering, corruption
// or a key problem on the server side: the user sees a generic 500 and the log gets the internal
// code (never ciphertext, plaintext or key bytes; key-file paths go to the log only).

extension FieldEncryptionError: PublicErrorMappable {
    /// Too-long input is a bad request; everything else is 500.
    public var errorMapping: MappedError {
        let message = description
        return switch self {
        case .plaintextTooLong:
            MappedError(.invalidRequest, internalCode: "field_encryption.plaintext_too_long", logMessage: message)
        case .decryptionFailed:
            MappedError(.internalError, internalCode: "field_encryption.decryption_failed", logMessage: message)
        case .invalidContext:
            MappedError(.internalError, internalCode: "field_encryption.invalid_context", logMessage: message)
        case .invalidKey:
            MappedError(.internalError, internalCode: "field_encryption.invalid_key", logMessage: message)
        case .verificationFailed:
            MappedError(.internalError, internalCode: "field_encryption.verification_failed", logMessage: message)
        case .secureMemoryFailure:
            MappedError(.internalError, internalCode: "field_encryption.secure_memory", logMessage: message)
        }
    }
}

extension KeyProviderError: PublicErrorMappable {
    /// Key material problems are server configuration: 500, with the path in the log only.
    public var errorMapping: MappedError {
        let code =
            switch self {
            case .fileNotFound: "key_provider.file_not_found"
            case .unreadable: "key_provider.unreadable"
            case .insecurePermissions: "key_provider.insecure_permissions"
            case .notRegularFile: "key_provider.not_regular_file"
            case .tooLarge: "key_provider.too_large"
            case .malformed: "key_provider.malformed"
            case .variableNotSet: "key_provider.variable_not_set"
            case .fileExists: "key_provider.file_exists"
            case .writeFailed: "key_provider.write_failed"
            case .invalidKeyring: "key_provider.invalid_keyring"
            }
        return MappedError(.internalError, internalCode: code, logMessage: description)
    }
}

extension BlindIndexError: PublicErrorMappable {
    /// Blind-index configuration errors are 500.
    public var errorMapping: MappedError {
        let code =
            switch self {
            case .invalidBitLength: "blind_index.invalid_bit_length"
            case .invalidName: "blind_index.invalid_name"
            case .populationTooSmall: "blind_index.population_too_small"
            case .keyDerivationFailed: "blind_index.key_derivation_failed"
            }
        return MappedError(.internalError, internalCode: code, logMessage: description)
    }
}
