/// A position in a policy file (1-based line and column), attached to every element read from YAML.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The line, starting at 1.
    public var line: Int
    /// The column, starting at 1 (counted in Unicode scalars).
    public var column: Int

    /// Creates a location.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// `line:column`.
    public var description: String { "\(line):\(column)" }

    /// 1:1, where problems that concern the whole file (too large, empty, not UTF-8) are located.
    public static let fileStart = SourceLocation(line: 1, column: 1)

    /// Orders by line, then column.
    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// The source form of an access policy: what a YAML policy file says, before validation and compilation.
///
/// Build one in code or load it with ``AccessPolicy/init(yaml:)``; turn it into something that decides
/// with ``CompiledPolicy/init(_:)``, which validates it completely first.
public struct AccessPolicy: Sendable, Hashable {
    /// App-defined actions, in addition to ``AccessAction/builtIn``.
    public var actions: [Named]
    /// The sensitivity labels resources may carry (at most 64), matched exactly: a rule naming another
    /// spelling is invalid, and a resource carrying one fails closed.
    public var sensitivityLabels: [Named]
    /// The resource types and their fields.
    public var resourceTypes: [ResourceTypeDefinition]
    /// The roles and their parents.
    public var roles: [RoleDefinition]
    /// Allow and deny rules.
    public var rules: [Rule]
    /// Emergency access; `nil` means no role may break the glass.
    public var breakGlass: BreakGlassPolicy?
    /// The IANA time zone `timeOfDay` conditions are read in (default `UTC`).
    public var timeZone: String
    /// Where the `timeZone` key is.
    public var timeZoneLocation: SourceLocation?

    /// Creates a policy.
    public init(
        actions: [Named] = [], sensitivityLabels: [Named] = [], resourceTypes: [ResourceTypeDefinition],
        roles: [RoleDefinition], rules: [Rule], breakGlass: BreakGlassPolicy? = nil, timeZone: String = "UTC",
        timeZoneLocation: SourceLocation? = nil
    ) {
        self.actions = actions
        self.sensitivityLabels = sensitivityLabels
        self.resourceTypes = resourceTypes
        self.roles = roles
        self.rules = rules
        self.breakGlass = breakGlass
        self.timeZone = timeZone
        self.timeZoneLocation = timeZoneLocation
    }

    /// A name as written in the file, with where it was written.
    public struct Named: Sendable, Hashable, ExpressibleByStringLiteral {
        /// The name.
        public var name: String
        /// Where it appears, when read from a file.
        public var location: SourceLocation?

        /// Creates a name.
        public init(_ name: String, at location: SourceLocation? = nil) {
            self.name = name
            self.location = location
        }

        /// Creates a name without a location.
        public init(stringLiteral value: String) { self.init(value) }
    }

    /// A resource type: its name, its fields (at most 256), and which actions apply to it.
    public struct ResourceTypeDefinition: Sendable, Hashable {
        /// The type's name (`chart`, `billing-record`).
        public var name: Named
        /// The fields a decision can reveal, in display order.
        public var fields: [Named]
        /// The actions that apply to this type; `nil` means every declared action.
        public var actions: [Named]?

        /// Creates a resource type.
        public init(name: Named, fields: [Named] = [], actions: [Named]? = nil) {
            self.name = name
            self.fields = fields
            self.actions = actions
        }
    }

    /// A role and the roles it inherits from (multiple parents allowed; cycles are rejected).
    public struct RoleDefinition: Sendable, Hashable {
        /// The role's name.
        public var name: Named
        /// The roles whose permissions (and denials) this role inherits.
        public var inherits: [Named]

        /// Creates a role.
        public init(name: Named, inherits: [Named] = []) {
            self.name = name
            self.inherits = inherits
        }
    }

    /// Whether a rule allows or denies.
    public enum Effect: String, Sendable, Hashable {
        /// Grants the action (and the listed fields).
        case allow
        /// Denies the action (or, with `fields`, hides those fields); always wins over allow. Applies
        /// unless its condition is known to be false (a condition that cannot be evaluated applies).
        case deny
    }

    /// A permission or a denial: roles × actions × resource types, optionally limited to fields and
    /// guarded by a condition.
    public struct Rule: Sendable, Hashable {
        /// A unique id, reported in decisions.
        public var id: Named
        /// Allow or deny.
        public var effect: Effect
        /// The roles it applies to (and every role that inherits from them).
        public var roles: [Named]
        /// The actions it covers.
        public var actions: [Named]
        /// The resource types it covers.
        public var resourceTypes: [Named]
        /// For allow: the fields granted (`nil` = all fields of the type). For deny: the fields hidden
        /// (`nil` = the whole action is denied).
        public var fields: [Named]?
        /// Extra conditions, all of which must hold for an allow rule to match; a deny rule applies
        /// unless one of them is known not to hold.
        public var condition: Condition
        /// Where the rule starts in the file.
        public var location: SourceLocation?

        /// Creates a rule.
        public init(
            id: Named, effect: Effect, roles: [Named], actions: [Named], resourceTypes: [Named],
            fields: [Named]? = nil, condition: Condition = Condition(), location: SourceLocation? = nil
        ) {
            self.id = id
            self.effect = effect
            self.roles = roles
            self.actions = actions
            self.resourceTypes = resourceTypes
            self.fields = fields
            self.condition = condition
            self.location = location
        }
    }

