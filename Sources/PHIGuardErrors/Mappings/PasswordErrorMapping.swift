internal import Logging
public import PHIGuardPasswords

// PHIGuardPasswords → public problems. The switch is exhaustive on purpose: a new case in
// PasswordHashingError does not compile until it is mapped here (and the leak scan test lists it).

extension PasswordHashingError: PublicErrorMappable {
    /// Input problems of a new password are 422; overload and cancellation are 503; configuration,
    /// corrupt stored hashes and library failures are 500. (During sign-in, report through
    /// ``ErrorReporter/reportAuthenticationFailure(_:context:correlationID:logger:)`` so all of these are 401.)
    public var errorMapping: MappedError {
        // PasswordHashingError's descriptions never contain a password, pepper, salt or hash.
        let message = description
        return switch self {
        case .emptyPassword:
            MappedError(.passwordNotAccepted, internalCode: "password.empty", logMessage: message)
        case .passwordTooLong:
            MappedError(.passwordNotAccepted, internalCode: "password.too_long", logMessage: message)
        case .invalidParameters:
            MappedError(.internalError, internalCode: "password.invalid_parameters", logMessage: message)
        case .malformedHash(let reason):
            MappedError(
                .internalError, internalCode: "password.malformed_hash", logMessage: message,
                context: ["reason": .value(reason.rawValue)])
        case .unknownPepper:
            MappedError(.internalError, internalCode: "password.unknown_pepper", logMessage: message)
        case .invalidPepper:
            MappedError(.internalError, internalCode: "password.invalid_pepper", logMessage: message)
        case .overloaded:
            MappedError(
                .serviceUnavailable, internalCode: "password.overloaded", logMessage: message, logLevel: .warning)
        case .cancelled:
            MappedError(.serviceUnavailable, internalCode: "password.cancelled", logMessage: message, logLevel: .info)
        case .argon2Failure:
            MappedError(.internalError, internalCode: "password.argon2_failure", logMessage: message)
        case .secureMemoryFailure:
            MappedError(.internalError, internalCode: "password.secure_memory_failure", logMessage: message)
        case .invalidEncoding:
            MappedError(.passwordNotAccepted, internalCode: "password.invalid_encoding", logMessage: message)
        }
    }
}
