/// Everything that can go wrong while recording, storing or verifying audit events.
///
/// No case carries an identifier value, a key or a stored row: descriptions are safe to log.
/// A broken chain is not an error; it is an ``AuditVerificationReport/broken(_:total:)`` result.
public enum AuditError: Error, Sendable, Hashable, CustomStringConvertible {
    /// An event field is not a valid identifier (see ``AuditIdentifier``). Only the field name is given.
    case invalidIdentifier(field: String)
    /// An event is inconsistent (for example a break-glass reason without the break-glass flag).
    case invalidEvent(String)
    /// The sink is failing: the event was not recorded. Callers that require auditing must refuse
    /// the operation (``AuditLog/performAudited(_:_:)`` does).
    case sinkUnavailable
    /// The sink failed to commit the batch holding this event. The event stays queued and is retried,
    /// but the caller must treat the operation as unaudited (and refuse it when auditing is required).
    case sinkFailed
    /// The log was closed; no more events are accepted.
    case closed
    /// ``AuditLog/close()`` could not write `count` queued events because the sink kept failing.
    /// They were not dropped silently: this error is the report.
    case unwrittenEvents(count: Int)
    /// A key is malformed (wrong length, not base64).
    case invalidKey(String)
    /// libsodium could not be initialised or guarded memory could not be allocated.
    case secureMemoryFailure(String)
    /// Reading a stored log failed (the storage, not the chain: a broken chain is a report).
    case storageFailure(String)
    /// A checkpoint (or checkpoint file line) is malformed.
    case malformedCheckpoint(String)

    /// A fixed, safe text for the case (never a value, key or row).
    public var description: String {
        switch self {
        case .invalidIdentifier(let field): "audit field '\(field)' is not a valid identifier"
        case .invalidEvent(let reason): "invalid audit event: \(reason)"
        case .sinkUnavailable: "audit sink is unavailable; the event was not recorded"
        case .sinkFailed: "audit sink failed to commit the event"
        case .closed: "audit log is closed"
        case .unwrittenEvents(let count): "\(count) audit events could not be written before close"
        case .invalidKey(let reason): "invalid audit key: \(reason)"
        case .secureMemoryFailure(let reason): "secure memory failure: \(reason)"
        case .storageFailure(let reason): "audit storage failure: \(reason)"
        case .malformedCheckpoint(let reason): "malformed audit checkpoint: \(reason)"
        }
    }
}
