/// Name resolution and every semantic check of a policy; ``CompiledPolicy`` builds its tables from the
/// resolved form only when no issue was found, so a policy never half-loads.
struct ResolvedPolicy {
    var actionNames: [String] = []
    var actionIndex: [String: Int] = [:]
    var labelIndex: [String: Int] = [:]
    var typeNames: [String] = []
    var typeIndex: [String: Int] = [:]
    var typeFields: [[String]] = []
    var typeFieldIndex: [[String: Int]] = []
    /// Per type, a bit per action index that applies to it.
    var typeActions: [Set<Int>] = []
    var roleNames: [String] = []
    var roleIndex: [String: Int] = [:]
    /// Per role, itself and every ancestor.
    var roleClosure: [Set<Int>] = []
    var breakGlassRoles: Set<Int> = []
    var timeZone: TimeZoneOffsetTable = .utc
    var issues: [PolicyIssue] = []
    /// Problems that do not stop the policy loading (``PolicyIssue/isWarning``).
    var warnings: [PolicyIssue] = []

    /// Resolves and checks `policy`. `checkShadowing` is off when the file already had shape problems,
    /// since rules that could not be read would make the shadowing checks report nonsense.
    init(_ policy: AccessPolicy, checkShadowing shadowing: Bool = true) {
        resolveActions(policy)
        resolveLabels(policy)
        resolveTypes(policy)
        resolveRoles(policy)
        if let zone = TimeZoneOffsetTable(identifier: policy.timeZone) {
            timeZone = zone
        } else {
            issue(.invalidValue, "unknown time zone '\(policy.timeZone)'", policy.timeZoneLocation)
        }
        checkRules(policy)
        checkBreakGlass(policy)
        if issues.isEmpty && shadowing {
            checkShadowing(policy)
        }
    }

    private mutating func issue(
        _ code: PolicyIssue.Code, _ message: String, _ at: SourceLocation?, _ element: String? = nil
    ) {
        issues.append(PolicyIssue(code, message, at: at, element: element))
    }

    private mutating func resolveActions(_ policy: AccessPolicy) {
        for action in AccessAction.builtIn {
            actionIndex[action.rawValue] = actionNames.count
            actionNames.append(action.rawValue)
        }
        for action in policy.actions {
            if !isValidName(action.name) {
                issue(.schema, "'\(action.name)' is not a valid action name", action.location, action.name)
            } else if actionIndex[action.name] != nil {
                let builtIn = AccessAction.builtIn.contains(AccessAction(action.name))
                issue(
                    .duplicateName,
                    builtIn
                        ? "action '\(action.name)' is built in and must not be declared"
                        : "action '\(action.name)' is declared twice",
                    action.location, action.name)
            } else {
                actionIndex[action.name] = actionNames.count
                actionNames.append(action.name)
            }
        }
    }

    private mutating func resolveLabels(_ policy: AccessPolicy) {
        for label in policy.sensitivityLabels {
            if labelIndex[label.name] != nil {
                issue(.duplicateName, "sensitivity label '\(label.name)' is declared twice", label.location, label.name)
            } else if labelIndex.count == 64 {
                issue(.invalidValue, "more than 64 sensitivity labels", label.location, label.name)
            } else {
                labelIndex[label.name] = labelIndex.count
            }
        }
    }

