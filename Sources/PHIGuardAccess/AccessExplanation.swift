/// A rule-by-rule account of one decision, for `phiguard policy explain` and for debugging a policy.
public struct AccessExplanation: Sendable {
    /// How one rule of the request's (resource type, action) slot fared.
    public struct Entry: Sendable, Hashable, Codable {
        /// The rule id (`break-glass.N` for break-glass grants).
        public var ruleID: String
        /// `allow`, `deny`, `deny-fields` or `break-glass`.
        public var kind: String
        /// The rule's role (empty for break-glass grants).
        public var role: String
        /// Whether the subject holds that role (directly or by inheritance), or the grant is active.
        public var roleMatched: Bool
        /// Whether the rule's condition held (`nil` when the role did not match, so it was not evaluated).
        /// For a deny rule, a condition that could not be evaluated (a missing attribute, an undeclared
        /// label) counts as held, as it does in the decision: denies fail closed.
        public var conditionHeld: Bool?
        /// The fields the rule grants or hides.
        public var fields: [String]
    }

    /// The decision itself.
    public var decision: AccessDecision
    /// The subject's effective roles (declared ones, flattened through inheritance), sorted.
    public var effectiveRoles: [String]
    /// Every rule considered, in evaluation order (denies first).
    public var entries: [Entry]
}

extension CompiledPolicy {
    /// Decides `request` and explains every rule that was considered.
    @_spi(PolicyEvaluation)
    public func explain(
        _ request: AccessRequest, careTeams: (any CareTeamDirectory)? = nil, clock: any PHIGuardClock = SystemClock()
    ) -> AccessExplanation {
        let decision = decide(request, careTeams: careTeams, clock: clock)
        let prepared = prepare(request.subject)
        let effective = roleNames.indices.filter { prepared.roles.contains($0) }.map { roleNames[$0] }.sorted()
        guard let type = typeIndex[request.resource.type], let action = actionIndex[request.action.rawValue],
            slotApplies[type * actionCount + action]
        else {
            return AccessExplanation(decision: decision, effectiveRoles: effective, entries: [])
        }
        let slot = type * actionCount + action
        var context = EvaluationContext()
        let breakGlassActive = decision.breakGlassStatus == .active
        var entries: [AccessExplanation.Entry] = []
        for position in Int(slotStart[slot])..<Int(slotStart[slot + 1]) {
            let rule = rules[position]
            let kind =
                rule.isBreakGlass
                ? "break-glass"
                : position < Int(slotDenyEnd[slot]) ? (rule.isWholeDeny ? "deny" : "deny-fields") : "allow"
            var role = ""
            if !rule.isBreakGlass {
                let number = Int(rule.roleWord) * 64 + rule.roleMask.trailingZeroBitCount
                role = number < roleNames.count ? roleNames[number] : ""
            }
            let matched =
                rule.isBreakGlass ? breakGlassActive : prepared.roles.contains(word: rule.roleWord, mask: rule.roleMask)
            var held: Bool?
            if matched {
                if rule.condition < 0 {
                    held = true
                } else {
                    let truth = conditions[Int(rule.condition)].evaluate(
                        request.subject, request.resource, &context, self, careTeams, clock)
                    // As the decision reads it: a deny counts an unevaluable condition as held (fail closed).
                    held = kind == "allow" || kind == "break-glass" ? truth == .yes : truth != .no
                }
            }
            let names = typeFieldNames[type]
            entries.append(
                AccessExplanation.Entry(
                    ruleID: ruleIDs[Int(rule.ruleID)], kind: kind, role: role, roleMatched: matched,
                    conditionHeld: held, fields: rule.fields.indexes.compactMap { $0 < names.count ? names[$0] : nil }))
        }
        return AccessExplanation(decision: decision, effectiveRoles: effective, entries: entries)
    }
}
