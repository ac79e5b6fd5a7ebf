/// One problem found while loading or validating a policy, with where it is.
public struct PolicyIssue: Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem it is (stable, machine-readable).
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The file is not well-formed YAML (or uses a YAML feature the schema forbids).
        case syntax
        /// A key or value has the wrong shape (a list where a name is expected, a missing key, an unknown key).
        case schema
        /// A rule or `inherits` names a role that is not declared.
        case unknownRole
        /// A rule names an action that is not declared or does not apply to the resource type.
        case unknownAction
        /// A rule names a resource type that is not declared.
        case unknownResourceType
        /// A rule names a field its resource type does not have.
        case unknownField
        /// A condition names a sensitivity label that is not declared.
        case unknownLabel
        /// Role inheritance loops back on itself.
        case inheritanceCycle
        /// Two roles, rules, resource types, actions, labels or fields share a name.
        case duplicateName
        /// A deny rule can never take anything away: no allow rule or break-glass grant covers
        /// what it denies.
        case denyShadowsNothing
        /// An allow rule can never take effect: an unconditional deny covers it whenever it matches,
        /// or an identical rule comes earlier.
        case unreachableRule
        /// A value is out of range (a duration, a time of day, a time zone, too many fields or labels).
        case invalidValue
        /// The file is too large or too deeply nested to load safely.
        case tooLarge
        /// A warning, not an error (the policy loads): a deny rule compares an attribute a request may
        /// lack, and such a deny applies whenever the attribute is missing or empty (fail closed).
        case denyOnAbsentAttribute
    }

    /// Whether this is a warning: reported, but the policy still loads (see ``CompiledPolicy/warnings``).
    public var isWarning: Bool { code == .denyOnAbsentAttribute }

    /// What kind of problem it is.
    public var code: Code
    /// A human-readable explanation (names from the policy only; no request data).
    public var message: String
    /// Where it is, when the policy came from a file.
    public var location: SourceLocation?
    /// The rule, role or other element it concerns (its name), if any.
    public var element: String?

    /// Creates an issue.
    public init(_ code: Code, _ message: String, at location: SourceLocation?, element: String? = nil) {
        self.code = code
        self.message = message
        self.location = location
        self.element = element
    }

    /// `line:column: code: message`.
    public var description: String {
        "\(location.map { "\($0): " } ?? "")\(code.rawValue): \(message)"
    }
}

/// A policy was rejected; ``issues`` lists every problem found, in file order.
public struct PolicyValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// All problems, sorted by location (problems without a location last).
    public var issues: [PolicyIssue]

    /// Creates the error from issues (sorted here).
    public init(issues: [PolicyIssue]) {
        self.issues = issues.sorted { lhs, rhs in
            switch (lhs.location, rhs.location) {
            case let (l?, r?): l < r
            case (.some, nil): true
            default: false
            }
        }
    }

    /// The most issues ``description`` lists; the rest are counted.
    public static let maximumDescribedIssues = 100

    /// One issue per line: the first ``maximumDescribedIssues``, then a count of the rest (so that a
    /// pathological file cannot turn one log line into megabytes).
    public var description: String {
        let more = issues.count - Self.maximumDescribedIssues
        return "policy rejected (\(issues.count) problem\(issues.count == 1 ? "" : "s")):\n"
            + issues.prefix(Self.maximumDescribedIssues).map { "  \($0)" }.joined(separator: "\n")
            + (more > 0 ? "\n  … and \(more) more" : "")
    }
}
