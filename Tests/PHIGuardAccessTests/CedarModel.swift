import Foundation
@_spi(PolicyEvaluation) import PHIGuardAccess

/// Our documented semantics (the DocC article "Writing Access Policies", section Semantics) written as
/// a Cedar policy set, so that Cedar (cedarpy, pinned in scripts/interop-requirements.txt) decides the
/// same requests as `CompiledPolicy.decide` and the two can be compared.
///
/// The model:
/// - **Requests.** One PHIGuard request becomes one Cedar request for the whole resource
///   (`context.field == "*"`) and one per field of its type (`context.field == "f"`). The decision is
///   allowed when some field request is allowed (the whole request, for a type without fields); the
///   visible fields are the allowed field requests.
/// - **Entities.** Each request gets its own `User` and `Resource`: the user's parents are its roles,
///   and each declared role's parents are the roles it inherits, so `principal in Role::"r"` is
///   "r is an effective role". Patient ids, the care-team set, the app directory's answer for this
///   subject (`directoryTeam`), attributes and labels are entity attributes, present only when the
///   request has them.
/// - **Three-valued conditions.** Cedar is two-valued, and skips a policy whose condition reads a
///   missing attribute; so every condition part is written twice, as "definitely true" (T) and
///   "definitely false" (F), guarded with `has`. An allow is `permit … when { T }`, a deny is
///   `forbid … when { !F }` (it applies unless its condition is false), with T the conjunction of the
///   parts' T and F the disjunction of their F.
/// - **Break-glass.** Each grant is a `permit` that holds when the request's grant belongs to the
///   principal, the principal holds an eligible role, `issuedAt <= now < expiresAt`, and the
///   resource's patient is in the grant's scope.
///
/// Not representable in Cedar, and excluded from the comparison: the decision *reason*
/// (`noKnownRole`, `unknownAction`, `conditionNotMet`, … — Cedar answers allow or deny with the
/// policies that determined it), and the break-glass *status* and review flag (`breakGlassStatus`,
/// `requiresAuditReview`), which report on the request rather than decide it. The minute of the day
/// (for `timeOfDay`) is given to Cedar as data (`context.minute`, UTC, the generator's time zone):
/// Cedar has no clock arithmetic; the window test itself is in the model.
struct CedarModel {
    /// The Cedar policy set, one policy per PHIGuard rule and break-glass grant.
    private(set) var text = ""
    /// `policyN` (Cedar's id for the N-th policy of the text) → the PHIGuard rule id it models.
    private(set) var ruleIDs: [String] = []
    let policy: AccessPolicy

    init(policy: AccessPolicy) {
        self.policy = policy
        for rule in policy.rules {
            let cover = Self.cover(
                roles: rule.roles.map(\.name), actions: rule.actions.map(\.name), types: rule.resourceTypes.map(\.name))
            let (isTrue, isFalse) = condition(rule.condition)
            switch (rule.effect, rule.fields) {
            case (.allow, let fields):
                add("permit", "\(cover) && \(Self.fieldAllowed(fields)) && \(isTrue)", rule.id.name)
            case (.deny, nil):
                add("forbid", "\(cover) && !(\(isFalse))", rule.id.name)
            case (.deny, let fields?):
                add(
                    "forbid", "\(cover) && \(Self.set(fields.map(\.name))).contains(context.field) && !(\(isFalse))",
                    rule.id.name)
            }
        }
        if let section = policy.breakGlass {
            let eligible = Self.anyRole(section.roles.map(\.name))
            for (number, grant) in section.grants.enumerated() {
                let active =
                    "context has grant && context.grant.subject == principal.id && \(eligible)"
                    + " && context.grant.issuedAt <= context.now && context.now < context.grant.expiresAt"
                    + " && resource has patient && context.grant.patients.contains(resource.patient)"
                let cover =
                    "\(Self.actions(grant.actions.map(\.name))) && \(Self.set(grant.resourceTypes.map(\.name))).contains(resource.type)"
                add(
                    "permit", "\(active) && \(cover) && \(Self.fieldAllowed(grant.fields))", "break-glass.\(number + 1)"
                )
            }
        }
    }

