public import PHIGuardAudit

// PHIGuardAudit → public problems. When the audit sink fails, PHI reads that require auditing are
// refused (fail closed): the user sees 503 and may retry; the log says which failure it was.

extension AuditError: PublicErrorMappable {
    /// Sink and storage failures are 503; malformed events, keys and checkpoints are 500.
    public var errorMapping: MappedError {
        // AuditError descriptions are fixed texts, never identifiers or rows.
        let message = description
        return switch self {
        case .sinkUnavailable:
            MappedError(.serviceUnavailable, internalCode: "audit.sink_unavailable", logMessage: message)
        case .sinkFailed:
            MappedError(.serviceUnavailable, internalCode: "audit.sink_failed", logMessage: message)
        case .closed:
            MappedError(.serviceUnavailable, internalCode: "audit.closed", logMessage: message)
        case .unwrittenEvents:
            MappedError(.serviceUnavailable, internalCode: "audit.unwritten_events", logMessage: message)
        case .storageFailure:
            MappedError(.serviceUnavailable, internalCode: "audit.storage_failure", logMessage: message)
        case .invalidIdentifier:
            MappedError(.internalError, internalCode: "audit.invalid_identifier", logMessage: message)
        case .invalidEvent:
            MappedError(.internalError, internalCode: "audit.invalid_event", logMessage: message)
        case .invalidKey:
            MappedError(.internalError, internalCode: "audit.invalid_key", logMessage: message)
        case .secureMemoryFailure:
            MappedError(.internalError, internalCode: "audit.secure_memory", logMessage: message)
        case .malformedCheckpoint:
            MappedError(.internalError, internalCode: "audit.malformed_checkpoint", logMessage: message)
        }
    }
}
