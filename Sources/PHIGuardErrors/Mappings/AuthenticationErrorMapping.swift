internal import Logging
public import PHIGuardAuthentication

// PHIGuardAuthentication → public problems. Exhaustive on purpose: a new case does not compile until
// it is mapped here (and the leak scan test lists it).

extension AuthenticationError: PublicErrorMappable {
    /// Rejected credentials and ended sessions are the uniform 401; throttling is 429 (decided per
    /// name and address whether or not the account exists, so it reveals nothing); a new password
    /// that breaks the policy, or a login name that breaks the login-name rules at registration, is 422; a backend failure is 503. Throttling carries `Retry-After`.
    public var errorMapping: MappedError {
        let message = description
        return switch self {
        case .rejected:
            MappedError(.authenticationFailed, internalCode: "auth.rejected", logMessage: message, logLevel: .notice)
        case .sessionEnded:
            MappedError(.authenticationFailed, internalCode: "auth.session_ended", logMessage: message, logLevel: .info)
        case .tryLater(let retryAfter):
            MappedError(
                .rateLimited, internalCode: "auth.try_later", logMessage: message, logLevel: .notice,
                headers: [.retryAfter(retryAfter)])
        case .passwordNotAccepted:
            MappedError(.passwordNotAccepted, internalCode: "auth.password_not_accepted", logMessage: message)
        case .loginNameNotAccepted:
            MappedError(.loginNameNotAccepted, internalCode: "auth.login_name_not_accepted", logMessage: message)
        case .unavailable:
            MappedError(.serviceUnavailable, internalCode: "auth.unavailable", logMessage: message)
        }
    }
}

extension SessionStoreError: PublicErrorMappable {
    /// A store outage is 503; a duplicate or unreadable row is 500.
    public var errorMapping: MappedError {
        let message = description
        return switch self {
        case .unavailable:
            MappedError(.serviceUnavailable, internalCode: "session_store.unavailable", logMessage: message)
        case .duplicate:
            MappedError(.internalError, internalCode: "session_store.duplicate", logMessage: message)
        case .corruptRecord:
            MappedError(.internalError, internalCode: "session_store.corrupt_record", logMessage: message)
        }
    }
}

extension LoginConfigurationError: PublicErrorMappable {
    /// A misconfiguration: 500 with no detail.
    public var errorMapping: MappedError {
        MappedError(.internalError, internalCode: "auth.configuration", logMessage: description)
    }
}

extension AccountDirectoryError: PublicErrorMappable {
    /// An outage is 503; everything else (an unreadable or tampered row, an unknown account given
    /// to an administrative call, an undecryptable secret) is 500 with no detail: the log gets the
    /// description, which names no account.
    public var errorMapping: MappedError {
        let message = description
        return switch self {
        case .unavailable:
            MappedError(.serviceUnavailable, internalCode: "account_directory.unavailable", logMessage: message)
        case .corruptRecord:
            MappedError(.internalError, internalCode: "account_directory.corrupt_record", logMessage: message)
        case .tampered:
            MappedError(.internalError, internalCode: "account_directory.tampered", logMessage: message)
        case .unknownAccount:
            MappedError(.internalError, internalCode: "account_directory.unknown_account", logMessage: message)
        case .secretUnavailable:
            MappedError(.internalError, internalCode: "account_directory.secret_unavailable", logMessage: message)
        }
    }
}

extension CareTeamStoreError: PublicErrorMappable {
    /// An outage is 503; an unreadable or tampered row, or an empty id, is 500 with no detail.
    public var errorMapping: MappedError {
        let message = description
        return switch self {
        case .unavailable:
            MappedError(.serviceUnavailable, internalCode: "care_team_store.unavailable", logMessage: message)
        case .corruptRecord:
            MappedError(.internalError, internalCode: "care_team_store.corrupt_record", logMessage: message)
        case .tampered:
            MappedError(.internalError, internalCode: "care_team_store.tampered", logMessage: message)
        case .emptyIdentifier:
            MappedError(.internalError, internalCode: "care_team_store.empty_identifier", logMessage: message)
        }
    }
}

extension TamperedRowError: PublicErrorMappable {
    /// A row that failed its seal check: 500 with no detail (the log names the table, not the row).
    public var errorMapping: MappedError {
        MappedError(.internalError, internalCode: "sealed_row.tampered", logMessage: description)
    }
}

extension RowSealingKeyError: PublicErrorMappable {
    /// A misconfigured sealing key: 500 with no detail.
    public var errorMapping: MappedError {
        MappedError(.internalError, internalCode: "sealing_key.invalid", logMessage: description)
    }
}