    private mutating func resolveTypes(_ policy: AccessPolicy) {
        for type in policy.resourceTypes {
            let name = type.name.name
            guard isValidName(name) else {
                issue(.schema, "'\(name)' is not a valid resource type name", type.name.location, name)
                continue
            }
            guard typeIndex[name] == nil else {
                issue(.duplicateName, "resource type '\(name)' is declared twice", type.name.location, name)
                continue
            }
            var fields: [String] = []
            var fieldIndex: [String: Int] = [:]
            for field in type.fields {
                if fieldIndex[field.name] != nil {
                    issue(
                        .duplicateName, "field '\(field.name)' is declared twice in resource type '\(name)'",
                        field.location, field.name)
                } else if fields.count == FieldBits.capacity {
                    issue(
                        .invalidValue, "resource type '\(name)' has more than \(FieldBits.capacity) fields",
                        field.location, name)
                    break
                } else {
                    fieldIndex[field.name] = fields.count
                    fields.append(field.name)
                }
            }
            var applicable = Set<Int>()
            if let actions = type.actions {
                for action in actions {
                    if let index = actionIndex[action.name] {
                        if !applicable.insert(index).inserted {
                            issue(
                                .duplicateName, "action '\(action.name)' is listed twice for '\(name)'",
                                action.location, action.name)
                        }
                    } else {
                        issue(.unknownAction, "unknown action '\(action.name)'", action.location, action.name)
                    }
                }
            } else {
                applicable = Set(actionNames.indices)
            }
            typeIndex[name] = typeNames.count
            typeNames.append(name)
            typeFields.append(fields)
            typeFieldIndex.append(fieldIndex)
            typeActions.append(applicable)
        }
    }

    private mutating func resolveRoles(_ policy: AccessPolicy) {
        var parents: [[Int]] = []
        var declared: [AccessPolicy.RoleDefinition] = []
        for role in policy.roles {
            let name = role.name.name
            if !isValidName(name) {
                issue(.schema, "'\(name)' is not a valid role name", role.name.location, name)
            } else if roleIndex[name] != nil {
                issue(.duplicateName, "role '\(name)' is declared twice", role.name.location, name)
            } else {
                roleIndex[name] = roleNames.count
                roleNames.append(name)
                declared.append(role)
            }
        }
        for role in declared {
            var list: [Int] = []
            for parent in role.inherits {
                if let index = roleIndex[parent.name] {
                    if list.contains(index) {
                        issue(
                            .duplicateName, "role '\(role.name.name)' inherits '\(parent.name)' twice",
                            parent.location, parent.name)
                    } else {
                        list.append(index)
                    }
                } else {
                    issue(
                        .unknownRole, "role '\(role.name.name)' inherits unknown role '\(parent.name)'",
                        parent.location, parent.name)
                }
            }
            parents.append(list)
        }
        // Cycles: depth-first search with colours; each cycle is reported once, at the role that closes it.
        var colour = [UInt8](repeating: 0, count: roleNames.count)  // 0 new, 1 on stack, 2 done
        var stack: [Int] = []
        var cyclic = Set<Int>()
        func visit(_ role: Int) {
            colour[role] = 1
            stack.append(role)
            for (position, parent) in parents[role].enumerated() {
                if colour[parent] == 1 {
                    let start = stack.lastIndex(of: parent) ?? 0
                    let path = (stack[start...] + [parent]).map { roleNames[$0] }
                    cyclic.formUnion(stack[start...])
                    issue(
                        .inheritanceCycle, "role inheritance cycle: \(path.joined(separator: " -> "))",
                        declared[role].inherits.filter { roleIndex[$0.name] != nil }[position].location,
                        roleNames[role])
                } else if colour[parent] == 0 {
                    visit(parent)
                }
            }
            stack.removeLast()
            colour[role] = 2
        }
        for role in roleNames.indices where colour[role] == 0 {
            visit(role)
        }
        // Closures (self + ancestors), computed iteratively so even a broken policy terminates.
        roleClosure = roleNames.indices.map { role in
            var seen: Set<Int> = [role]
            var work = [role]
            while let next = work.popLast() {
                for parent in parents[next] where seen.insert(parent).inserted {
                    work.append(parent)
                }
            }
            return seen
        }
        _ = cyclic
    }

