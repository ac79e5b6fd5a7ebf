// Mappings for this module's own authentication and authorization errors.

extension AuthenticationFailure: PublicErrorMappable {
    /// Always ``PublicProblem/authenticationFailed``; the reason goes to the log only.
    public var errorMapping: MappedError {
        MappedError(
            .authenticationFailed, internalCode: "auth.\(reason.rawValue)", logMessage: description,
            underlying: underlying)
    }
}

extension AccessDenial: PublicErrorMappable {
    /// A resource: 403 or 404 by ``ResourceDenialPolicy``; an action: 403.
    public var errorMapping: MappedError {
        var context = ErrorContext()
        if !decidingRules.isEmpty { context.add("deciding_rules", .value(decidingRules.joined(separator: ","))) }
        switch target {
        case .resource(let type, let id):
            context.add("resource_type", .value(type))
            if let id { context.add("resource_id", .value(id)) }
            return .resourceDenied(
                internalCode: "access.denied_resource", logMessage: "access denied", context: context)
        case .action(let action):
            context.add("action", .value(action))
            return MappedError(
                .accessDenied, internalCode: "access.denied_action", logMessage: "access denied", context: context)
        }
    }
}

extension ResourceNotFound: PublicErrorMappable {
    /// Always 404 ``PublicProblem/notFound``.
    public var errorMapping: MappedError {
        var context: ErrorContext = ["resource_type": .value(resourceType)]
        if let id { context.add("resource_id", .value(id)) }
        return MappedError(
            .notFound, internalCode: "resource.not_found", logMessage: "resource not found", context: context)
    }
}