    private mutating func add(_ effect: String, _ condition: String, _ ruleID: String) {
        text += "\(effect)(principal, action, resource) when { \(condition) };\n"
        ruleIDs.append(ruleID)
    }

    // MARK: Expressions

    static func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func set(_ names: [String]) -> String { "[" + names.map(quote).joined(separator: ", ") + "]" }

    static func anyRole(_ roles: [String]) -> String {
        "(" + roles.map { "principal in Role::\(quote($0))" }.joined(separator: " || ") + ")"
    }

    static func actions(_ actions: [String]) -> String {
        "action in [" + actions.map { "Action::\(quote($0))" }.joined(separator: ", ") + "]"
    }

    static func cover(roles: [String], actions: [String], types: [String]) -> String {
        "\(anyRole(roles)) && \(self.actions(actions)) && \(set(types)).contains(resource.type)"
    }

    /// Whether the rule's fields include the requested one (every field for the whole request).
    static func fieldAllowed(_ fields: [AccessPolicy.Named]?) -> String {
        guard let fields else { return "true" }
        return "(context.field == \"*\" || \(set(fields.map(\.name))).contains(context.field))"
    }

    /// The condition as (definitely true, definitely false).
    func condition(_ condition: AccessPolicy.Condition) -> (String, String) {
        var parts: [(isTrue: String, isFalse: String)] = []
        if let relationship = condition.relationship {
            // Never unknown: a missing or empty id is "not related".
            let isSelf =
                "(principal has patient && resource has patient && principal.patient != \"\""
                + " && principal.patient == resource.patient)"
            let onTeam =
                "(resource has patient && resource.patient != \"\" && (if principal has careTeam"
                + " then principal.careTeam.contains(resource.patient)"
                + " else (principal has directoryTeam && principal.directoryTeam.contains(resource.patient))))"
            let holds =
                switch relationship {
                case .self: isSelf
                case .careTeam: onTeam
                case .selfOrCareTeam: "(\(isSelf) || \(onTeam))"
                }
            parts.append((holds, "!\(holds)"))
        }
        // Only declared labels settle a label test; an undeclared one leaves it unknown.
        let settled = "\(Self.set(policy.sensitivityLabels.map(\.name))).containsAll(resource.labels)"
        if !condition.labelsNoneOf.isEmpty {
            let hit = "resource.labels.containsAny(\(Self.set(condition.labelsNoneOf.map(\.name))))"
            parts.append(("(!\(hit) && \(settled))", hit))
        }
        if !condition.labelsAnyOf.isEmpty {
            let hit = "resource.labels.containsAny(\(Self.set(condition.labelsAnyOf.map(\.name))))"
            parts.append((hit, "(!\(hit) && \(settled))"))
        }
        for comparison in condition.attributes {
            let side = comparison.side == .resource ? "resource.attrs" : "principal.attrs"
            let key = Self.quote(comparison.key)
            var defined = "(\(side) has \(key) && \(side)[\(key)] != \"\")"
            let operand: String
            switch comparison.operand {
            case .value(let value): operand = Self.quote(value)
            case .subjectAttribute(let other):
                let otherKey = Self.quote(other)
                defined += " && (principal.attrs has \(otherKey) && principal.attrs[\(otherKey)] != \"\")"
                operand = "principal.attrs[\(otherKey)]"
            }
            let equal = "\(side)[\(key)] == \(operand)"
            let holds = comparison.negated ? "!(\(equal))" : "(\(equal))"
            // Unknown (neither) unless both sides are present and not empty.
            parts.append(("(\(defined) && \(holds))", "(\(defined) && !\(holds))"))
        }
        if let window = condition.timeOfDay {
            let inside =
                window.fromMinute <= window.toMinute
                ? "(context.minute >= \(window.fromMinute) && context.minute < \(window.toMinute))"
                : "(context.minute >= \(window.fromMinute) || context.minute < \(window.toMinute))"
            parts.append((inside, "!\(inside)"))
        }
        if parts.isEmpty { return ("true", "false") }
        return (
            "(" + parts.map(\.isTrue).joined(separator: " && ") + ")",
            "(" + parts.map(\.isFalse).joined(separator: " || ") + ")"
        )
    }

