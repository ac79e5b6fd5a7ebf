public import PHIGuardTOTP

// PHIGuardTOTP → public problems. Exhaustive on purpose: a new case does not compile until it is
// mapped here (and the leak scan lists it). During sign-in, report TOTP failures through
// ErrorReporter.reportAuthenticationFailure so a wrong or malformed code looks like any other
// failed sign-in; these mappings are the answer everywhere else (enrolment, administration).

extension TOTPError: PublicErrorMappable {
    /// A malformed code is an authentication failure; a malformed otpauth URI or label is a bad
    /// request; configuration and memory problems are 500.
    public var errorMapping: MappedError {
        // TOTPError descriptions never include a secret or a code (checked by the TOTP tests).
        let message = description
        return switch self {
        case .malformedCode:
            MappedError(.authenticationFailed, internalCode: "totp.malformed_code", logMessage: message)
        case .malformedURI:
            MappedError(.invalidRequest, internalCode: "totp.malformed_uri", logMessage: message)
        case .invalidLabel:
            MappedError(.invalidRequest, internalCode: "totp.invalid_label", logMessage: message)
        case .invalidSecretLength:
            MappedError(.internalError, internalCode: "totp.invalid_secret_length", logMessage: message)
        case .invalidSecretBitCount:
            MappedError(.internalError, internalCode: "totp.invalid_secret_bits", logMessage: message)
        case .malformedSecret:
            MappedError(.internalError, internalCode: "totp.malformed_secret", logMessage: message)
        case .invalidPeriod:
            MappedError(.internalError, internalCode: "totp.invalid_period", logMessage: message)
        case .invalidWindow:
            MappedError(.internalError, internalCode: "totp.invalid_window", logMessage: message)
        case .timeOutOfRange:
            MappedError(.internalError, internalCode: "totp.time_out_of_range", logMessage: message)
        case .qrEncodingFailed:
            MappedError(.internalError, internalCode: "totp.qr_encoding_failed", logMessage: message)
        case .secureMemoryFailure:
            MappedError(.internalError, internalCode: "totp.secure_memory", logMessage: message)
        }
    }
}

extension TOTPVerifierError: PublicErrorMappable {
    /// The wrapped TOTP error keeps its own mapping; a failing replay store is 503 (fail closed).
    public var errorMapping: MappedError {
        switch self {
        case .totp(let error):
            var mapped = error.errorMapping
            mapped.internalCode = "totp_verifier." + mapped.internalCode
            return mapped
        case .replayStore:
            return MappedError(
                .serviceUnavailable, internalCode: "totp_verifier.replay_store", logMessage: description)
        }
    }
}

extension RecoveryCodeError: PublicErrorMappable {
    /// A malformed recovery code is an authentication failure; a failing store is 503; the rest 500.
    public var errorMapping: MappedError {
        let message = description
        return switch self {
        case .malformedCode:
            MappedError(.authenticationFailed, internalCode: "recovery_code.malformed", logMessage: message)
        case .store:
            MappedError(.serviceUnavailable, internalCode: "recovery_code.store", logMessage: message)
        case .malformedHash:
            MappedError(.internalError, internalCode: "recovery_code.malformed_hash", logMessage: message)
        case .invalidKeyLength:
            MappedError(.internalError, internalCode: "recovery_code.invalid_key", logMessage: message)
        case .invalidCount:
            MappedError(.internalError, internalCode: "recovery_code.invalid_count", logMessage: message)
        case .secureMemoryFailure:
            MappedError(.internalError, internalCode: "recovery_code.secure_memory", logMessage: message)
        }
    }
}
