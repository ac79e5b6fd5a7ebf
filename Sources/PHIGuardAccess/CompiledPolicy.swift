public import Foundation
import Synchronization

/// A validated policy compiled into lookup tables: a decision is a few dictionary lookups, a walk over
/// the handful of rules for one (resource type, action) slot, and bit operations on role and field sets.
///
/// ```swift
/// let policy = try CompiledPolicy(yaml: String(contentsOfFile: "hospital.yaml", encoding: .utf8))
/// let engine = AccessEngine(policy: policy)
/// let decision = engine.decide(session.principal, .read, Resource(type: "chart", patientID: "p-7"))
/// decision.isAllowed        // true for a clerk
/// decision.visibleFields    // ["demographics", "insurance", "billing"]
/// ```
///
/// Applications decide through ``AccessEngine``, which accepts only an ``AuthenticatedPrincipal``. The
/// policy's own `decide`, `explain`, `prepare` and `breakGlass(for:)` take any ``Subject``; they are
/// for policy tooling (the `phiguard policy` commands, policy tests, benchmarks) and sit behind the
/// `PolicyEvaluation` SPI: `@_spi(PolicyEvaluation) import PHIGuardAccess`.
///
/// Instances are immutable and `Sendable`; share one across threads, or hold it in an ``AccessEngine``
/// to swap policies at runtime.
public final class CompiledPolicy: Sendable {
    /// The policy this was compiled from.
    public let source: AccessPolicy
    /// A process-unique number; a new one for every compiled policy.
    public let generation: UInt64
    /// What validation warned about without refusing the policy (``PolicyIssue/isWarning``), in file
    /// order: for example deny rules that apply whenever an attribute they compare is absent.
    public let warnings: [PolicyIssue]

    let roleIndex: [String: Int]
    let roleNames: [String]
    let roleClosures: [RoleBits]
    let breakGlassEligible: RoleBits
    let breakGlassMaximumSeconds: Int
    let typeIndex: [String: Int]
    let typeNames: [String]
    let typeFieldNames: [[String]]
    let typeFieldIndex: [[String: Int]]
    let actionIndex: [String: Int]
    let actionNames: [String]
    let actionCount: Int
    /// Per slot (`type * actionCount + action`): whether the action applies to the type.
    let slotApplies: [Bool]
    /// Rules of slot `s` are `rules[slotStart[s]..<slotStart[s + 1]]`, whole and field denies first
    /// (up to `slotDenyEnd[s]`), then allows.
    let slotStart: [Int32]
    let slotDenyEnd: [Int32]
    let rules: ContiguousArray<CompiledRule>
    let conditions: [CompiledCondition]
    let ruleIDs: [String]
    let labelIndex: [String: Int]
    let timeZone: TimeZoneOffsetTable
    /// Plan templates per (role set, slot, break-glass); see `AccessPlan`.
    let planCache = PlanCache()

    private static let generations = Atomic<UInt64>(0)