    /// The (type, action) pairs a rule or grant covers, reporting unknown names and fields.
    mutating func resolveTargets(
        actions: [AccessPolicy.Named], types: [AccessPolicy.Named], fields: [AccessPolicy.Named]?, owner: String,
        at location: SourceLocation?
    ) -> (pairs: [(type: Int, action: Int)], fields: [Int: FieldBits]) {
        if actions.isEmpty { issue(.schema, "'\(owner)' lists no actions", location, owner) }
        if types.isEmpty { issue(.schema, "'\(owner)' lists no resource types", location, owner) }
        if let fields, fields.isEmpty {
            issue(.schema, "'\(owner)' has an empty field list (omit `fields` for all fields)", location, owner)
        }
        var typeList: [Int] = []
        for type in types {
            if let index = typeIndex[type.name] {
                if typeList.contains(index) {
                    issue(.duplicateName, "resource type '\(type.name)' is listed twice", type.location, type.name)
                } else {
                    typeList.append(index)
                }
            } else {
                issue(.unknownResourceType, "unknown resource type '\(type.name)'", type.location, type.name)
            }
        }
        var actionList: [Int] = []
        for action in actions {
            guard let index = actionIndex[action.name] else {
                issue(.unknownAction, "unknown action '\(action.name)'", action.location, action.name)
                continue
            }
            if actionList.contains(index) {
                issue(.duplicateName, "action '\(action.name)' is listed twice", action.location, action.name)
                continue
            }
            actionList.append(index)
            for type in typeList where !typeActions[type].contains(index) {
                issue(
                    .unknownAction, "action '\(action.name)' does not apply to resource type '\(typeNames[type])'",
                    action.location, action.name)
            }
        }
        var fieldBits: [Int: FieldBits] = [:]
        for type in typeList {
            guard let fields else {
                fieldBits[type] = FieldBits(firstFields: typeFields[type].count)
                continue
            }
            var bits = FieldBits()
            var seen = Set<String>()
            for field in fields {
                if !seen.insert(field.name).inserted {
                    if type == typeList.first {
                        issue(.duplicateName, "field '\(field.name)' is listed twice", field.location, field.name)
                    }
                } else if let index = typeFieldIndex[type][field.name] {
                    bits.insert(index)
                } else {
                    issue(
                        .unknownField, "resource type '\(typeNames[type])' has no field '\(field.name)'",
                        field.location, field.name)
                }
            }
            fieldBits[type] = bits
        }
        var pairs: [(type: Int, action: Int)] = []
        for type in typeList {
            for action in actionList where typeActions[type].contains(action) {
                pairs.append((type, action))
            }
        }
        return (pairs, fieldBits)
    }

    private mutating func checkRules(_ policy: AccessPolicy) {
        var ruleIDs = Set<String>()
        for rule in policy.rules {
            let id = rule.id.name
            if id.isEmpty {
                issue(.schema, "rule id must not be empty", rule.id.location ?? rule.location)
            } else if !isValidName(id) {
                // Rule ids go into audit records as identifiers (`AuditIdentifier` in PHIGuardAudit).
                issue(.schema, "'\(id)' is not a valid rule id", rule.id.location ?? rule.location, id)
            } else if id.hasPrefix(breakGlassRuleIDPrefix) {
                issue(
                    .schema, "rule id '\(id)' is reserved for break-glass grants", rule.id.location ?? rule.location, id
                )
            } else if !ruleIDs.insert(id).inserted {
                issue(.duplicateName, "rule id '\(id)' is used twice", rule.id.location ?? rule.location, id)
            }
            if rule.roles.isEmpty { issue(.schema, "rule '\(id)' lists no roles", rule.location, id) }
            var seenRoles = Set<String>()
            for role in rule.roles {
                if roleIndex[role.name] == nil {
                    issue(.unknownRole, "rule '\(id)' names unknown role '\(role.name)'", role.location, role.name)
                } else if !seenRoles.insert(role.name).inserted {
                    issue(.duplicateName, "role '\(role.name)' is listed twice", role.location, role.name)
                }
            }
            _ = resolveTargets(
                actions: rule.actions, types: rule.resourceTypes, fields: rule.fields, owner: id, at: rule.location)
            checkCondition(rule.condition, rule: id, at: rule.location)
            if rule.effect == .deny {
                for comparison in rule.condition.attributes {
                    warnings.append(
                        PolicyIssue(
                            .denyOnAbsentAttribute,
                            "deny rule '\(id)' compares \(comparison.side.rawValue) attribute '\(comparison.key)': "
                                + "whenever a request lacks it (or it is empty), the deny applies",
                            at: comparison.location ?? rule.location, element: id))
                }
            }
        }
    }

