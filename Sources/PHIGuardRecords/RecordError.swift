/// Why a guarded read or write did not happen. No case carries a value, and the ids it names are
/// the caller's own input: descriptions are safe to log.
public enum RecordError: Error, Sendable, Hashable, CustomStringConvertible {
    /// There is no such record, or the principal may not perform the action on it. One answer for
    /// both, so a caller cannot probe which records exist.
    case notFoundOrDenied
    /// An update or create sets fields the decision does not grant (names listed, sorted). Nothing was
    /// written; the attempt is audited as denied.
    case fieldsNotPermitted([String])
    /// A change names a field the schema does not have, or one that cannot be changed (a resource
    /// attribute or the labels after creation).
    case invalidField(String)
    /// A record or patient id is not a valid audit identifier (1–128 bytes of `A–Z a–z 0–9 . _ - : / @`).
    case invalidIdentifier
    /// A record with this id already exists (create).
    case alreadyExists
    /// The audit event could not be committed: nothing was returned or written (fail closed).
    case auditUnavailable
    /// The record store failed (the type of its error only).
    case storeUnavailable(String)
    /// A stored field could not be decrypted or read (tampered, moved, or of the wrong type): the
    /// field's name only.
    case corruptRecord(field: String)
    /// A value could not be encrypted (too long, or secure memory unavailable).
    case encryptionFailed(field: String)
    /// A list or count query was refused before it ran, whatever the data: it filters, sorts or
    /// searches on a field the principal may not read, searches an encrypted field without a blind
    /// index, searches for an empty value, or asks for an invalid page size. The refusal is audited.
    case queryRefused(String)
    /// The plan cannot be translated to SQL for this schema and store (the rule id and construct).
    case planUntranslatable(String)
    /// A list cursor was tampered with, made by another key, or belongs to another query.
    case invalidCursor
    /// The store cannot run list queries (neither a SQL record store nor ``InMemoryRecordStore``).
    case listingUnsupported
    /// A row the SQL filter returned is not allowed by the engine (a translation defect, or the policy
    /// or time changed during the query): nothing was returned.
    case listInconsistent

    /// A fixed text for the case.
    public var description: String {
        switch self {
        case .notFoundOrDenied: "no such record, or not permitted"
        case .fieldsNotPermitted(let fields): "not permitted to change fields \(fields)"
        case .invalidField(let field): "field '\(field)' cannot be set here"
        case .invalidIdentifier: "a record or patient id is not a valid identifier"
        case .alreadyExists: "a record with this id already exists"
        case .auditUnavailable: "the audit record could not be committed; nothing was done"
        case .storeUnavailable(let type): "record store unavailable (\(type))"
        case .corruptRecord(let field): "stored field '\(field)' could not be read"
        case .encryptionFailed(let field): "field '\(field)' could not be encrypted"
        case .queryRefused(let reason): "query refused: \(reason)"
        case .planUntranslatable(let reason): "the access plan cannot be translated: \(reason)"
        case .invalidCursor: "the list cursor is invalid"
        case .listingUnsupported: "this record store cannot run list queries"
        case .listInconsistent: "the list query disagreed with the access engine; nothing was returned"
        }
    }
}
