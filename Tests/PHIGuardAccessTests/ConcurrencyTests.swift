import Foundation
@_spi(PolicyEvaluation) import PHIGuardAccess
import Testing

/// Policy swaps while other tasks decide: every decision must come wholly from one policy.
@Suite struct ConcurrencyTests {
    static func policy(_ variant: String) throws -> CompiledPolicy {
        let fields = variant == "old" ? "[a, b]" : "[c]"
        let deny = variant == "old" ? "update" : "read"
        return try CompiledPolicy(
            yaml: """
                version: 1
                resourceTypes: [{name: doc, fields: [a, b, c]}]
                roles: [reader, auditor]
                rules:
                  - {id: \(variant)-read, effect: allow, roles: reader, actions: [read, update], resourceTypes: doc, fields: \(fields)}
                  - {id: \(variant)-deny, effect: deny, roles: auditor, actions: \(deny), resourceTypes: doc}
                """)
    }

    @Test func readersSeeTheOldOrTheNewPolicyNeverAMix() async throws {
        let old = try Self.policy("old")
        let new = try Self.policy("new")
        let engine = AccessEngine(policy: old)
        let reader = Subject(id: "u", roles: ["reader", "auditor"])
        let doc = Resource(type: "doc")
        let torn = await withTaskGroup(of: Int.self) { group in
            group.addTask {
                for round in 0..<20_000 { engine.replacePolicy(round % 2 == 0 ? new : old) }
                return 0
            }
            for _ in 0..<4 {
                group.addTask {
                    var inconsistent = 0
                    for _ in 0..<50_000 {
                        let read = engine.decide(AccessRequest(subject: reader, action: .read, resource: doc))
                        let update = engine.decide(AccessRequest(subject: reader, action: .update, resource: doc))
                        // Old: read allowed with a, b; update denied. New: read denied; update allowed with c.
                        let readOK =
                            (read.isAllowed && read.visibleFields == ["a", "b"] && read.decidingRuleIDs == ["old-read"])
                            || (!read.isAllowed && read.decidingRuleIDs == ["new-deny"])
                        let updateOK =
                            (!update.isAllowed && update.decidingRuleIDs == ["old-deny"])
                            || (update.isAllowed && update.visibleFields == ["c"]
                                && update.decidingRuleIDs == ["new-read"])
                        if !readOK || !updateOK { inconsistent += 1 }
                    }
                    return inconsistent
                }
            }
            return await group.reduce(0, +)
        }
        #expect(torn == 0)
        #expect(engine.policy === old || engine.policy === new)
    }

    @Test func aRejectedReplacementLeavesTheCurrentPolicy() throws {
        let old = try Self.policy("old")
        let engine = AccessEngine(policy: old)
        #expect(throws: PolicyValidationError.self) { try engine.replacePolicy(yaml: "version: 1\nroles: [") }
        #expect(engine.policy === old)
        let replaced = try engine.replacePolicy(yaml: Self.policyText)
        #expect(replaced === old)
        #expect(engine.policy !== old)
    }

    static let policyText = """
        version: 1
        resourceTypes: [{name: doc}]
        roles: [reader]
        rules: [{id: r, effect: allow, roles: reader, actions: read, resourceTypes: doc}]
        """

    @Test func preparedSubjectsFromAnOldPolicyAreReResolved() throws {
        let old = try CompiledPolicy(yaml: Self.policyText)
        let new = try CompiledPolicy(
            yaml: """
                version: 1
                resourceTypes: [{name: doc}]
                roles: [other, reader]
                rules: [{id: r2, effect: allow, roles: reader, actions: read, resourceTypes: doc}]
                """)
        let prepared = old.prepare(Subject(id: "u", roles: ["reader"]))
        let decision = new.decide(prepared, .read, Resource(type: "doc"))
        #expect(decision.isAllowed)
        #expect(decision.decidingRuleIDs == ["r2"])
    }
}