    private mutating func checkCondition(
        _ condition: AccessPolicy.Condition, rule: String, at location: SourceLocation?
    ) {
        for label in condition.labelsNoneOf + condition.labelsAnyOf where labelIndex[label.name] == nil {
            issue(.unknownLabel, "unknown sensitivity label '\(label.name)'", label.location ?? location, label.name)
        }
        for comparison in condition.attributes {
            if comparison.key.isEmpty {
                issue(.schema, "attribute comparison without a key", comparison.location ?? location, rule)
            }
            // An empty attribute counts as missing, so an empty operand could never be compared.
            switch comparison.operand {
            case .value(let value) where value.isEmpty:
                issue(.invalidValue, "attribute comparison with an empty value", comparison.location ?? location, rule)
            case .subjectAttribute(let key) where key.isEmpty:
                issue(.schema, "attribute comparison without a subject key", comparison.location ?? location, rule)
            default: break
            }
        }
        if let window = condition.timeOfDay {
            if !(0..<1440).contains(window.fromMinute) || !(0..<1440).contains(window.toMinute)
                || window.fromMinute == window.toMinute
            {
                issue(
                    .invalidValue, "time-of-day window must be two different times between 00:00 and 23:59",
                    window.location ?? location, rule)
            }
        }
    }

    private mutating func checkBreakGlass(_ policy: AccessPolicy) {
        guard let breakGlass = policy.breakGlass else { return }
        if breakGlass.roles.isEmpty {
            issue(.schema, "breakGlass lists no roles", breakGlass.location)
        }
        for role in breakGlass.roles {
            if let index = roleIndex[role.name] {
                breakGlassRoles.insert(index)
            } else {
                issue(.unknownRole, "breakGlass names unknown role '\(role.name)'", role.location, role.name)
            }
        }
        if !(60...86_400).contains(breakGlass.maximumDurationSeconds) {
            issue(.invalidValue, "breakGlass maxDuration must be between 1m and 24h", breakGlass.location)
        }
        if breakGlass.grants.isEmpty {
            issue(.schema, "breakGlass grants nothing", breakGlass.location)
        }
        for (number, grant) in breakGlass.grants.enumerated() {
            _ = resolveTargets(
                actions: grant.actions, types: grant.resourceTypes, fields: grant.fields,
                owner: breakGlassRuleID(number), at: grant.location ?? breakGlass.location)
        }
    }

