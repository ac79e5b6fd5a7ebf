public import Foundation
internal import PHIGuardCrypto

/// A condition on one stored row, left over when everything known about the subject and the time has
/// been decided: what a list query must filter on.
///
/// Two-valued: the engine's three-valued logic (an allow needs `yes`, a deny applies unless `no`) is
/// folded in when the plan is built, so a translator maps each case to a plain SQL predicate. See
/// ``AccessPlan`` for the exact meaning of each case.
public indirect enum PlanCondition: Sendable, Hashable, CustomStringConvertible {
    /// Every row.
    case always
    /// No row.
    case never
    /// The row's patient id equals the value (`self`; the value is never empty).
    case patientIs(String)
    /// The row's patient id is one of the values (`careTeam` from the subject's own care-team list).
    case patientIn([String])
    /// The row's patient id is non-empty and on the care team of the subject id (`careTeam` from the
    /// app's care-team table).
    case onCareTeam(subjectID: String)
    /// The resource attribute is present and non-empty.
    case attributePresent(String)
    /// The resource attribute equals the value, byte for byte (the value is never empty).
    case attributeEquals(String, String)
    /// The resource attribute holds printable ASCII only (so byte equality is the engine's equality).
    case attributeIsPrintableASCII(String)
    /// The row's labels (space-separated) contain this label, and are printable ASCII.
    case hasLabel(String)
    /// The row's labels contain one the policy does not declare, or are not printable ASCII.
    case hasUndeclaredLabel
    /// All of the conditions.
    case and([PlanCondition])
    /// Any of the conditions.
    case or([PlanCondition])
    /// Not the condition.
    case not(PlanCondition)

    /// All of `parts`, folded: `never` wins, `always` drops out, duplicates go.
    public static func all(_ parts: [PlanCondition]) -> PlanCondition {
        var kept: [PlanCondition] = []
        for part in parts {
            switch part {
            case .never: return .never
            case .always: continue
            case .and(let inner): for item in inner where !kept.contains(item) { kept.append(item) }
            default: if !kept.contains(part) { kept.append(part) }
            }
        }
        return kept.isEmpty ? .always : kept.count == 1 ? kept[0] : .and(kept)
    }

    /// Any of `parts`, folded: `always` wins, `never` drops out, duplicates go.
    public static func any(_ parts: [PlanCondition]) -> PlanCondition {
        var kept: [PlanCondition] = []
        for part in parts {
            switch part {
            case .always: return .always
            case .never: continue
            case .or(let inner): for item in inner where !kept.contains(item) { kept.append(item) }
            default: if !kept.contains(part) { kept.append(part) }
            }
        }
        return kept.isEmpty ? .never : kept.count == 1 ? kept[0] : .or(kept)
    }

    /// The negation, folded.
    public static func negation(_ part: PlanCondition) -> PlanCondition {
        switch part {
        case .always: .never
        case .never: .always
        case .not(let inner): inner
        default: .not(part)
        }
    }

    /// A compact, readable form (values in quotes; for the `phiguard policy plan` command and tests).
    public var description: String {
        switch self {
        case .always: "true"
        case .never: "false"
        case .patientIs(let id): "patient = \"\(id)\""
        case .patientIn(let ids): "patient in \(ids.count) care-team ids"
        case .onCareTeam(let subject): "patient on care team of \"\(subject)\""
        case .attributePresent(let key): "present(\(key))"
        case .attributeEquals(let key, let value): "\(key) = \"\(value)\""
        case .attributeIsPrintableASCII(let key): "ascii(\(key))"
        case .hasLabel(let label): "label \(label)"
        case .hasUndeclaredLabel: "undeclared label"
        case .and(let parts): "(" + parts.map(\.description).joined(separator: " AND ") + ")"
        case .or(let parts): "(" + parts.map(\.description).joined(separator: " OR ") + ")"
        case .not(let part): "NOT " + part.description
        }
    }
}

