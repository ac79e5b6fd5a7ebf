// The benchmark world of issue 5, shaped like /work/shared/bench/authz_world.py (Benchmarks/peers/authz_world.py):
// 50 roles in 3 levels (5 top -> 15 mid -> 30 leaf), 5,000 users with 1-2 leaf roles, 200 resource
// types x 4 actions, 40 grants per role (2,000 allow rules), 20 deny rules on mid roles, 100,000 random
// requests. `relationshipPercent` of the allow rules carry `relationship: careTeam` (10 in the issue's
// world, 0 in the peers' world, which has no relationships).
import Foundation
@_spi(PolicyEvaluation) import PHIGuardAccess

struct WorldRandom: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

struct AuthzWorld: Sendable {
    static let actions: [AccessAction] = [.read, .update, .delete, AccessAction("share")]
    static let patients = 1_000

    struct Request {
        var user: Int
        var type: Int
        var action: Int
        var patient: Int
    }

    let policy: CompiledPolicy
    let subjects: [Subject]
    let prepared: [PreparedSubject]
    let requests: [Request]
    let resources: [Resource]
    let accessRequests: [AccessRequest]
    /// The independent answer for each request (closure + set logic, as the Python baseline does).
    let expected: [Bool]
    let allowRuleCount: Int
    let denyRuleCount: Int

    init(seed: UInt64 = 42, relationshipPercent: Int, requestCount: Int = 100_000) throws {
        var rng = WorldRandom(state: seed)
        var roles: [AccessPolicy.RoleDefinition] = []
        var parent: [String: String] = [:]
        var mids: [String] = []
        var leaves: [String] = []
        for top in 0..<5 {
            roles.append(.init(name: .init("top\(top)")))
            for mid in 0..<3 {
                let midName = "top\(top)_mid\(mid)"
                roles.append(.init(name: .init(midName), inherits: [.init("top\(top)")]))
                parent[midName] = "top\(top)"
                mids.append(midName)
                for leaf in 0..<2 {
                    let leafName = "\(midName)_leaf\(leaf)"
                    roles.append(.init(name: .init(leafName), inherits: [.init(midName)]))
                    parent[leafName] = midName
                    leaves.append(leafName)
                }
            }
        }
        let fieldNames = (0..<8).map { AccessPolicy.Named("f\($0)") }
        let types = (0..<200).map { AccessPolicy.ResourceTypeDefinition(name: .init("rt\($0)"), fields: fieldNames) }
        let perms = (0..<200).flatMap { type in (0..<4).map { (type, $0) } }

        struct Grant: Hashable {
            var role: String
            var type: Int
            var action: Int
            var conditional: Bool
        }
        var grants: [Grant] = []
        for role in roles.map(\.name.name) {
            for (type, action) in perms.shuffled(using: &rng).prefix(40) {
                grants.append(
                    Grant(
                        role: role, type: type, action: action,
                        conditional: Int.random(in: 0..<100, using: &rng) < relationshipPercent))
            }
        }
        let covered = Set(grants.map { "\($0.type)/\($0.action)" })
        var denies = Set<Grant>()
        while denies.count < 20 {
            let (type, action) = perms.randomElement(using: &rng)!
            guard covered.contains("\(type)/\(action)") else { continue }  // a deny must shadow something
            denies.insert(Grant(role: mids.randomElement(using: &rng)!, type: type, action: action, conditional: false))
        }
        func closure(_ role: String) -> [String] {
            var out = [role]
            var current = role
            while let next = parent[current] {
                out.append(next)
                current = next
            }
            return out
        }
        // Allow rules an ancestor's unconditional deny always cancels would be rejected as unreachable;
        // they never change a decision, so the world leaves them out.
        let deniedFor = Set(denies.map { "\($0.role)/\($0.type)/\($0.action)" })
        grants.removeAll { grant in
            closure(grant.role).contains { deniedFor.contains("\($0)/\(grant.type)/\(grant.action)") }
        }

        let actionNames = Self.actions.map { AccessPolicy.Named($0.rawValue) }
        var rules: [AccessPolicy.Rule] = []
        for (number, grant) in grants.enumerated() {
            rules.append(
                AccessPolicy.Rule(
                    id: .init("allow\(number)"), effect: .allow, roles: [.init(grant.role)],
                    actions: [actionNames[grant.action]], resourceTypes: [types[grant.type].name],
                    condition: grant.conditional ? AccessPolicy.Condition(relationship: .careTeam) : .init()))
        }
        for (number, deny) in denies.sorted(by: { "\($0)" < "\($1)" }).enumerated() {
            rules.append(
                AccessPolicy.Rule(
                    id: .init("deny\(number)"), effect: .deny, roles: [.init(deny.role)],
                    actions: [actionNames[deny.action]], resourceTypes: [types[deny.type].name]))
        }
        let source = AccessPolicy(
            actions: [AccessPolicy.Named("share")], resourceTypes: types, roles: roles, rules: rules)
        policy = try CompiledPolicy(source)
        allowRuleCount = grants.count
        denyRuleCount = denies.count

        var subjects: [Subject] = []
        var teams: [Set<Int>] = []
        for user in 0..<5_000 {
            let userRoles = Array(leaves.shuffled(using: &rng).prefix(Int.random(in: 1...2, using: &rng)))
            let team = Set((0..<20).map { _ in Int.random(in: 0..<Self.patients, using: &rng) })
            teams.append(team)
            subjects.append(Subject(id: "u\(user)", roles: userRoles, careTeamPatients: Set(team.map { "p\($0)" })))
        }
        self.subjects = subjects
        let compiled = policy
        prepared = subjects.map { compiled.prepare($0) }

        var requests: [Request] = []
        for _ in 0..<requestCount {
            let user = Int.random(in: 0..<5_000, using: &rng)
            // Half the requests are for a patient on the user's care team, so conditions go both ways.
            let patient =
                Bool.random(using: &rng)
                ? teams[user].randomElement(using: &rng)! : Int.random(in: 0..<Self.patients, using: &rng)
            requests.append(
                Request(
                    user: user, type: Int.random(in: 0..<200, using: &rng), action: Int.random(in: 0..<4, using: &rng),
                    patient: patient))
        }
        self.requests = requests
        resources = requests.map { Resource(type: "rt\($0.type)", id: "r", patientID: "p\($0.patient)") }
        accessRequests = zip(requests, resources).map { request, resource in
            AccessRequest(subject: subjects[request.user], action: Self.actions[request.action], resource: resource)
        }

        // Independent answers: effective roles by walking parents, deny-overrides, conditions by set lookup.
        var allowBy: [String: [Grant]] = [:]
        for grant in grants { allowBy["\(grant.type)/\(grant.action)", default: []].append(grant) }
        var denyBy: [String: Set<String>] = [:]
        for deny in denies { denyBy["\(deny.type)/\(deny.action)", default: []].insert(deny.role) }
        expected = requests.map { request in
            let effective = Set(subjects[request.user].roles.flatMap(closure))
            let key = "\(request.type)/\(request.action)"
            if !(denyBy[key] ?? []).isDisjoint(with: effective) { return false }
            return (allowBy[key] ?? []).contains { grant in
                effective.contains(grant.role) && (!grant.conditional || teams[request.user].contains(request.patient))
            }
        }
    }

    /// The Set.contains floor: the allowed requests' packed keys.
    func answerKey(_ request: Request) -> Int {
        ((request.user &* 200 &+ request.type) &* 4 &+ request.action) &* Self.patients &+ request.patient
    }
}
