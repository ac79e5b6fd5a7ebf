import Foundation
@_spi(PolicyEvaluation) import PHIGuardAccess
import PHIGuardTestSupport
import Testing

/// A small, seeded generator so a failure can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random policies and requests over a small vocabulary, so rules collide often.
struct RandomWorld {
    var rng: SplitMix64

    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &rng) < percent }

    mutating func subset<T>(_ items: [T], max: Int, min: Int = 0) -> [T] {
        let count = Int.random(in: Swift.min(min, items.count)...Swift.min(max, items.count), using: &rng)
        return Array(items.shuffled(using: &rng).prefix(count))
    }

    mutating func policy() -> AccessPolicy {
        let custom = ["sign", "export"].prefix(Int.random(in: 0...2, using: &rng)).map { AccessPolicy.Named($0) }
        let actions = AccessAction.builtIn.map(\.rawValue) + custom.map(\.name)
        let labels = (0..<Int.random(in: 0...4, using: &rng)).map { AccessPolicy.Named("L\($0)") }
        let types = (0..<Int.random(in: 1...5, using: &rng)).map { number -> AccessPolicy.ResourceTypeDefinition in
            let fields = (0..<Int.random(in: 0...8, using: &rng)).map { AccessPolicy.Named("f\($0)") }
            let restricted =
                chance(40) ? subset(actions, max: actions.count, min: 1).map { AccessPolicy.Named($0) } : nil
            return AccessPolicy.ResourceTypeDefinition(
                name: AccessPolicy.Named("t\(number)"), fields: fields, actions: restricted)
        }
        let roleCount = Int.random(in: 1...8, using: &rng)
        let roles = (0..<roleCount).map { number in
            AccessPolicy.RoleDefinition(
                name: AccessPolicy.Named("r\(number)"),
                inherits: number == 0
                    ? [] : subset((0..<number).map { "r\($0)" }, max: 2).map { AccessPolicy.Named($0) })
        }
        let roleNames = roles.map(\.name.name)
        func applicable(_ type: AccessPolicy.ResourceTypeDefinition) -> [String] {
            type.actions?.map(\.name) ?? actions
        }

        var rules: [AccessPolicy.Rule] = []
        for number in 0..<Int.random(in: 1...25, using: &rng) {
            let type = types.randomElement(using: &rng)!
            var ruleTypes = [type]
            if chance(20), let second = types.randomElement(using: &rng), second.name != type.name {
                ruleTypes.append(second)
            }
            let common = applicable(type).filter { action in ruleTypes.allSatisfy { applicable($0).contains(action) } }
            guard !common.isEmpty else { continue }
            var fields: [AccessPolicy.Named]?
            let sharedFields = type.fields.filter { field in ruleTypes.allSatisfy { $0.fields.contains(field) } }
            if chance(50) && !sharedFields.isEmpty {
                fields = subset(sharedFields, max: 4, min: 1)
            }
            rules.append(
                AccessPolicy.Rule(
                    id: AccessPolicy.Named("rule\(number)"), effect: chance(75) ? .allow : .deny,
                    roles: subset(roleNames, max: 2, min: 1).map { AccessPolicy.Named($0) },
                    actions: subset(common, max: 2, min: 1).map { AccessPolicy.Named($0) },
                    resourceTypes: ruleTypes.map(\.name), fields: fields, condition: condition(labels: labels)))
        }
        var breakGlass: AccessPolicy.BreakGlassPolicy?
        if chance(50) {
            let grants = (0..<Int.random(in: 1...2, using: &rng)).map { _ -> AccessPolicy.BreakGlassPolicy.Grant in
                let type = types.randomElement(using: &rng)!
                let fields = chance(30) && !type.fields.isEmpty ? subset(type.fields, max: 3, min: 1) : nil
                return AccessPolicy.BreakGlassPolicy.Grant(
                    actions: subset(applicable(type), max: 2, min: 1).map { AccessPolicy.Named($0) },
                    resourceTypes: [type.name], fields: fields)
            }
            breakGlass = AccessPolicy.BreakGlassPolicy(
                roles: subset(roleNames, max: 2, min: 1).map { AccessPolicy.Named($0) }, maximumDurationSeconds: 3600,
                grants: grants)
        }
        return AccessPolicy(
            actions: custom, sensitivityLabels: labels, resourceTypes: types, roles: roles, rules: rules,
            breakGlass: breakGlass)
    }

    mutating func condition(labels: [AccessPolicy.Named]) -> AccessPolicy.Condition {
        var condition = AccessPolicy.Condition()
        guard chance(50) else { return condition }
        if chance(50) { condition.relationship = AccessPolicy.Relationship.allCases.randomElement(using: &rng) }
        if chance(30) { condition.labelsNoneOf = subset(labels, max: 2) }
        if chance(30) { condition.labelsAnyOf = subset(labels, max: 2) }
        if chance(30) {
            let operand: AccessPolicy.AttributeComparison.Operand =
                chance(50) ? .value(["a", "b"].randomElement(using: &rng)!) : .subjectAttribute("dept")
            condition.attributes = [
                AccessPolicy.AttributeComparison(
                    side: chance(70) ? .resource : .subject, key: chance(80) ? "dept" : "status", operand: operand,
                    negated: chance(30))
            ]
        }
        if chance(20) {
            let from = Int.random(in: 0..<1440, using: &rng)
            var to = Int.random(in: 0..<1440, using: &rng)
            if to == from { to = (from + 1) % 1440 }
            condition.timeOfDay = AccessPolicy.TimeWindow(fromMinute: from, toMinute: to)
        }
        return condition
    }

    /// Compiles `policy`, dropping the rules validation calls shadowed or unreachable until it compiles.
    mutating func compile(_ policy: inout AccessPolicy) -> CompiledPolicy? {
        for _ in 0..<10 {
            do {
                return try CompiledPolicy(policy)
            } catch {
                let lint = error.issues.filter { $0.code == .denyShadowsNothing || $0.code == .unreachableRule }
                guard lint.count == error.issues.count else {
                    Issue.record("generator produced an invalid policy: \(error)")
                    return nil
                }
                let drop = Set(lint.compactMap(\.element))
                policy.rules.removeAll { drop.contains($0.id.name) }
            }
        }
        return nil
    }

    mutating func request(
        for policy: CompiledPolicy, source: AccessPolicy, now: Date
    ) -> (AccessRequest, (any CareTeamDirectory)?) {
        let patients = ["p0", "p1", "p2"]
        var roles = subset(source.roles.map(\.name.name), max: 3)
        if chance(5) { roles.append("ghost") }
        // Empty strings (ids, care-team entries, attribute values) appear now and then: they must never
        // satisfy a relationship or a comparison.
        var careTeam: Set<String>? = chance(60) ? Set(subset(patients, max: 2)) : nil
        if chance(5) { careTeam = (careTeam ?? []).union([""]) }
        let subject = Subject(
            id: ["u0", "u1"].randomElement(using: &rng)!, roles: roles,
            patientID: chance(70) ? (chance(5) ? "" : patients.randomElement(using: &rng)) : nil,
            careTeamPatients: careTeam,
            attributes: chance(70) ? ["dept": ["a", "b", ""].randomElement(using: &rng)!] : [:])
        var type = source.resourceTypes.randomElement(using: &rng)!.name.name
        if chance(3) { type = "nope" }
        var action = (policy.actions.map(\.rawValue) + ["sign"]).randomElement(using: &rng)!
        if chance(3) { action = "launch" }
        var labels = Set(subset(source.sensitivityLabels.map(\.name), max: 2))
        if chance(5) { labels.insert("undeclared") }
        // Another spelling of a declared label is an undeclared label, matched exactly.
        if chance(5), let declared = source.sensitivityLabels.randomElement(using: &rng) {
            labels.insert(declared.name.lowercased())
        }
        var attributes: [String: String] = [:]
        if chance(70) { attributes["dept"] = ["a", "b", ""].randomElement(using: &rng)! }
        if chance(30) { attributes["status"] = ["a", "b"].randomElement(using: &rng)! }
        let resource = Resource(
            type: type, id: "x", patientID: chance(80) ? (chance(5) ? "" : patients.randomElement(using: &rng)) : nil,
            labels: labels, attributes: attributes)
        var grant: BreakGlassGrant?
        if chance(25) {
            // Issued to this subject or the other user, possibly already expired at `now`.
            let holder = chance(80) ? subject : Subject(id: "u9", roles: subject.roles)
            let issued = now.addingTimeInterval(-Double(Int.random(in: 0...5000, using: &rng)))
            // Scoped to one or two patients, possibly not the resource's.
            let scope = BreakGlassScope(
                patients: patients.shuffled(using: &rng).prefix(Int.random(in: 1...2, using: &rng)))
            grant = try? policy.breakGlass(
                for: holder, scope: scope,
                reason: BreakGlassReason(category: .emergencyTreatment, justification: "test"),
                now: issued)
        }
        let directory: (any CareTeamDirectory)? =
            chance(50) ? RandomCareTeams(members: ["u0": ["p0", "p1", ""], "u1": ["p2"]]) : nil
        return (
            AccessRequest(subject: subject, action: AccessAction(action), resource: resource, breakGlass: grant),
            directory
        )
    }
}