/// Something a plan needs from the store to be translated, with the rule that needs it, so that a
/// translator can refuse the plan naming the rule instead of dropping or widening the condition.
public struct PlanRequirement: Sendable, Hashable, CustomStringConvertible {
    /// What is needed.
    public enum Construct: Sendable, Hashable {
        /// Care-team membership looked up by subject id (the subject carries no care-team list).
        case careTeamMembership
        /// A resource attribute, by key.
        case resourceAttribute(String)
        /// The record's sensitivity labels.
        case labels
    }

    /// The id of the rule whose condition needs it.
    public let ruleID: String
    /// What it needs.
    public let construct: Construct

    /// Names the rule and the construct.
    public var description: String {
        switch construct {
        case .careTeamMembership: "rule '\(ruleID)': careTeam membership"
        case .resourceAttribute(let key): "rule '\(ruleID)': resource attribute '\(key)'"
        case .labels: "rule '\(ruleID)': sensitivity labels"
        }
    }
}

/// Which records of one resource type a subject may act on, and which fields of each: the policy
/// partially evaluated for one subject, action and moment, for list, search and count queries.
///
/// ```swift
/// let plan = engine.plan(session.principal, .read, resourceType: "chart")
/// switch plan.kind {
/// case .never: return []                          // nothing to query
/// case .always, .conditional: break               // filter with plan.row, select with plan.fields
/// }
/// ```
///
/// A row is allowed exactly when ``row`` holds for it, and field `f` of an allowed row is visible
/// exactly when `fields[f]` holds: the same answers `AccessEngine.decide`
/// gives for that row, by construction:
/// - an allow rule holds when its condition is known to hold (every part `yes`); a deny rule (whole
///   or field) applies unless its condition is known to fail (some part `no`): missing or empty
///   attributes and undeclared labels make a deny apply, never an allow;
/// - `self` needs a non-empty subject patient id; `careTeam` a non-empty row patient id;
/// - subject attributes, the time of day, break-glass and the roles are decided when the plan is made;
/// - attribute comparisons are byte equality on printable ASCII; where a value is not printable
///   ASCII (Unicode canonical equivalence makes the engine's `==` wider than byte equality) the
///   comparison never counts as `no`, and an equality never counts as `yes` beyond byte equality:
///   stricter than the engine, never wider;
/// - labels are the space-separated tokens of the labels column; a labels value that is not
///   printable ASCII counts as holding an undeclared label and no declared one (stricter, never wider).
///
/// Plans are built from a per-(role set, type, action, break-glass) template cached in the policy; the
/// subject's values and the clock are bound on every call.
public struct AccessPlan: Sendable, CustomStringConvertible {
    /// The overall shape.
    public enum Kind: String, Sendable, Hashable {
        /// Every row is allowed (field visibility may still depend on the row).
        case always
        /// No row is allowed: do not query.
        case never
        /// Rows are allowed where ``AccessPlan/row`` holds.
        case conditional
    }

    /// The resource type.
    public let resourceType: String
    /// The action.
    public let action: AccessAction
    /// `always`, `never` or `conditional`.
    public let kind: Kind
    /// When a row is allowed.
    public let row: PlanCondition
    /// For each field of the type (declared order), when it is visible on an allowed row.
    public let fields: [(name: String, visible: PlanCondition)]
    /// The policy's declared sensitivity labels (a translator needs them for ``PlanCondition/hasUndeclaredLabel``).
    public let declaredLabels: [String]
    /// What translating the plan needs, with the rules that need it.
    public let requirements: [PlanRequirement]
    /// Whether an active break-glass grant contributed allow rules.
    public let usesBreakGlass: Bool
    /// The ids of the rules that took part (denies and allows of the subject's roles for this type and action).
    public let ruleIDs: [String]
    /// The generation of the policy the plan was made from.
    public let policyGeneration: UInt64

    /// The visibility condition of `field`, or `.never` for a field the type does not have.
    public func visibility(of field: String) -> PlanCondition {
        fields.first { $0.name == field }?.visible ?? .never
    }

    /// The kind, the row condition and each field's condition, one per line.
    public var description: String {
        var lines = ["plan \(action.rawValue) \(resourceType): \(kind.rawValue)", "rows: \(row)"]
        for field in fields { lines.append("field \(field.name): \(field.visible)") }
        if usesBreakGlass { lines.append("break-glass: active") }
        return lines.joined(separator: "\n")
    }