    /// Validates `policy` completely and compiles it; throws every problem found at once.
    public init(_ policy: AccessPolicy) throws(PolicyValidationError) {
        var resolved = ResolvedPolicy(policy)
        guard resolved.issues.isEmpty else { throw PolicyValidationError(issues: resolved.issues) }
        source = policy
        warnings = PolicyValidationError(issues: resolved.warnings).issues
        generation = Self.generations.wrappingAdd(1, ordering: .relaxed).newValue
        roleIndex = resolved.roleIndex
        roleNames = resolved.roleNames
        roleClosures = resolved.roleClosure.map { RoleBits($0) }
        breakGlassEligible = RoleBits(resolved.breakGlassRoles)
        breakGlassMaximumSeconds = policy.breakGlass?.maximumDurationSeconds ?? 0
        typeIndex = resolved.typeIndex
        typeNames = resolved.typeNames
        typeFieldNames = resolved.typeFields
        typeFieldIndex = resolved.typeFieldIndex
        actionIndex = resolved.actionIndex
        actionNames = resolved.actionNames
        actionCount = resolved.actionNames.count
        labelIndex = resolved.labelIndex
        timeZone = resolved.timeZone

        let slotCount = resolved.typeNames.count * actionCount
        var applies = [Bool](repeating: false, count: slotCount)
        for type in resolved.typeNames.indices {
            for action in resolved.typeActions[type] { applies[type * actionCount + action] = true }
        }
        slotApplies = applies

        var denies = [[CompiledRule]](repeating: [], count: slotCount)
        var allows = [[CompiledRule]](repeating: [], count: slotCount)
        var ids: [String] = []
        var compiledConditions: [CompiledCondition] = []
        for rule in policy.rules {
            let ruleID = Int32(ids.count)
            ids.append(rule.id.name)
            var conditionIndex: Int32 = -1
            if !rule.condition.isUnconditional {
                conditionIndex = Int32(compiledConditions.count)
                compiledConditions.append(CompiledCondition(rule.condition, labels: resolved.labelIndex))
            }
            let targets = resolved.resolveTargetsQuietly(
                actions: rule.actions, types: rule.resourceTypes, fields: rule.fields)
            for role in rule.roles {
                guard let roleNumber = resolved.roleIndex[role.name] else { continue }
                for target in targets.pairs {
                    let compiled = CompiledRule(
                        roleWord: Int32(roleNumber >> 6), roleMask: UInt64(1) << UInt64(roleNumber & 63),
                        condition: conditionIndex, ruleID: ruleID, isBreakGlass: false,
                        isWholeDeny: rule.effect == .deny && rule.fields == nil,
                        fields: targets.fields[target.type] ?? .empty)
                    let slot = target.type * actionCount + target.action
                    if rule.effect == .deny { denies[slot].append(compiled) } else { allows[slot].append(compiled) }
                }
            }
        }
        for (number, grant) in (policy.breakGlass?.grants ?? []).enumerated() {
            let ruleID = Int32(ids.count)
            ids.append(breakGlassRuleID(number))
            let targets = resolved.resolveTargetsQuietly(
                actions: grant.actions, types: grant.resourceTypes, fields: grant.fields)
            for target in targets.pairs {
                allows[target.type * actionCount + target.action].append(
                    CompiledRule(
                        roleWord: -1, roleMask: 0, condition: -1, ruleID: ruleID, isBreakGlass: true,
                        isWholeDeny: false, fields: targets.fields[target.type] ?? .empty))
            }
        }
        var flat = ContiguousArray<CompiledRule>()
        var starts: [Int32] = []
        var denyEnds: [Int32] = []
        for slot in 0..<slotCount {
            starts.append(Int32(flat.count))
            flat.append(contentsOf: denies[slot])
            denyEnds.append(Int32(flat.count))
            flat.append(contentsOf: allows[slot])
        }
        starts.append(Int32(flat.count))
        rules = flat
        slotStart = starts
        slotDenyEnd = denyEnds
        ruleIDs = ids
        conditions = compiledConditions
    }

    /// Parses, validates and compiles a YAML policy; throws every problem found, with locations.
    public convenience init(yaml: String) throws(PolicyValidationError) {
        try self.init(try AccessPolicy(yaml: yaml))
    }

    /// Parses, validates and compiles a YAML policy given as bytes (see ``AccessPolicy/init(yamlBytes:)``:
    /// bytes that are not UTF-8 are a located problem like any other).
    public convenience init(yamlBytes: some Collection<UInt8>) throws(PolicyValidationError) {
        try self.init(try AccessPolicy(yamlBytes: yamlBytes))
    }

    /// The declared role names.
    public var roles: [String] { roleNames }
    /// The declared resource type names.
    public var resourceTypes: [String] { typeNames }
    /// Every action the policy knows (built in and declared).
    public var actions: [AccessAction] { actionNames.map(AccessAction.init(rawValue:)) }