struct RandomCareTeams: CareTeamDirectory {
    var members: [String: Set<String>]

    func isOnCareTeam(subjectID: String, patientID: String) -> Bool { members[subjectID]?.contains(patientID) ?? false }
}

@Suite struct DifferentialTests {
    @Test func compiledEngineAgreesWithTheNaiveEvaluator() {
        var world = RandomWorld(rng: SplitMix64(state: 0x5048_4947_7561_7264))
        var requests = 0
        var policies = 0
        var allowed = 0
        var reasons = Set<AccessDecision.Reason>()
        var mismatches = 0
        while requests < 120_000 {
            var source = world.policy()
            guard let compiled = world.compile(&source) else { continue }
            policies += 1
            let reference = ReferenceEvaluator(policy: source)
            for _ in 0..<400 {
                let now = Date(
                    timeIntervalSince1970: 1_768_435_200 + Double(Int.random(in: 0..<86_400, using: &world.rng)))
                let (request, directory) = world.request(for: compiled, source: source, now: now)
                let decision = compiled.decide(request, careTeams: directory, clock: ManualClock(now))
                let actual = ReferenceEvaluator.Outcome(
                    allowed: decision.isAllowed, reason: decision.reason, fields: Set(decision.visibleFields),
                    ruleIDs: Set(decision.decidingRuleIDs), breakGlass: decision.breakGlassStatus)
                let expected = reference.decide(request, careTeams: directory, now: now)
                if actual != expected {
                    mismatches += 1
                    if mismatches <= 5 {
                        Issue.record("policy #\(policies) request \(request): engine \(actual) ≠ reference \(expected)")
                    }
                }
                requests += 1
                if decision.isAllowed { allowed += 1 }
                reasons.insert(decision.reason)
            }
        }
        #expect(mismatches == 0)
        // The mix must exercise both outcomes and nearly every reason, or agreement means little.
        #expect(allowed > requests / 20 && allowed < requests * 19 / 20)
        // (The two authentication reasons come from AccessEngine's principal checks, not from the policy.)
        let policyReasons = AccessDecision.Reason.allCases.filter {
            $0 != .authenticationExpired && $0 != .recentAuthenticationRequired
        }
        #expect(reasons.count >= policyReasons.count - 1, "reasons seen: \(reasons)")
    }