    static func never(_ resourceType: String, _ action: AccessAction, _ policy: CompiledPolicy) -> AccessPlan {
        AccessPlan(
            resourceType: resourceType, action: action, kind: .never, row: .never,
            fields: policy.fields(of: resourceType).map { ($0, PlanCondition.never) }, declaredLabels: [],
            requirements: [], usesBreakGlass: false, ruleIDs: [], policyGeneration: policy.generation)
    }
}

/// The rules of one slot that apply to one role set (cached; no subject values).
struct PlanTemplate: Sendable {
    struct Entry: Sendable {
        var ruleID: Int32
        var condition: Int32
        var fields: FieldBits
        var isWholeDeny: Bool
        var isBreakGlass: Bool
    }

    var denies: [Entry] = []
    var allows: [Entry] = []
}

/// Plan templates by (role set, slot, break-glass), one cache per compiled policy.
final class PlanCache: Sendable {
    struct Key: Hashable, Sendable {
        var roles: RoleBits
        var slot: Int32
        var breakGlass: Bool
    }

    private let entries = Locked<[Key: PlanTemplate]>([:])

    init() {}

    func template(_ key: Key, build: () -> PlanTemplate) -> PlanTemplate {
        if let hit = entries.withLock({ $0[key] }) { return hit }
        let built = build()
        entries.withLock { entries in
            if entries.count > 4_096 { entries.removeAll() }
            entries[key] = built
        }
        return built
    }
}

extension CompiledPolicy {
    /// The plan for `subject` acting with `action` on records of `resourceType` at `now`.
    ///
    /// `breakGlass` adds the policy's emergency grants when it is active for the subject (as in
    /// ``decide(_:careTeams:clock:)``). An unknown type or action, or a subject with no declared role,
    /// gives a `never` plan.
    @_spi(PolicyEvaluation)
    public func plan(
        _ subject: Subject, _ action: AccessAction, resourceType: String, breakGlass: BreakGlassGrant? = nil,
        now: Date
    ) -> AccessPlan {
        let (roles, known) = resolveRoles(subject.roles)
        return plan(
            roles: roles, hasKnownRole: known, subject: subject, principal: nil, action: action,
            resourceType: resourceType, breakGlass: breakGlass, now: now)
    }

    func plan(
        roles: RoleBits, hasKnownRole: Bool, subject: Subject, principal: AuthenticatedPrincipal?,
        action: AccessAction, resourceType: String, breakGlass: BreakGlassGrant?, now: Date
    ) -> AccessPlan {
        let (slot, type) = resolveSlot(resourceType, action)
        guard slot >= 0, hasKnownRole else { return .never(resourceType, action, self) }
        // The grant must be active for this subject and session; its patient scope becomes a row
        // condition below (a grant opens only the rows of the patients it names).
        let breakGlassActive =
            breakGlass.map {
                breakGlassStatus(
                    of: $0, subjectID: subject.id, principal: principal, roles: roles,
                    patientID: $0.scope.patientIDs.first, now: now) == .active
            } ?? false
        let breakGlassScope = PlanCondition.patientIn(breakGlass?.scope.patientIDs ?? [])
        let template = planCache.template(.init(roles: roles, slot: slot, breakGlass: breakGlassActive)) {
            buildTemplate(roles: roles, slot: Int(slot), breakGlassActive: breakGlassActive)
        }
        var binder = PlanBinder(policy: self, subject: subject, now: now)
        let fieldNames = typeFieldNames[Int(type)]

        var wholeDenies: [PlanCondition] = []
        var fieldDenies: [(applies: PlanCondition, fields: FieldBits)] = []
        for entry in template.denies {
            let applies = PlanCondition.negation(binder.no(entry.condition, rule: entry.ruleID))
            if entry.isWholeDeny {
                wholeDenies.append(applies)
            } else {
                fieldDenies.append((applies, entry.fields))
            }
        }
        var allows: [(holds: PlanCondition, fields: FieldBits)] = []
        var usesBreakGlass = false
        for entry in template.allows {
            if entry.isBreakGlass {
                usesBreakGlass = true
                allows.append((breakGlassScope, entry.fields))
            } else {
                allows.append((binder.yes(entry.condition, rule: entry.ruleID), entry.fields))
            }
        }
        let notDenied = PlanCondition.negation(.any(wholeDenies))
        var fields: [(name: String, visible: PlanCondition)] = []
        for (index, name) in fieldNames.enumerated() {
            let granted = PlanCondition.any(allows.filter { $0.fields.contains(index) }.map(\.holds))
            let hidden = PlanCondition.any(fieldDenies.filter { $0.fields.contains(index) }.map(\.applies))
            fields.append((name, .all([granted, .negation(hidden)])))
        }
        let anyVisible = fieldNames.isEmpty ? PlanCondition.any(allows.map(\.holds)) : .any(fields.map(\.visible))
        let row = PlanCondition.all([notDenied, anyVisible])
        let kind: AccessPlan.Kind = row == .always ? .always : row == .never ? .never : .conditional
        var ids: [String] = []
        for entry in template.denies + template.allows {
            let id = ruleIDs[Int(entry.ruleID)]
            if !ids.contains(id) { ids.append(id) }
        }
        return AccessPlan(
            resourceType: resourceType, action: action, kind: kind, row: row, fields: fields,
            declaredLabels: labelIndex.sorted { $0.value < $1.value }.map(\.key),
            requirements: kind == .never ? [] : binder.requirements, usesBreakGlass: usesBreakGlass, ruleIDs: ids,
            policyGeneration: generation)
    }