    /// The fields of `resourceType`, in declared order (empty for an unknown type).
    public func fields(of resourceType: String) -> [String] {
        typeIndex[resourceType].map { typeFieldNames[$0] } ?? []
    }

    /// Every role `role` inherits from, itself included (empty for an unknown role).
    public func effectiveRoles(of role: String) -> Set<String> {
        guard let index = roleIndex[role] else { return [] }
        return Set(roleNames.indices.filter { roleClosures[index].contains($0) }.map { roleNames[$0] })
    }

    /// Resolves `subject`'s roles once (flattened through inheritance) for repeated decisions.
    @_spi(PolicyEvaluation)
    public func prepare(_ subject: Subject) -> PreparedSubject {
        let (bits, known) = resolveRoles(subject.roles)
        return PreparedSubject(subject: subject, roles: bits, generation: generation, hasKnownRole: known)
    }

    /// The flattened role set of `roles`, and whether any of them is declared.
    func resolveRoles(_ roles: [String]) -> (RoleBits, Bool) {
        var bits = RoleBits()
        var known = false
        for role in roles {
            if let index = roleIndex[role] {
                bits.formUnion(roleClosures[index])
                known = true
            }
        }
        return (bits, known)
    }

    /// Decides `request`. Care-team conditions use the subject's ``Subject/careTeamPatients`` or else
    /// `careTeams`; time (break-glass expiry, time-of-day conditions) comes from `clock`.
    @_spi(PolicyEvaluation)
    public func decide(
        _ request: AccessRequest, careTeams: (any CareTeamDirectory)? = nil,
        clock: any PHIGuardClock = SystemClock()
    ) -> AccessDecision {
        let (roles, known) = resolveRoles(request.subject.roles)
        let (slot, type) = resolveSlot(request.resource.type, request.action)
        return decide(
            roles: roles, hasKnownRole: known, subject: request.subject, slot: slot, type: type,
            resource: request.resource, breakGlass: request.breakGlass, principal: nil, careTeams: careTeams,
            clock: clock)
    }

    /// Decides for a prepared subject (the fast path: no role resolution).
    @_spi(PolicyEvaluation)
    public func decide(
        _ subject: PreparedSubject, _ action: AccessAction, _ resource: Resource, breakGlass: BreakGlassGrant? = nil,
        careTeams: (any CareTeamDirectory)? = nil, clock: any PHIGuardClock = SystemClock()
    ) -> AccessDecision {
        decide(subject, action, resource, breakGlass: breakGlass, principal: nil, careTeams: careTeams, clock: clock)
    }

    /// The decision for `principal` (its session is checked against a grant's binding); `nil` for
    /// policy tooling, which decides for a bare subject and cannot check a session.
    func decide(
        _ subject: PreparedSubject, _ action: AccessAction, _ resource: Resource, breakGlass: BreakGlassGrant?,
        principal: AuthenticatedPrincipal?, careTeams: (any CareTeamDirectory)?, clock: any PHIGuardClock
    ) -> AccessDecision {
        let (slot, type) = resolveSlot(resource.type, action)
        return decide(subject, slot: slot, type: type, resource, breakGlass, principal, careTeams, clock)
    }

    /// Resolves a resource type and action once, for repeated decisions on resources of that type.
    ///
    /// ```swift
    /// let readChart = policy.target(resourceType: "chart", action: .read)   // at start-up
    /// let decision = policy.decide(session.preparedSubject, readChart, chart)
    /// ```
    public func target(resourceType: String, action: AccessAction) -> DecisionTarget {
        let (slot, type) = resolveSlot(resourceType, action)
        return DecisionTarget(
            resourceType: resourceType, action: action, slot: slot, type: type, generation: generation)
    }