    /// What the engine decided, in the terms Cedar can answer (see ``CedarModel`` for what is left out).
    struct CedarComparable: Equatable, CustomStringConvertible {
        var allowed: Bool
        var fields: Set<String>
        var ruleIDs: Set<String>

        var description: String { "\(allowed) fields=\(fields.sorted()) rules=\(ruleIDs.sorted())" }
    }

    struct CedarBatch: Encodable {
        let policies: String
        let entities: [CedarModel.Entity]
        let requests: [CedarModel.Request]
    }

    /// Cedar's answer to one request: allowed, the indices of the determining policies, and how many
    /// policies failed to evaluate (must be 0: Cedar skips such a policy, which would hide a bug in the model).
    struct CedarAnswer: Decodable {
        let allowed: Bool
        let reasons: [Int]
        let errors: Int
    }

    /// Cedar (cedarpy) decides the same random worlds from the model of our documented semantics.
    @Test(.enabled(if: InteropPython.shouldRun))
    func compiledEngineAgreesWithCedar() throws {
        var world = RandomWorld(rng: SplitMix64(state: 0x4345_4441_5200_0015))
        var batches: [CedarBatch] = []
        // Per PHIGuard request: its batch, the range of its Cedar requests, its fields, the engine's answer.
        var cases:
            [(batch: Int, first: Int, fields: [String], model: CedarModel, ours: CedarComparable, what: String)] =
                []
        var allowed = 0
        var withBreakGlass = 0
        var fieldLevel = 0
        while cases.count < 30_000 {
            var source = world.policy()
            guard let compiled = world.compile(&source) else { continue }
            let model = CedarModel(policy: source)
            var entities = model.roleEntities
            var requests: [CedarModel.Request] = []
            for index in 0..<200 {
                let now = Date(
                    timeIntervalSince1970: 1_768_435_200 + Double(Int.random(in: 0..<86_400, using: &world.rng)))
                let (request, directory) = world.request(for: compiled, source: source, now: now)
                let decision = compiled.decide(request, careTeams: directory, clock: ManualClock(now))
                let ours = CedarComparable(
                    allowed: decision.isAllowed, fields: Set(decision.visibleFields),
                    ruleIDs: Set(decision.decidingRuleIDs))
                let encoded = model.encode(request, index: index, careTeams: directory as? RandomCareTeams, now: now)
                cases.append((batches.count, requests.count, encoded.fields, model, ours, "\(request)"))
                entities += encoded.entities
                requests += encoded.requests
                if decision.isAllowed { allowed += 1 }
                if decision.breakGlassStatus == .active { withBreakGlass += 1 }
                if decision.isAllowed && decision.visibleFields.count < encoded.fields.count { fieldLevel += 1 }
            }
            batches.append(CedarBatch(policies: model.text, entities: entities, requests: requests))
        }
        let answers = try InteropPython.exchange(
            script: """
                import json, sys, cedarpy
                out = []
                for batch in json.load(sys.stdin):
                    results = cedarpy.is_authorized_batch(batch["requests"], batch["policies"], batch["entities"])
                    out.append([{"allowed": r.allowed,
                                 "reasons": sorted(int(p[len("policy"):]) for p in r.diagnostics.reasons),
                                 "errors": len(r.diagnostics.errors)} for r in results])
                json.dump(out, sys.stdout)
                """,
            request: batches, as: [[CedarAnswer]].self)
        #expect(answers.count == batches.count)
        var mismatches = 0
        var errors = 0
        for item in cases {
            let batch = answers[item.batch]
            let whole = batch[item.first]
            errors += (0...item.fields.count).map { batch[item.first + $0].errors }.reduce(0, +)
            // Allowed: some field (the whole resource, for a type without fields); visible: the allowed fields.
            let perField = item.fields.enumerated().map { ($0.element, batch[item.first + 1 + $0.offset]) }
            let visible = Set(perField.filter { $0.1.allowed }.map(\.0))
            let cedarAllowed = item.fields.isEmpty ? whole.allowed : !visible.isEmpty
            // Deciding rules: the whole request's determining policies, and when it is allowed, the
            // denies that hid a field.
            var reasons = Set(whole.reasons)
            if whole.allowed {
                for (_, answer) in perField where !answer.allowed { reasons.formUnion(answer.reasons) }
            }
            let cedar = CedarComparable(
                allowed: cedarAllowed, fields: cedarAllowed ? visible : [],
                ruleIDs: Set(reasons.map { item.model.ruleIDs[$0] }))
            if cedar != item.ours {
                mismatches += 1
                if mismatches <= 5 {
                    Issue.record("\(item.what): engine \(item.ours) ≠ Cedar \(cedar)\n\(item.model.text)")
                }
            }
        }
        #expect(errors == 0, "Cedar could not evaluate \(errors) policies: the model reads a missing attribute")
        #expect(mismatches == 0, "\(mismatches) of \(cases.count) requests")
        // Agreement means something only if the mix exercises both outcomes, grants and field-level denies.
        #expect(allowed > cases.count / 20 && allowed < cases.count * 19 / 20)
        #expect(withBreakGlass > 100 && fieldLevel > 100, "grants \(withBreakGlass), field-level \(fieldLevel)")
    }
}