    /// Who the resource's patient must be relative to the subject.
    public enum Relationship: String, Sendable, Hashable, CaseIterable {
        /// `resource.patient == subject.patient`, neither empty: a portal user's own record.
        case `self`
        /// `resource.patient in subject.careTeamPatients` (or the care-team directory), the patient id
        /// not empty: a clinician on the patient's care team.
        case careTeam
        /// Either of the two.
        case selfOrCareTeam
    }

    /// A comparison of one attribute with a constant or with a subject attribute: `equals`, `notEquals`,
    /// `equalsSubject` or `notEqualsSubject` in YAML. A missing or empty attribute on either side makes
    /// it unknown: an allow rule does not match, a deny rule applies.
    public struct AttributeComparison: Sendable, Hashable {
        /// Which side the attribute is read from.
        public enum Side: String, Sendable, Hashable {
            /// `resource.attributes[key]`.
            case resource
            /// `subject.attributes[key]`.
            case subject
        }

        /// What the attribute is compared with.
        public enum Operand: Sendable, Hashable {
            /// A literal value.
            case value(String)
            /// The subject's attribute of this name (`resource.department == subject.department`;
            /// `equalsSubject` / `notEqualsSubject` in YAML).
            case subjectAttribute(String)
        }

        /// The side the attribute is read from.
        public var side: Side
        /// The attribute's name.
        public var key: String
        /// What it must equal (or, with `negated`, not equal).
        public var operand: Operand
        /// `true` for `notEquals` and `notEqualsSubject`.
        public var negated: Bool
        /// Where the comparison is in the file.
        public var location: SourceLocation?

        /// Creates a comparison.
        public init(
            side: Side, key: String, operand: Operand, negated: Bool = false, location: SourceLocation? = nil
        ) {
            self.side = side
            self.key = key
            self.operand = operand
            self.negated = negated
            self.location = location
        }
    }

    /// A time-of-day window in the policy's time zone; `from > to` wraps past midnight.
    public struct TimeWindow: Sendable, Hashable {
        /// Minutes after midnight when the window opens (inclusive).
        public var fromMinute: Int
        /// Minutes after midnight when the window closes (exclusive).
        public var toMinute: Int
        /// Where the window is in the file.
        public var location: SourceLocation?

        /// Creates a window.
        public init(fromMinute: Int, toMinute: Int, location: SourceLocation? = nil) {
            self.fromMinute = fromMinute
            self.toMinute = toMinute
            self.location = location
        }

        /// Whether `minute` (0..<1440) falls in the window.
        public func contains(minute: Int) -> Bool {
            fromMinute <= toMinute
                ? (minute >= fromMinute && minute < toMinute)
                : (minute >= fromMinute || minute < toMinute)
        }
    }

    /// The conditions guarding a rule; every one that is set must hold.
    public struct Condition: Sendable, Hashable {
        /// The required relationship between subject and the resource's patient.
        public var relationship: Relationship?
        /// Where `relationship` is in the file.
        public var relationshipLocation: SourceLocation?
        /// The resource must carry none of these labels (unknown when it carries an undeclared one).
        public var labelsNoneOf: [Named]
        /// The resource must carry at least one of these labels (ignored when empty; unknown when it
        /// carries none of them but an undeclared one).
        public var labelsAnyOf: [Named]
        /// Attribute comparisons.
        public var attributes: [AttributeComparison]
        /// The time-of-day window.
        public var timeOfDay: TimeWindow?

        /// Creates a condition; the default holds always.
        public init(
            relationship: Relationship? = nil, relationshipLocation: SourceLocation? = nil,
            labelsNoneOf: [Named] = [], labelsAnyOf: [Named] = [], attributes: [AttributeComparison] = [],
            timeOfDay: TimeWindow? = nil
        ) {
            self.relationship = relationship
            self.relationshipLocation = relationshipLocation
            self.labelsNoneOf = labelsNoneOf
            self.labelsAnyOf = labelsAnyOf
            self.attributes = attributes
            self.timeOfDay = timeOfDay
        }

        /// Whether this condition always holds.
        public var isUnconditional: Bool {
            relationship == nil && labelsNoneOf.isEmpty && labelsAnyOf.isEmpty && attributes.isEmpty
                && timeOfDay == nil
        }
    }

    /// Emergency ("break-the-glass") access: who may invoke it, for how long, and what it grants.
    public struct BreakGlassPolicy: Sendable, Hashable {
        /// The roles (and their inheritors) that may invoke it.
        public var roles: [Named]
        /// The longest grant, in seconds.
        public var maximumDurationSeconds: Int
        /// What an active grant allows, on top of the holder's own permissions. Deny rules still win.
        public var grants: [Grant]
        /// Where the section starts.
        public var location: SourceLocation?

        /// Creates a break-glass section.
        public init(
            roles: [Named], maximumDurationSeconds: Int, grants: [Grant], location: SourceLocation? = nil
        ) {
            self.roles = roles
            self.maximumDurationSeconds = maximumDurationSeconds
            self.grants = grants
            self.location = location
        }

        /// One thing an active grant allows.
        public struct Grant: Sendable, Hashable {
            /// The actions granted.
            public var actions: [Named]
            /// The resource types granted.
            public var resourceTypes: [Named]
            /// The fields granted (`nil` = all).
            public var fields: [Named]?
            /// Where the grant is in the file.
            public var location: SourceLocation?

            /// Creates a grant.
            public init(
                actions: [Named], resourceTypes: [Named], fields: [Named]? = nil, location: SourceLocation? = nil
            ) {
                self.actions = actions
                self.resourceTypes = resourceTypes
                self.fields = fields
                self.location = location
            }
        }
    }
}