    /// Decides for a prepared subject and a pre-resolved target (the fastest path: no string lookups).
    ///
    /// If `target` was resolved against another policy, or names another type than `resource.type`,
    /// it is resolved again from `resource.type`, so a stale target is slower, never wrong.
    @_spi(PolicyEvaluation)
    public func decide(
        _ subject: PreparedSubject, _ target: DecisionTarget, _ resource: Resource, breakGlass: BreakGlassGrant? = nil,
        careTeams: (any CareTeamDirectory)? = nil, clock: any PHIGuardClock = SystemClock()
    ) -> AccessDecision {
        decide(subject, target, resource, breakGlass: breakGlass, principal: nil, careTeams: careTeams, clock: clock)
    }

    /// The target decision for `principal` (as the action form above).
    func decide(
        _ subject: PreparedSubject, _ target: DecisionTarget, _ resource: Resource, breakGlass: BreakGlassGrant?,
        principal: AuthenticatedPrincipal?, careTeams: (any CareTeamDirectory)?, clock: any PHIGuardClock
    ) -> AccessDecision {
        if target.generation == generation && target.resourceType == resource.type {
            return decide(
                subject, slot: target.slot, type: target.type, resource, breakGlass, principal, careTeams, clock)
        }
        let (slot, type) = resolveSlot(resource.type, target.action)
        return decide(subject, slot: slot, type: type, resource, breakGlass, principal, careTeams, clock)
    }

    private func decide(
        _ subject: PreparedSubject, slot: Int32, type: Int32, _ resource: borrowing Resource,
        _ breakGlass: BreakGlassGrant?, _ principal: AuthenticatedPrincipal?, _ careTeams: (any CareTeamDirectory)?,
        _ clock: any PHIGuardClock
    ) -> AccessDecision {
        if subject.generation == generation {
            return decide(
                roles: subject.roles, hasKnownRole: subject.hasKnownRole, subject: subject.subject, slot: slot,
                type: type, resource: resource, breakGlass: breakGlass, principal: principal, careTeams: careTeams,
                clock: clock)
        }
        let (roles, known) = resolveRoles(subject.subject.roles)
        return decide(
            roles: roles, hasKnownRole: known, subject: subject.subject, slot: slot, type: type, resource: resource,
            breakGlass: breakGlass, principal: principal, careTeams: careTeams, clock: clock)
    }

    /// The slot of (type, action): `slot >= 0`; `-1` unknown type; `-2` unknown or inapplicable action.
    func resolveSlot(_ resourceType: String, _ action: AccessAction) -> (slot: Int32, type: Int32) {
        guard let type = typeIndex[resourceType] else { return (-1, -1) }
        guard let actionNumber = actionIndex[action.rawValue], slotApplies[type * actionCount + actionNumber] else {
            return (-2, Int32(type))
        }
        return (Int32(type * actionCount + actionNumber), Int32(type))
    }

