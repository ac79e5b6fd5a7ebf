/// The engine's answer: allow or deny, which fields are visible, which rules decided, and why.
///
/// ```swift
/// let decision = engine.decide(session.principal, .read, chart)
/// if decision.isAllowed {
///     let chart = fullChart.filter { decision.isFieldVisible($0.key) }
/// }
/// ```
public struct AccessDecision: Sendable {
    /// Why the decision came out the way it did (stable, machine-readable).
    public enum Reason: String, Sendable, Hashable, CaseIterable, Codable {
        /// At least one allow rule matched and no deny rule took everything away.
        case allowed
        /// Only the active break-glass grant allowed it.
        case allowedByBreakGlass
        /// A deny rule for the whole action matched; deny always wins.
        case explicitDeny
        /// Allow rules matched, but deny rules hid every field they granted.
        case allFieldsDenied
        /// No allow rule names any of the subject's roles for this action on this type (default deny).
        case noMatchingRule
        /// Allow rules for the subject's roles exist, but none of their conditions held.
        case conditionNotMet
        /// The resource type is not declared in the policy.
        case unknownResourceType
        /// The action is not declared, or does not apply to the resource type.
        case unknownAction
        /// None of the subject's roles is declared in the policy.
        case noKnownRole
        /// The principal's session had passed its idle or absolute limit (decided by ``AccessEngine``
        /// before the policy is consulted).
        case authenticationExpired
        /// The action asked for a recent proof of credentials and the principal's is older: step up
        /// (decided by ``AccessEngine`` before the policy is consulted).
        case recentAuthenticationRequired
    }

    /// What happened to the break-glass grant attached to the request.
    public enum BreakGlassStatus: String, Sendable, Hashable, Codable {
        /// The grant was in force; the decision was made under it.
        case active
        /// The grant has expired (or is not yet valid); it was ignored.
        case expired
        /// The grant belongs to another user, or the subject's roles may no longer break the glass.
        case notApplicable
        /// The grant was issued in another session, or this session was re-issued since (sign-out and
        /// sign-in, password change, privilege change, step-up): it ended with its session.
        case otherSession
        /// The resource's patient is not in the grant's scope (or the resource has no patient).
        case outOfScope
        /// The grant was revoked.
        case revoked
    }

    /// Whether the action is allowed.
    public let isAllowed: Bool
    /// Why.
    public let reason: Reason
    /// The id of the break-glass grant attached to the request, if any.
    public let breakGlassGrantID: String?
    /// What happened to that grant; `nil` when the request carried none.
    public let breakGlassStatus: BreakGlassStatus?

    let fields: FieldBits
    let matched: MatchedRules
    let policy: CompiledPolicy
    let typeIndex: Int32

    init(
        isAllowed: Bool, reason: Reason, fields: FieldBits, matched: MatchedRules, policy: CompiledPolicy,
        typeIndex: Int32, breakGlass: BreakGlassGrant?, breakGlassStatus: BreakGlassStatus?
    ) {
        self.isAllowed = isAllowed
        self.reason = reason
        self.fields = fields
        self.matched = matched
        self.policy = policy
        self.typeIndex = typeIndex
        self.breakGlassGrantID = breakGlass?.id
        self.breakGlassStatus = breakGlassStatus
    }

    /// A denial decided before the policy was consulted (an expired principal, a missing step-up).
    /// A request that carried a grant keeps it (and its status), so the refusal is flagged for review.
    static func refused(
        _ reason: Reason, policy: CompiledPolicy, breakGlass: BreakGlassGrant? = nil, status: BreakGlassStatus? = nil
    ) -> AccessDecision {
        AccessDecision(
            isAllowed: false, reason: reason, fields: FieldBits(), matched: .none, policy: policy, typeIndex: -1,
            breakGlass: breakGlass, breakGlassStatus: status)
    }

    /// `true` when the request carried a break-glass grant: the audit log must flag this decision for
    /// review (whether the grant was needed, honoured, or rejected as expired or not applicable), on
    /// every path — an unknown resource type or action, and the engine's own refusals, included.
    public var requiresAuditReview: Bool { breakGlassStatus != nil }

    /// The fields the subject may see (or write), in the resource type's declared order; empty when denied.
    public var visibleFields: [String] {
        guard isAllowed, typeIndex >= 0 else { return [] }
        let names = policy.typeFieldNames[Int(typeIndex)]
        return fields.indexes.compactMap { $0 < names.count ? names[$0] : nil }
    }

    /// Whether `field` is among ``visibleFields`` (a dictionary lookup and a bit test).
    public func isFieldVisible(_ field: String) -> Bool {
        guard isAllowed, typeIndex >= 0, let index = policy.typeFieldIndex[Int(typeIndex)][field] else {
            return false
        }
        return fields.contains(index)
    }

    /// The ids of the rules that decided: the matching deny rules when denied by a rule; the matching
    /// allow rules (and field-hiding deny rules) when allowed. Break-glass grants appear as
    /// `break-glass.N`. Empty for default deny.
    public var decidingRuleIDs: [String] {
        var seen = Set<String>()
        return matched.ruleIndexes(in: policy).compactMap { index in
            let id = policy.ruleIDs[Int(index)]
            return seen.insert(id).inserted ? id : nil
        }
    }
}

/// Which entries of one (type, action) slot matched: a bit mask for the first 64, a list for the rest.
struct MatchedRules: Sendable {
    var slot: Int32 = -1
    var mask: UInt64 = 0
    var overflow: ContiguousArray<Int32>?

    static let none = MatchedRules()

    @inline(__always) mutating func record(_ position: Int) {
        if position < 64 {
            mask |= UInt64(1) << UInt64(position)
        } else {
            overflow = (overflow ?? []) + [Int32(position)]
        }
    }

    func ruleIndexes(in policy: CompiledPolicy) -> [Int32] {
        guard slot >= 0 else { return [] }
        let start = Int(policy.slotStart[Int(slot)])
        var positions = (0..<64).filter { mask & (UInt64(1) << UInt64($0)) != 0 }
        positions += (overflow ?? []).map(Int.init)
        return positions.map { policy.rules[start + $0].ruleID }
    }
}
