public import PHIGuardAccess

// PHIGuardAccess → public problems. Exhaustive on purpose: a new case does not compile until it is
// mapped here (and the leak scan lists it). A denied decision is not an error: throw AccessDenial
// (this module) for it.

extension BreakGlassError: PublicErrorMappable {
    /// A subject who may not break the glass gets 403 ``PublicProblem/breakGlassRefused``; a missing or
    /// over-long justification is 422 ``PublicProblem/justificationRequired``; a duration outside the
    /// policy's limit, or a scope of no or too many patients, is 400.
    public var errorMapping: MappedError {
        // BreakGlassError descriptions are fixed texts: never the justification or a subject id.
        let message = description
        return switch self {
        case .notPermitted:
            MappedError(.breakGlassRefused, internalCode: "break_glass.not_permitted", logMessage: message)
        case .missingJustification:
            MappedError(
                .justificationRequired, internalCode: "break_glass.missing_justification", logMessage: message)
        case .justificationTooLong:
            MappedError(
                .justificationRequired, internalCode: "break_glass.justification_too_long", logMessage: message)
        case .invalidDuration:
            MappedError(.invalidRequest, internalCode: "break_glass.invalid_duration", logMessage: message)
        case .invalidScope:
            MappedError(.invalidRequest, internalCode: "break_glass.invalid_scope", logMessage: message)
        }
    }
}

extension PolicyValidationError: PublicErrorMappable {
    /// A policy that does not load is a server misconfiguration: 500 with no detail. The log gets the
    /// number of problems, their codes and the first one (policy names and a line:column; no request data).
    public var errorMapping: MappedError {
        var context: ErrorContext = [
            "issue_count": .value(String(issues.count)),
            "issue_codes": .value(Set(issues.map(\.code.rawValue)).sorted().joined(separator: ",")),
        ]
        if let first = issues.first { context.add("first_issue", .value(first.description)) }
        return MappedError(
            .internalError, internalCode: "access.policy_invalid", logMessage: "access policy rejected",
            context: context)
    }
}

extension PolicyTestSuite.LoadError: PublicErrorMappable {
    /// A policy test file that does not load: 500 with no detail (the decoder's message is logged).
    public var errorMapping: MappedError {
        MappedError(
            .internalError, internalCode: "access.policy_tests_unreadable", logMessage: "policy test file unreadable",
            context: ["reason": .value(message)])
    }
}

extension AccessRequestDocument.Problem: PublicErrorMappable {
    /// A malformed time is 400; a refused break-glass keeps the ``BreakGlassError`` mapping.
    public var errorMapping: MappedError {
        switch self {
        case .invalidTime:
            return MappedError(.invalidRequest, internalCode: "access.request_invalid_time", logMessage: description)
        case .breakGlass(let error):
            var mapped = error.errorMapping
            mapped.internalCode = "access.request." + mapped.internalCode
            return mapped
        }
    }
}
