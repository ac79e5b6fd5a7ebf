public import PHIGuardErrors

// PostgresConnectionError → public problems. Exhaustive on purpose: a new case does not compile until
// it is mapped here. The log line is the case's fixed description (never the URL, a password or a
// server message); the public text is the problem's own.

extension PostgresConnectionError: PublicErrorMappable {
    /// A server that cannot be reached, refuses the session, fails TLS or authentication, or times out
    /// is 503 (the service is unavailable until an operator acts); a URL PHIGuard refuses to use is a
    /// configuration error, 500. Neither tells the client which.
    public var errorMapping: MappedError {
        let message = description
        return switch self {
        case .malformedURL:
            MappedError(.internalError, internalCode: "postgres.malformed_url", logMessage: message)
        case .unsupportedParameter:
            MappedError(.internalError, internalCode: "postgres.unsupported_parameter", logMessage: message)
        case .unsupportedSSLMode:
            MappedError(.internalError, internalCode: "postgres.unsupported_sslmode", logMessage: message)
        case .unreadableRootCertificate:
            MappedError(.internalError, internalCode: "postgres.unreadable_root_certificate", logMessage: message)
        case .tlsHandshakeFailed:
            MappedError(.serviceUnavailable, internalCode: "postgres.tls_handshake_failed", logMessage: message)
        case .tlsUnsupportedByServer:
            MappedError(.serviceUnavailable, internalCode: "postgres.tls_unsupported", logMessage: message)
        case .refusedByServer:
            MappedError(.serviceUnavailable, internalCode: "postgres.refused", logMessage: message)
        case .authenticationFailed:
            MappedError(.serviceUnavailable, internalCode: "postgres.authentication_failed", logMessage: message)
        case .unreachable:
            MappedError(.serviceUnavailable, internalCode: "postgres.unreachable", logMessage: message)
        case .timedOut:
            MappedError(.serviceUnavailable, internalCode: "postgres.timed_out", logMessage: message)
        case .failed:
            MappedError(.serviceUnavailable, internalCode: "postgres.connection_failed", logMessage: message)
        }
    }
}
