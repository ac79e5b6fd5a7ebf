public import Foundation
public import PHIGuardAccess
public import PHIGuardAudit

extension AuditEvent {
    /// The typed audit bridge: an ``AuditEventKind/accessDecision`` event for `decision`, made by the
    /// engine for `principal` doing `action` on `resource`.
    ///
    /// It carries the principal's id, session handle and roles (those the policy knows, sorted,
    /// joined with `/` in ``AuditEvent/actorRole``), the decision's reason (or `reason` when given),
    /// its deciding rule ids, `fields` (the names returned or changed, only when allowed), and for a
    /// request that carried a break-glass grant the flag, the grant's category, its id (attribute
    /// `break-glass-grant`) and what happened to it (`break-glass-status`). `date` should be the
    /// engine's clock (`AccessEngine.clock`), as ``GuardedRecords`` passes it.
    ///
    /// ```swift
    /// let decision = engine.decide(principal, .read, chart, breakGlass: grant)
    /// let event = try AuditEvent.accessDecision(
    ///     decision, principal: principal, action: .read, resource: chart, policy: engine.policy,
    ///     fields: decision.visibleFields, breakGlass: grant, at: engine.clock.now)
    /// try await log.append(event)
    /// ```
    ///
    /// Every rule id a policy can produce is an audit identifier (policy validation checks rule
    /// ids; break-glass grants are `break-glass.N`), so this throws only for ids the app supplied:
    /// a principal, session, resource or patient id that is not an ``AuditIdentifier``.
    public static func accessDecision(
        _ decision: AccessDecision, principal: AuthenticatedPrincipal, action: AccessAction, resource: Resource,
        policy: CompiledPolicy, fields: [String], outcome: Bool? = nil, reason: String? = nil,
        breakGlass: BreakGlassGrant? = nil, at date: Date
    ) throws(AuditError) -> AuditEvent {
        let allowed = outcome ?? decision.isAllowed
        var attributes: [String: String] = [:]
        if let grantID = decision.breakGlassGrantID {
            attributes["break-glass-grant"] = grantID
            attributes["break-glass-status"] = decision.breakGlassStatus?.rawValue ?? "none"
        }
        let reviewed = decision.requiresAuditReview
        let category = reviewed ? (breakGlass?.reason.category.rawValue ?? "unspecified") : nil
        return try AuditEvent(
            kind: .accessDecision, timestamp: timestamp(for: date), actorID: principal.subject.id,
            actorRole: roleText(principal.subject.roles, known: policy.roles), sessionID: principal.sessionHandle,
            action: action.rawValue, resourceType: resource.type, resourceID: resource.id.isEmpty ? nil : resource.id,
            patientID: resource.patientID, fields: allowed ? fields : [], outcome: allowed ? .allow : .deny,
            reason: reason ?? decision.reason.rawValue, ruleIDs: decision.decidingRuleIDs, breakGlass: reviewed,
            breakGlassReason: category, attributes: attributes)
    }

    /// The roles the policy knows, sorted and joined with `/` (policy role names never contain `/`),
    /// cut at the last whole role that fits ``AuditIdentifier/maximumLength``; `nil` when none.
    static func roleText(_ roles: [String], known: [String]) -> String? {
        // A subject holds a handful of roles: linear scans, no sets (this runs on every guarded read).
        if roles.count == 1 { return known.contains(roles[0]) ? roles[0] : nil }
        var text = ""
        var previous: String?
        for role in roles.sorted() where role != previous && known.contains(role) {
            previous = role
            let next = text.isEmpty ? role : text + "/" + role
            guard next.utf8.count <= AuditIdentifier.maximumLength else { break }
            text = next
        }
        return text.isEmpty ? nil : text
    }
}