    /// The decision core: role bits in, no copies of the subject or resource.
    private func decide(
        roles: borrowing RoleBits, hasKnownRole: Bool, subject: borrowing Subject, slot: Int32, type: Int32,
        resource: borrowing Resource, breakGlass: BreakGlassGrant?, principal: AuthenticatedPrincipal?,
        careTeams: (any CareTeamDirectory)?, clock: any PHIGuardClock
    ) -> AccessDecision {
        var context = EvaluationContext()
        // The grant's status is settled before anything can refuse, so that every decision on a request
        // that carried a grant (an unknown type or action included) is flagged for review.
        let status: AccessDecision.BreakGlassStatus?
        if let grant = breakGlass {
            status = breakGlassStatus(
                of: grant, subjectID: subject.id, principal: principal, roles: roles, patientID: resource.patientID,
                now: context.now(clock))
        } else {
            status = nil
        }
        guard slot >= 0 else {
            return denial(
                slot == -1 ? .unknownResourceType : .unknownAction, type: type, breakGlass: breakGlass, status: status)
        }
        let type = Int(type)
        let slot = Int(slot)
        let breakGlassActive = status == .active
        guard hasKnownRole else {
            return denial(.noKnownRole, type: type, breakGlass: breakGlass, status: status)
        }

        let start = Int(slotStart[slot])
        let denyEnd = Int(slotDenyEnd[slot])
        let end = Int(slotStart[slot + 1])
        var denied = MatchedRules.none
        var decided = MatchedRules.none
        var hiddenFields = FieldBits.empty
        var wholeDeny = false
        return rules.withUnsafeBufferPointer { rules in
            var position = start
            while position < denyEnd {
                let rule = rules[position]
                // A deny applies unless its condition is known not to hold: one that cannot be evaluated
                // (a missing attribute, an undeclared label on the resource) applies (fail closed).
                if roles.contains(word: rule.roleWord, mask: rule.roleMask)
                    && (rule.condition < 0
                        || conditions[Int(rule.condition)].evaluate(subject, resource, &context, self, careTeams, clock)
                            != .no)
                {
                    if rule.isWholeDeny {
                        wholeDeny = true
                        denied.record(position - start)
                    } else {
                        hiddenFields.formUnion(rule.fields)
                        decided.record(position - start)
                    }
                }
                position += 1
            }
            if wholeDeny {
                denied.slot = Int32(slot)
                return AccessDecision(
                    isAllowed: false, reason: .explicitDeny, fields: .empty, matched: denied, policy: self,
                    typeIndex: Int32(type), breakGlass: breakGlass, breakGlassStatus: status)
            }
            var visible = FieldBits.empty
            var anyAllow = false
            var regularAllow = false
            var roleMatched = false
            while position < end {
                let rule = rules[position]
                let applies =
                    rule.isBreakGlass ? breakGlassActive : roles.contains(word: rule.roleWord, mask: rule.roleMask)
                if applies {
                    roleMatched = true
                    // An allow holds only when its condition is known to hold.
                    if rule.condition < 0
                        || conditions[Int(rule.condition)].evaluate(subject, resource, &context, self, careTeams, clock)
                            == .yes
                    {
                        visible.formUnion(rule.fields)
                        decided.record(position - start)
                        anyAllow = true
                        if !rule.isBreakGlass { regularAllow = true }
                    }
                }
                position += 1
            }
            decided.slot = Int32(slot)
            guard anyAllow else {
                return denial(
                    roleMatched ? .conditionNotMet : .noMatchingRule, type: type, breakGlass: breakGlass, status: status
                )
            }
            visible.subtract(hiddenFields)
            if visible.isEmpty && !typeFieldNames[type].isEmpty {
                return AccessDecision(
                    isAllowed: false, reason: .allFieldsDenied, fields: .empty, matched: decided, policy: self,
                    typeIndex: Int32(type), breakGlass: breakGlass, breakGlassStatus: status)
            }
            return AccessDecision(
                isAllowed: true, reason: regularAllow ? .allowed : .allowedByBreakGlass, fields: visible,
                matched: decided, policy: self, typeIndex: Int32(type), breakGlass: breakGlass, breakGlassStatus: status
            )
        }
    }

    /// What a grant attached to a request by `subjectID` (holding `roles`) on a resource of
    /// `patientID` counts for at `now`. With a `principal`, its session must be the grant's (same
    /// handle, same proof time to the microsecond); policy tooling passes `nil` (no session).
    func breakGlassStatus(
        of grant: BreakGlassGrant, subjectID: String, principal: AuthenticatedPrincipal?, roles: borrowing RoleBits,
        patientID: String?, now: Date
    ) -> AccessDecision.BreakGlassStatus {
        if grant.subjectID != subjectID || !roles.intersects(breakGlassEligible) { return .notApplicable }
        if let principal,
            principal.sessionHandle != grant.sessionHandle
                || principal.recentlyAuthenticatedAt.microsecondsSince1970
                    != grant.sessionAuthenticatedAt.microsecondsSince1970
        {
            return .otherSession
        }
        if !grant.scope.contains(patientID) { return .outOfScope }
        if let revokedAt = grant.revokedAt, revokedAt <= now { return .revoked }
        return grant.isActive(at: now) ? .active : .expired
    }

