import Foundation
@_spi(PolicyEvaluation) import PHIGuardAccess

/// A deliberately naive evaluator: no compilation, no bit sets, just loops over the source rules.
/// It restates the documented semantics independently so the differential test can catch the
/// compiled engine drifting from them.
struct ReferenceEvaluator {
    let policy: AccessPolicy

    struct Outcome: Equatable, CustomStringConvertible {
        var allowed: Bool
        var reason: AccessDecision.Reason
        var fields: Set<String>
        var ruleIDs: Set<String>
        var breakGlass: AccessDecision.BreakGlassStatus?

        var description: String {
            "\(allowed) \(reason) fields=\(fields.sorted()) rules=\(ruleIDs.sorted()) bg=\(String(describing: breakGlass))"
        }
    }

    func decide(_ request: AccessRequest, careTeams: (any CareTeamDirectory)?, now: Date) -> Outcome {
        func deny(_ reason: AccessDecision.Reason, _ status: AccessDecision.BreakGlassStatus?) -> Outcome {
            Outcome(allowed: false, reason: reason, fields: [], ruleIDs: [], breakGlass: status)
        }
        // Effective roles: every declared role the subject holds, and all their ancestors.
        var effective = Set<String>()
        var pending = request.subject.roles.filter { name in policy.roles.contains { $0.name.name == name } }
        while let role = pending.popLast() {
            guard effective.insert(role).inserted else { continue }
            if let definition = policy.roles.first(where: { $0.name.name == role }) {
                pending += definition.inherits.map(\.name)
            }
        }

        var status: AccessDecision.BreakGlassStatus?
        if let grant = request.breakGlass {
            let eligible = policy.breakGlass.map { section in section.roles.contains { effective.contains($0.name) } }
            if grant.subjectID != request.subject.id || eligible != true {
                status = .notApplicable
            } else if !grant.scope.patientIDs.contains(where: { $0 == request.resource.patientID }) {
                status = .outOfScope
            } else if now < grant.issuedAt || now >= grant.expiresAt {
                status = .expired
            } else {
                status = .active
            }
        }
        // Every decision on a request that carried a grant reports the grant's status (review flag).
        guard let type = policy.resourceTypes.first(where: { $0.name.name == request.resource.type }) else {
            return deny(.unknownResourceType, status)
        }
        let action = request.action.rawValue
        let declared = AccessAction.builtIn.map(\.rawValue) + policy.actions.map(\.name)
        let applicable = type.actions.map { $0.map(\.name) } ?? declared
        guard declared.contains(action), applicable.contains(action) else { return deny(.unknownAction, status) }
        if effective.isEmpty { return deny(.noKnownRole, status) }

        func covers(_ rule: AccessPolicy.Rule) -> Bool {
            rule.roles.contains { effective.contains($0.name) } && rule.actions.contains { $0.name == action }
                && rule.resourceTypes.contains { $0.name == type.name.name }
        }
        let allFields = Set(type.fields.map(\.name))

        var wholeDenies = Set<String>()
        var hidden = Set<String>()
        var decided = Set<String>()
        // A deny applies unless its condition is definitely false (fail closed).
        for rule in policy.rules
        where rule.effect == .deny && covers(rule) && truth(rule.condition, request, careTeams, now) != false {
            if let fields = rule.fields {
                hidden.formUnion(fields.map(\.name))
                decided.insert(rule.id.name)
            } else {
                wholeDenies.insert(rule.id.name)
            }
        }
        if !wholeDenies.isEmpty {
            return Outcome(allowed: false, reason: .explicitDeny, fields: [], ruleIDs: wholeDenies, breakGlass: status)
        }
        var visible = Set<String>()
        var roleMatched = false
        var anyAllow = false
        var regular = false
        for rule in policy.rules where rule.effect == .allow && covers(rule) {
            roleMatched = true
            if truth(rule.condition, request, careTeams, now) == true {
                anyAllow = true
                regular = true
                visible.formUnion(rule.fields.map { Set($0.map(\.name)) } ?? allFields)
                decided.insert(rule.id.name)
            }
        }
        if status == .active, let section = policy.breakGlass {
            for (number, grant) in section.grants.enumerated()
            where grant.actions.contains(where: { $0.name == action })
                && grant.resourceTypes.contains(where: { $0.name == type.name.name })
            {
                roleMatched = true
                anyAllow = true
                visible.formUnion(grant.fields.map { Set($0.map(\.name)) } ?? allFields)
                decided.insert("break-glass.\(number + 1)")
            }
        }
        guard anyAllow else { return deny(roleMatched ? .conditionNotMet : .noMatchingRule, status) }
        visible.subtract(hidden)
        if visible.isEmpty && !allFields.isEmpty {
            return Outcome(allowed: false, reason: .allFieldsDenied, fields: [], ruleIDs: decided, breakGlass: status)
        }
        return Outcome(
            allowed: true, reason: regular ? .allowed : .allowedByBreakGlass, fields: visible, ruleIDs: decided,
            breakGlass: status)
    }