    // MARK: Requests

    /// One Cedar request (JSON-ready).
    struct Request: Encodable {
        struct UID: Encodable {
            let type: String
            let id: String
        }
        struct Context: Encodable {
            let field: String
            let minute: Int
            let now: Int64
            let grant: Grant?
        }
        struct Grant: Encodable {
            let subject: String
            let issuedAt: Int64
            let expiresAt: Int64
            /// The grant's scope: the patients it may open.
            let patients: [String]
        }
        let principal: UID
        let action: UID
        let resource: UID
        let context: Context
    }

    /// One entity (JSON-ready); attributes are JSON values.
    struct Entity: Encodable {
        let uid: Request.UID
        let attrs: [String: CedarValue]
        let parents: [Request.UID]
    }

    /// The few Cedar value shapes the model uses.
    enum CedarValue: Encodable {
        case string(String)
        case set([String])
        case record([String: String])

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let value): try container.encode(value)
            case .set(let values): try container.encode(values.sorted())
            case .record(let values): try container.encode(values)
            }
        }
    }

    /// The role entities: each declared role with the roles it inherits as parents.
    var roleEntities: [Entity] {
        policy.roles.map { role in
            Entity(
                uid: .init(type: "Role", id: role.name.name), attrs: [:],
                parents: role.inherits.map { .init(type: "Role", id: $0.name) })
        }
    }

    /// The entities and Cedar requests for PHIGuard request number `index`: the whole request first,
    /// then one per field of its type (none for an unknown type).
    func encode(
        _ request: AccessRequest, index: Int, careTeams: RandomCareTeams?, now: Date
    ) -> (entities: [Entity], requests: [Request], fields: [String]) {
        let id = "q\(index)"
        let subject = request.subject
        var user: [String: CedarValue] = ["id": .string(subject.id), "attrs": .record(subject.attributes)]
        if let patient = subject.patientID { user["patient"] = .string(patient) }
        if let team = subject.careTeamPatients { user["careTeam"] = .set(Array(team)) }
        if let members = careTeams?.members[subject.id] { user["directoryTeam"] = .set(Array(members)) }
        let resource = request.resource
        var item: [String: CedarValue] = [
            "type": .string(resource.type), "labels": .set(Array(resource.labels)),
            "attrs": .record(resource.attributes),
        ]
        if let patient = resource.patientID { item["patient"] = .string(patient) }
        let entities = [
            Entity(
                uid: .init(type: "User", id: id), attrs: user,
                parents: subject.roles.map { .init(type: "Role", id: $0) }),
            Entity(uid: .init(type: "Resource", id: id), attrs: item, parents: []),
        ]
        let seconds = Int64(now.timeIntervalSince1970.rounded(.down))
        let grant = request.breakGlass.map {
            Request.Grant(
                subject: $0.subjectID, issuedAt: Self.microseconds($0.issuedAt),
                expiresAt: Self.microseconds($0.expiresAt), patients: $0.scope.patientIDs)
        }
        let fields =
            policy.resourceTypes.first { $0.name.name == resource.type }?.fields.map(\.name) ?? []
        let requests = (["*"] + fields).map { field in
            Request(
                principal: .init(type: "User", id: id), action: .init(type: "Action", id: request.action.rawValue),
                resource: .init(type: "Resource", id: id),
                context: .init(
                    field: field, minute: Int(seconds % 86_400 / 60), now: Self.microseconds(now), grant: grant))
        }
        return (entities, requests, fields)
    }

    static func microseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }
}