    private func denial(
        _ reason: AccessDecision.Reason, type: some BinaryInteger, breakGlass: BreakGlassGrant?,
        status: AccessDecision.BreakGlassStatus?
    ) -> AccessDecision {
        AccessDecision(
            isAllowed: false, reason: reason, fields: .empty, matched: .none, policy: self, typeIndex: Int32(type),
            breakGlass: breakGlass, breakGlassStatus: status)
    }

    /// Issues a break-the-glass grant to `subject` for `scope` if one of its roles may invoke it
    /// (policy tooling: the grant is bound to session `sessionHandle`, which tooling decisions do not
    /// check; applications use `AccessEngine.breakGlass(for:scope:reason:duration:)`).
    ///
    /// - Parameters:
    ///   - duration: how long the grant lasts; `nil` means the policy's `maxDuration`, and longer is an error.
    ///   - now: the issue time (from the engine's clock).
    @_spi(PolicyEvaluation)
    public func breakGlass(
        for subject: Subject, scope: BreakGlassScope, reason: BreakGlassReason, duration: Duration? = nil, now: Date,
        sessionHandle: String = "policy-tooling", sessionAuthenticatedAt: Date? = nil
    ) throws(BreakGlassError) -> BreakGlassGrant {
        guard breakGlassMaximumSeconds > 0, prepare(subject).roles.intersects(breakGlassEligible) else {
            throw .notPermitted
        }
        guard scope.isValid else { throw .invalidScope }
        let justification = reason.justification.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !justification.isEmpty else { throw .missingJustification }
        guard justification.count <= 2_000 else { throw .justificationTooLong }
        var seconds = Double(breakGlassMaximumSeconds)
        if let duration {
            let requested = duration.seconds
            guard requested > 0, requested <= seconds else { throw .invalidDuration }
            seconds = requested
        }
        return BreakGlassGrant(
            id: UUID().uuidString.lowercased(), subjectID: subject.id, sessionHandle: sessionHandle,
            sessionAuthenticatedAt: sessionAuthenticatedAt ?? now, scope: scope,
            reason: BreakGlassReason(category: reason.category, justification: justification), issuedAt: now,
            expiresAt: now.addingTimeInterval(seconds))
    }
}

/// A resource type and action resolved against one compiled policy (see ``CompiledPolicy/target(resourceType:action:)``).
public struct DecisionTarget: Sendable, Hashable {
    /// The resource type name.
    public let resourceType: String
    /// The action.
    public let action: AccessAction
    let slot: Int32
    let type: Int32
    let generation: UInt64
}

/// One rule of one (type, action) slot, for one role.
struct CompiledRule: Sendable {
    var roleWord: Int32
    var roleMask: UInt64
    var condition: Int32
    var ruleID: Int32
    var isBreakGlass: Bool
    var isWholeDeny: Bool
    var fields: FieldBits
}

/// Per-decision facts computed at most once, and only if a condition needs them.
/// The clock and care-team directory are passed alongside rather than stored, so that a decision
/// never copies (and destroys) the existentials when no condition needs them.
struct EvaluationContext {
    private var cachedNow: Date?
    private var cachedLabels: (bits: UInt64, hasUnknown: Bool)?

    mutating func now(_ clock: any PHIGuardClock) -> Date {
        if let cachedNow { return cachedNow }
        let now = clock.now
        cachedNow = now
        return now
    }

    mutating func labels(of resource: borrowing Resource, _ index: [String: Int]) -> (bits: UInt64, hasUnknown: Bool) {
        if let cachedLabels { return cachedLabels }
        var bits: UInt64 = 0
        var unknown = false
        for label in resource.labels {
            if let number = index[label] { bits |= UInt64(1) << UInt64(number) } else { unknown = true }
        }
        cachedLabels = (bits, unknown)
        return (bits, unknown)
    }
}

/// Whether a condition holds: allow rules need `.yes`; deny rules apply unless `.no` (fail closed).
enum ConditionTruth {
    case no
    case yes
    case unknown
}

