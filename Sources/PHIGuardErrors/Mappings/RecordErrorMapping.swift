public import PHIGuardRecords

// PHIGuardRecords → public problems. Exhaustive on purpose: a new case does not compile until it is
// mapped here (and the leak scan lists it).

extension RecordError: PublicErrorMappable {
    /// A missing or denied record is 404 ``PublicProblem/notFound`` (one answer for both, whatever the
    /// resource-denial setting: the guarded API never tells them apart); fields the decision does not
    /// grant are 403; a bad field name or id is 400; an existing id on create is 409; an audit log or
    /// store that cannot be written is 503 (nothing was returned or written); a stored field that does
    /// not decrypt, or a value that cannot be sealed, is 500. A refused list query (a filter, sort or
    /// search on a field the principal may not read, an empty search, a bad page size) and a tampered
    /// cursor are 400, the same for every reason; a plan that cannot be translated to SQL, a store that
    /// cannot list, and a list that disagreed with the engine are 500.
    public var errorMapping: MappedError {
        // RecordError descriptions name fields and store types, never values; they go to the log only.
        let message = description
        return switch self {
        case .notFoundOrDenied:
            MappedError(.notFound, internalCode: "records.not_found_or_denied", logMessage: message)
        case .fieldsNotPermitted:
            MappedError(.accessDenied, internalCode: "records.fields_not_permitted", logMessage: message)
        case .invalidField:
            MappedError(.invalidRequest, internalCode: "records.invalid_field", logMessage: message)
        case .invalidIdentifier:
            MappedError(.invalidRequest, internalCode: "records.invalid_identifier", logMessage: message)
        case .alreadyExists:
            MappedError(.conflict, internalCode: "records.already_exists", logMessage: message)
        case .auditUnavailable:
            MappedError(.serviceUnavailable, internalCode: "records.audit_unavailable", logMessage: message)
        case .storeUnavailable:
            MappedError(.serviceUnavailable, internalCode: "records.store_unavailable", logMessage: message)
        case .corruptRecord:
            MappedError(.internalError, internalCode: "records.corrupt_record", logMessage: message)
        case .encryptionFailed:
            MappedError(.internalError, internalCode: "records.encryption_failed", logMessage: message)
        case .queryRefused:
            MappedError(.invalidRequest, internalCode: "records.query_refused", logMessage: message)
        case .invalidCursor:
            MappedError(.invalidRequest, internalCode: "records.invalid_cursor", logMessage: message)
        case .planUntranslatable:
            MappedError(.internalError, internalCode: "records.plan_untranslatable", logMessage: message)
        case .listingUnsupported:
            MappedError(.internalError, internalCode: "records.listing_unsupported", logMessage: message)
        case .listInconsistent:
            MappedError(.internalError, internalCode: "records.list_inconsistent", logMessage: message)
        }
    }
}

extension EmergencyAccessError: PublicErrorMappable {
    /// A refused invocation keeps the `BreakGlassError` mapping (403 ``PublicProblem/breakGlassRefused``,
    /// 422 for a justification, 400 for a duration or scope); an unknown grant is 404; a reviewer the
    /// grant may not be changed by is the reporter's resource denial (403 or 404); a second review is
    /// 409; a review outcome that is not an identifier is 400; an audit log or grant store that
    /// cannot be written is 503 (nothing was done); a justification that does not seal or open is 500.
    public var errorMapping: MappedError {
        // EmergencyAccessError descriptions are fixed texts (the store's carries no value).
        let message = description
        switch self {
        case .refused(let error):
            var mapped = error.errorMapping
            mapped.internalCode = "emergency." + mapped.internalCode
            return mapped
        case .auditUnavailable:
            return MappedError(.serviceUnavailable, internalCode: "emergency.audit_unavailable", logMessage: message)
        case .storeUnavailable:
            return MappedError(.serviceUnavailable, internalCode: "emergency.store_unavailable", logMessage: message)
        case .encryptionFailed:
            return MappedError(.internalError, internalCode: "emergency.encryption_failed", logMessage: message)
        case .notFound:
            return MappedError(.notFound, internalCode: "emergency.not_found", logMessage: message)
        case .notPermitted:
            return .resourceDenied(internalCode: "emergency.not_permitted", logMessage: message)
        case .alreadyReviewed:
            return MappedError(.conflict, internalCode: "emergency.already_reviewed", logMessage: message)
        case .invalidOutcome:
            return MappedError(.invalidRequest, internalCode: "emergency.invalid_outcome", logMessage: message)
        case .corruptGrant:
            return MappedError(.internalError, internalCode: "emergency.corrupt_grant", logMessage: message)
        }
    }
}