    /// Deny rules that shadow nothing and allow rules that can never take effect. Runs only on an
    /// otherwise valid policy, so every name resolves.
    private mutating func checkShadowing(_ policy: AccessPolicy) {
        struct Target: Hashable {
            var type: Int
            var action: Int
        }
        // What allow rules and break-glass grants can reveal per (type, action).
        var allowed: [Target: FieldBits] = [:]
        var scratch = self
        func targets(_ actions: [AccessPolicy.Named], _ types: [AccessPolicy.Named], _ fields: [AccessPolicy.Named]?)
            -> [(Target, FieldBits)]
        {
            let resolved = scratch.resolveTargets(actions: actions, types: types, fields: fields, owner: "", at: nil)
            return resolved.pairs.map { (Target(type: $0.type, action: $0.action), resolved.fields[$0.type] ?? .empty) }
        }
        for rule in policy.rules where rule.effect == .allow {
            for (target, fields) in targets(rule.actions, rule.resourceTypes, rule.fields) {
                allowed[target, default: .empty].formUnion(fields)
            }
        }
        for grant in policy.breakGlass?.grants ?? [] {
            for (target, fields) in targets(grant.actions, grant.resourceTypes, grant.fields) {
                allowed[target, default: .empty].formUnion(fields)
            }
        }
        var fullDenies: [Target: Set<Int>] = [:]  // unconditional whole-action denies, by role
        for rule in policy.rules where rule.effect == .deny {
            let covered = targets(rule.actions, rule.resourceTypes, rule.fields)
            let shadowsSomething = covered.contains { target, fields in
                guard let reachable = allowed[target] else { return false }
                // A whole-action deny matters whenever anything is allowed, even on a field-less type.
                return rule.fields == nil || reachable.intersects(fields)
            }
            if !shadowsSomething {
                issue(
                    .denyShadowsNothing,
                    "deny rule '\(rule.id.name)' shadows nothing: no allow rule or break-glass grant covers what it denies",
                    rule.location, rule.id.name)
            }
            if rule.fields == nil && rule.condition.isUnconditional {
                for (target, _) in covered {
                    for role in rule.roles { fullDenies[target, default: []].insert(roleIndex[role.name] ?? -1) }
                }
            }
        }
        var earlier = Set<AccessPolicy.Rule>()
        for rule in policy.rules where rule.effect == .allow {
            var normalized = rule
            normalized.id = AccessPolicy.Named("")
            normalized.location = nil
            normalized.roles = rule.roles.map { AccessPolicy.Named($0.name) }.sorted { $0.name < $1.name }
            normalized.actions = rule.actions.map { AccessPolicy.Named($0.name) }.sorted { $0.name < $1.name }
            normalized.resourceTypes = rule.resourceTypes.map { AccessPolicy.Named($0.name) }.sorted {
                $0.name < $1.name
            }
            normalized.fields = rule.fields.map { $0.map { AccessPolicy.Named($0.name) }.sorted { $0.name < $1.name } }
            normalized.condition = stripLocations(rule.condition)
            if !earlier.insert(normalized).inserted {
                issue(
                    .unreachableRule, "allow rule '\(rule.id.name)' repeats an earlier rule exactly", rule.location,
                    rule.id.name)
                continue
            }
            let covered = targets(rule.actions, rule.resourceTypes, rule.fields)
            let roles = rule.roles.compactMap { roleIndex[$0.name] }
            let everyCaseDenied = covered.allSatisfy { target, _ in
                guard let deniers = fullDenies[target] else { return false }
                return roles.allSatisfy { !roleClosure[$0].isDisjoint(with: deniers) }
            }
            if !covered.isEmpty && everyCaseDenied {
                issue(
                    .unreachableRule,
                    "allow rule '\(rule.id.name)' is unreachable: an unconditional deny covers it for every role it names",
                    rule.location, rule.id.name)
            }
        }
    }

    private func stripLocations(_ condition: AccessPolicy.Condition) -> AccessPolicy.Condition {
        var copy = condition
        copy.relationshipLocation = nil
        copy.labelsNoneOf = condition.labelsNoneOf.map { AccessPolicy.Named($0.name) }
        copy.labelsAnyOf = condition.labelsAnyOf.map { AccessPolicy.Named($0.name) }
        copy.attributes = condition.attributes.map {
            var comparison = $0
            comparison.location = nil
            return comparison
        }
        copy.timeOfDay = condition.timeOfDay.map {
            AccessPolicy.TimeWindow(fromMinute: $0.fromMinute, toMinute: $0.toMinute)
        }
        return copy
    }
}

/// Names: letters, digits, `-`, `_`, `.`, `:`; 1 to 128 characters.
/// Break-glass grants are rules `break-glass.1`, `break-glass.2`, … (in policy order); policy rule ids
/// may not start with this prefix. Every rule id is a valid name (see `isValidName(_:)`), so it is
/// also a valid audit identifier.
let breakGlassRuleIDPrefix = "break-glass."

/// The rule id of the break-glass grant at 0-based position `index`.
func breakGlassRuleID(_ index: Int) -> String { breakGlassRuleIDPrefix + String(index + 1) }

/// Whether `name` is a valid role, rule, type, field, action or label name: 1–128 bytes of
/// `a–z A–Z 0–9 - _ . :`. Such a name is also a valid audit identifier (`AuditIdentifier`).
func isValidName(_ name: String) -> Bool {
    guard !name.isEmpty, name.utf8.count <= 128 else { return false }
    return name.unicodeScalars.allSatisfy { scalar in
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", "_", ".", ":": true
        default: false
        }
    }
}