/// A rule's condition with labels as bit masks.
struct CompiledCondition: Sendable {
    var relationship: AccessPolicy.Relationship?
    var labelsNoneOf: UInt64
    var labelsAnyOf: UInt64
    var attributes: [AccessPolicy.AttributeComparison]
    var window: AccessPolicy.TimeWindow?

    init(_ condition: AccessPolicy.Condition, labels: [String: Int]) {
        relationship = condition.relationship
        labelsNoneOf = condition.labelsNoneOf.reduce(0) { $0 | (UInt64(1) << UInt64(labels[$1.name] ?? 0)) }
        labelsAnyOf = condition.labelsAnyOf.reduce(0) { $0 | (UInt64(1) << UInt64(labels[$1.name] ?? 0)) }
        attributes = condition.attributes
        window = condition.timeOfDay
    }

    /// Three-valued: `.unknown` when a part of the condition cannot be evaluated (a missing or empty
    /// attribute, an undeclared label on the resource) and no part is known to fail.
    func evaluate(
        _ subject: borrowing Subject, _ resource: borrowing Resource, _ context: inout EvaluationContext,
        _ policy: CompiledPolicy, _ careTeams: (any CareTeamDirectory)?, _ clock: any PHIGuardClock
    ) -> ConditionTruth {
        var result = ConditionTruth.yes
        if let relationship {
            // Empty ids are no ids: they never satisfy a relationship.
            let isSelf = subject.patientID?.isEmpty == false && subject.patientID == resource.patientID
            switch relationship {
            case .self:
                if !isSelf { return .no }
            case .careTeam:
                if !Self.onCareTeam(subject, resource, careTeams) { return .no }
            case .selfOrCareTeam:
                if !isSelf && !Self.onCareTeam(subject, resource, careTeams) { return .no }
            }
        }
        if labelsNoneOf != 0 || labelsAnyOf != 0 {
            let labels = context.labels(of: resource, policy.labelIndex)
            // An undeclared label on a resource might be any declared one under another spelling.
            if labelsNoneOf != 0 {
                if labels.bits & labelsNoneOf != 0 { return .no }
                if labels.hasUnknown { result = .unknown }
            }
            if labelsAnyOf != 0 && labels.bits & labelsAnyOf == 0 {
                if !labels.hasUnknown { return .no }
                result = .unknown
            }
        }
        for comparison in attributes {
            let attributes = comparison.side == .resource ? resource.attributes : subject.attributes
            let expected: String?
            switch comparison.operand {
            case .value(let literal): expected = literal
            case .subjectAttribute(let key): expected = subject.attributes[key]
            }
            // A missing or empty attribute (on either side) cannot be compared.
            guard let value = attributes[comparison.key], !value.isEmpty, let expected, !expected.isEmpty else {
                result = .unknown
                continue
            }
            if (value == expected) == comparison.negated { return .no }
        }
        if let window {
            if !window.contains(minute: policy.timeZone.minuteOfDay(context.now(clock))) { return .no }
        }
        return result
    }

    private static func onCareTeam(
        _ subject: borrowing Subject, _ resource: borrowing Resource, _ careTeams: (any CareTeamDirectory)?
    ) -> Bool {
        guard let patient = resource.patientID, !patient.isEmpty else { return false }
        if let patients = subject.careTeamPatients { return patients.contains(patient) }
        return careTeams?.isOnCareTeam(subjectID: subject.id, patientID: patient) ?? false
    }
}

extension ResolvedPolicy {
    /// Target resolution on an already validated policy (no issues can arise).
    mutating func resolveTargetsQuietly(
        actions: [AccessPolicy.Named], types: [AccessPolicy.Named], fields: [AccessPolicy.Named]?
    ) -> (pairs: [(type: Int, action: Int)], fields: [Int: FieldBits]) {
        let saved = issues
        defer { issues = saved }
        return resolveTargets(actions: actions, types: types, fields: fields, owner: "", at: nil)
    }
}