    /// The slot's rules that apply to `roles`, one entry per rule (a rule listing several roles is
    /// compiled once per role).
    private func buildTemplate(roles: RoleBits, slot: Int, breakGlassActive: Bool) -> PlanTemplate {
        var template = PlanTemplate()
        var seen = Set<Int32>()
        let start = Int(slotStart[slot])
        let denyEnd = Int(slotDenyEnd[slot])
        let end = Int(slotStart[slot + 1])
        for position in start..<end {
            let rule = rules[position]
            let applies =
                rule.isBreakGlass ? breakGlassActive : roles.contains(word: rule.roleWord, mask: rule.roleMask)
            guard applies, seen.insert(rule.ruleID).inserted else { continue }
            let entry = PlanTemplate.Entry(
                ruleID: rule.ruleID, condition: rule.condition, fields: rule.fields, isWholeDeny: rule.isWholeDeny,
                isBreakGlass: rule.isBreakGlass)
            if position < denyEnd { template.denies.append(entry) } else { template.allows.append(entry) }
        }
        return template
    }
}

/// Binds one subject and one moment into rule conditions, giving for each the two-valued
/// "known to hold" (`yes`) and "known to fail" (`no`) row conditions.
struct PlanBinder {
    let policy: CompiledPolicy
    let subject: Subject
    let now: Date
    var requirements: [PlanRequirement] = []

    init(policy: CompiledPolicy, subject: Subject, now: Date) {
        self.policy = policy
        self.subject = subject
        self.now = now
    }

    mutating func yes(_ condition: Int32, rule: Int32) -> PlanCondition {
        guard condition >= 0 else { return .always }
        return parts(policy.conditions[Int(condition)], rule: rule).map(\.yes).reduce(.always) { .all([$0, $1]) }
    }

    mutating func no(_ condition: Int32, rule: Int32) -> PlanCondition {
        guard condition >= 0 else { return .never }
        return .any(parts(policy.conditions[Int(condition)], rule: rule).map(\.no))
    }