    /// `true`, `false`, or `nil` when the condition cannot be evaluated (Kleene "and" of its parts:
    /// any definite `false` wins, then any unknown part).
    private func truth(
        _ condition: AccessPolicy.Condition, _ request: AccessRequest, _ careTeams: (any CareTeamDirectory)?,
        _ now: Date
    ) -> Bool? {
        let subject = request.subject
        let resource = request.resource
        var parts: [Bool?] = []
        if let relationship = condition.relationship {
            // Empty ids are no ids.
            let subjectPatient = subject.patientID.flatMap { $0.isEmpty ? nil : $0 }
            let resourcePatient = resource.patientID.flatMap { $0.isEmpty ? nil : $0 }
            let isSelf = subjectPatient != nil && subjectPatient == resourcePatient
            var onTeam = false
            if let patient = resourcePatient {
                if let team = subject.careTeamPatients {
                    onTeam = team.contains(patient)
                } else if let careTeams {
                    onTeam = careTeams.isOnCareTeam(subjectID: subject.id, patientID: patient)
                }
            }
            switch relationship {
            case .self: parts.append(isSelf)
            case .careTeam: parts.append(onTeam)
            case .selfOrCareTeam: parts.append(isSelf || onTeam)
            }
        }
        let declaredLabels = Set(policy.sensitivityLabels.map(\.name))
        let undeclared = !resource.labels.isSubset(of: declaredLabels)
        if !condition.labelsNoneOf.isEmpty {
            if condition.labelsNoneOf.contains(where: { resource.labels.contains($0.name) }) {
                parts.append(false)
            } else {
                parts.append(undeclared ? nil : true)
            }
        }
        if !condition.labelsAnyOf.isEmpty {
            if condition.labelsAnyOf.contains(where: { resource.labels.contains($0.name) }) {
                parts.append(true)
            } else {
                parts.append(undeclared ? nil : false)
            }
        }
        for comparison in condition.attributes {
            let left =
                comparison.side == .resource ? resource.attributes[comparison.key] : subject.attributes[comparison.key]
            let right: String?
            switch comparison.operand {
            case .value(let value): right = value
            case .subjectAttribute(let key): right = subject.attributes[key]
            }
            if let left, let right, !left.isEmpty, !right.isEmpty {
                parts.append(comparison.negated ? left != right : left == right)
            } else {
                parts.append(nil)
            }
        }
        if let window = condition.timeOfDay {
            let minute = Int(now.timeIntervalSince1970.rounded(.down)) % 86_400 / 60
            let inside =
                window.fromMinute <= window.toMinute
                ? minute >= window.fromMinute && minute < window.toMinute
                : minute >= window.fromMinute || minute < window.toMinute
            parts.append(inside)
        }
        if parts.contains(false) { return false }
        if parts.contains(nil) { return nil }
        return true
    }
}
