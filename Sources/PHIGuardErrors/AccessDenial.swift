/// A denied access decision.
///
/// A denied resource renders as 403 or 404 by the reporter's ``ResourceDenialPolicy``; a denied
/// action (not tied to one resource) is always 403. Type and id are identifiers and are logged;
/// never put a PHI value (a name, a note's text) in them.
public struct AccessDenial: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was denied.
    public enum Target: Sendable, Hashable {
        /// A resource, such as `Patient` `p-1042`.
        case resource(type: String, id: String?)
        /// An action not tied to one resource, such as `policy.reload`.
        case action(String)
    }

    /// What was denied.
    public var target: Target
    /// The ids of the rules that decided (logged).
    public var decidingRules: [String]

    /// A denied resource.
    public init(resourceType: String, id: String? = nil, decidingRules: [String] = []) {
        target = .resource(type: resourceType, id: id)
        self.decidingRules = decidingRules
    }

    /// A denied action.
    public init(action: String, decidingRules: [String] = []) {
        target = .action(action)
        self.decidingRules = decidingRules
    }

    /// `access denied to <type> <id>` or `access denied: <action>` (internal; identifiers only).
    public var description: String {
        switch target {
        case .resource(let type, let id): "access denied to \(type)" + (id.map { " \($0)" } ?? "")
        case .action(let action): "access denied: \(action)"
        }
    }
}

/// A resource that does not exist. Renders as 404 ``PublicProblem/notFound``, exactly like a
/// denied resource under ``ResourceDenialPolicy/notFound``.
public struct ResourceNotFound: Error, Sendable, Hashable, CustomStringConvertible {
    /// The resource type, such as `Patient`.
    public var resourceType: String
    /// The id that was asked for, if any.
    public var id: String?

    /// A missing resource.
    public init(resourceType: String, id: String? = nil) {
        self.resourceType = resourceType
        self.id = id
    }

    /// `<type> <id> not found` (internal; identifiers only).
    public var description: String { "\(resourceType)" + (id.map { " \($0)" } ?? "") + " not found" }
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