    /// Each part of the condition as (yes, no); the condition is `yes` when all parts are, `no` when any is.
    private mutating func parts(_ condition: CompiledCondition, rule: Int32) -> [(
        yes: PlanCondition, no: PlanCondition
    )] {
        let ruleID = policy.ruleIDs[Int(rule)]
        var result: [(yes: PlanCondition, no: PlanCondition)] = []
        if let relationship = condition.relationship {
            let isSelf: PlanCondition
            if let patient = subject.patientID, !patient.isEmpty {
                isSelf = .patientIs(patient)
            } else {
                isSelf = .never
            }
            let careTeam: PlanCondition
            if relationship == .self {
                careTeam = .never
            } else if let patients = subject.careTeamPatients {
                let ids = patients.filter { !$0.isEmpty }.sorted()
                careTeam = ids.isEmpty ? .never : .patientIn(ids)
            } else {
                need(ruleID, .careTeamMembership)
                careTeam = .onCareTeam(subjectID: subject.id)
            }
            let holds: PlanCondition
            switch relationship {
            case .self: holds = isSelf
            case .careTeam: holds = careTeam
            case .selfOrCareTeam: holds = .any([isSelf, careTeam])
            }
            result.append((holds, .negation(holds)))
        }
        if condition.labelsNoneOf != 0 || condition.labelsAnyOf != 0 { need(ruleID, .labels) }
        if condition.labelsNoneOf != 0 {
            let present = PlanCondition.any(labels(condition.labelsNoneOf).map { .hasLabel($0) })
            result.append((.all([.negation(present), .negation(.hasUndeclaredLabel)]), present))
        }
        if condition.labelsAnyOf != 0 {
            let present = PlanCondition.any(labels(condition.labelsAnyOf).map { .hasLabel($0) })
            result.append((present, .all([.negation(present), .negation(.hasUndeclaredLabel)])))
        }
        for comparison in condition.attributes {
            let expected: String?
            switch comparison.operand {
            case .value(let literal): expected = literal
            case .subjectAttribute(let key): expected = subject.attributes[key]
            }
            guard let expected, !expected.isEmpty else {
                if comparison.side == .resource { need(ruleID, .resourceAttribute(comparison.key)) }
                result.append((.never, .never))  // cannot be compared: unknown
                continue
            }
            if comparison.side == .subject {
                guard let value = subject.attributes[comparison.key], !value.isEmpty else {
                    result.append((.never, .never))
                    continue
                }
                let holds = (value == expected) != comparison.negated
                result.append(holds ? (.always, .never) : (.never, .always))
                continue
            }
            let key = comparison.key
            need(ruleID, .resourceAttribute(key))
            let equal = PlanCondition.attributeEquals(key, expected)
            let differs: PlanCondition =
                Self.isPrintableASCII(expected)
                ? .all([.attributePresent(key), .attributeIsPrintableASCII(key), .negation(equal)]) : .never
            result.append(comparison.negated ? (differs, equal) : (equal, differs))
        }
        if let window = condition.window {
            let inside = window.contains(minute: policy.timeZone.minuteOfDay(now))
            result.append(inside ? (.always, .never) : (.never, .always))
        }
        return result
    }

    private mutating func need(_ ruleID: String, _ construct: PlanRequirement.Construct) {
        let requirement = PlanRequirement(ruleID: ruleID, construct: construct)
        if !requirements.contains(requirement) { requirements.append(requirement) }
    }

    private func labels(_ mask: UInt64) -> [String] {
        policy.labelIndex.filter { mask & (UInt64(1) << UInt64($0.value)) != 0 }.sorted { $0.value < $1.value }
            .map(\.key)
    }

    /// Printable ASCII (0x20–0x7E) only: where byte equality is Swift's `==`.
    static func isPrintableASCII(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }
    }
}

extension AccessEngine {
    /// The plan for `principal` acting with `action` on records of `resourceType`, now (by the
    /// engine's clock): see ``AccessPlan``. An expired principal gets a `never` plan. `breakGlass`
    /// adds the policy's emergency grants only while the grant is active for this principal.
    public func plan(
        _ principal: AuthenticatedPrincipal, _ action: AccessAction, resourceType: String,
        breakGlass: BreakGlassGrant? = nil
    ) -> AccessPlan {
        let policy = self.policy
        let now = clock.now
        guard now < principal.validUntil else { return .never(resourceType, action, policy) }
        let prepared = principal.prepared(for: policy)
        return policy.plan(
            roles: prepared.roles, hasKnownRole: prepared.hasKnownRole, subject: principal.subject,
            principal: principal, action: action, resourceType: resourceType, breakGlass: breakGlass, now: now)
    }
}
