import Foundation
@_spi(PolicyEvaluation) import PHIGuardAccess
import Testing

/// Issue #15, finding 4: deny rules fail closed, labels match exactly, empty ids relate to nothing,
/// and every decision that carried a break-glass grant is flagged for review.
@Suite struct FailClosedTests {
    let hospital: CompiledPolicy

    init() throws {
        hospital = try CompiledPolicy(yaml: try hospitalPolicyText())
    }

    func decide(
        _ policy: CompiledPolicy, _ subject: Subject, _ action: AccessAction, _ resource: Resource,
        grant: BreakGlassGrant? = nil, careTeams: (any CareTeamDirectory)? = nil
    ) -> AccessDecision {
        policy.decide(
            AccessRequest(subject: subject, action: action, resource: resource, breakGlass: grant),
            careTeams: careTeams, clock: ManualClock(utc(hour: 12)))
    }

    func nurseGrant(_ nurse: Subject) throws -> BreakGlassGrant {
        try hospital.breakGlass(
            for: nurse, scope: BreakGlassScope(patient: "p-stranger"),
            reason: BreakGlassReason(category: .emergencyTreatment, justification: "unresponsive"), now: utc(hour: 11))
    }

    // MARK: Labels

    @Test func aNurseUnderBreakGlassCannotReadANoteLabelledWithAnotherSpelling() throws {
        let nurse = Subject(id: "u-n", roles: ["nurse"], careTeamPatients: [])
        let grant = try nurseGrant(nurse)
        for spelling in ["Psychotherapy", "substance_use", "PSYCHOTHERAPY", "psychotherapy "] {
            let note = Resource(type: "clinical-note", patientID: "p-stranger", labels: [spelling])
            let decision = decide(hospital, nurse, .read, note, grant: grant)
            #expect(!decision.isAllowed, "label \(spelling)")
            #expect(decision.reason == .explicitDeny, "label \(spelling)")
            #expect(decision.decidingRuleIDs == ["nurses-no-sensitive-notes"], "label \(spelling)")
            #expect(decision.requiresAuditReview)
        }
        // The declared spellings are denied as before, and an unlabelled note is readable under the grant.
        let declared = Resource(type: "clinical-note", patientID: "p-stranger", labels: ["psychotherapy"])
        #expect(decide(hospital, nurse, .read, declared, grant: grant).reason == .explicitDeny)
        let plain = Resource(type: "clinical-note", patientID: "p-stranger")
        #expect(decide(hospital, nurse, .read, plain, grant: grant).reason == .allowedByBreakGlass)
    }

    static let labelPolicy = """
        version: 1
        sensitivityLabels: [substance-use, cleared]
        resourceTypes: [{name: note}]
        roles: [clinician, researcher]
        rules:
          - {id: clinician-reads, effect: allow, roles: clinician, actions: read, resourceTypes: note}
          - id: clinician-no-part2
            effect: deny
            roles: clinician
            actions: read
            resourceTypes: note
            when: {labelsAnyOf: [substance-use]}
          - {id: researcher-reads, effect: allow, roles: researcher, actions: read, resourceTypes: note}
          - id: researcher-only-cleared
            effect: deny
            roles: researcher
            actions: read
            resourceTypes: note
            when: {labelsNoneOf: [cleared]}
        """

    @Test func anUndeclaredLabelInDataMakesEveryLabelDenyApply() throws {
        let policy = try CompiledPolicy(yaml: Self.labelPolicy)
        let clinician = Subject(id: "u-c", roles: ["clinician"])
        let researcher = Subject(id: "u-r", roles: ["researcher"])
        // labelsAnyOf deny: the undeclared `substance_use` might be `substance-use`.
        let underscore = decide(policy, clinician, .read, Resource(type: "note", labels: ["substance_use"]))
        #expect(!underscore.isAllowed && underscore.reason == .explicitDeny)
        #expect(underscore.decidingRuleIDs == ["clinician-no-part2"])
        #expect(decide(policy, clinician, .read, Resource(type: "note")).isAllowed)
        // labelsNoneOf deny: an undeclared label no longer makes it lapse.
        let uncleared = decide(policy, researcher, .read, Resource(type: "note", labels: ["Cleared"]))
        #expect(!uncleared.isAllowed && uncleared.reason == .explicitDeny)
        #expect(decide(policy, researcher, .read, Resource(type: "note", labels: ["cleared"])).isAllowed)
        // But a declared label that settles the question still does: `cleared` is there, whatever else is.
        #expect(decide(policy, researcher, .read, Resource(type: "note", labels: ["cleared", "other"])).isAllowed)
    }

    @Test func anUndeclaredLabelSpellingInARuleIsAValidationError() {
        let yaml = Self.labelPolicy.replacingOccurrences(
            of: "labelsAnyOf: [substance-use]", with: "labelsAnyOf: [substance_use]")
        #expect {
            try CompiledPolicy(yaml: yaml)
        } throws: { error in
            let issues = (error as? PolicyValidationError)?.issues ?? []
            return issues.contains { $0.code == .unknownLabel && $0.element == "substance_use" }
        }
    }

    // MARK: Attributes

    static let attributePolicy = """
        version: 1
        resourceTypes: [{name: record}]
        roles: [clerk]
        rules:
          - {id: clerk-reads, effect: allow, roles: clerk, actions: read, resourceTypes: record}
          - id: clerk-only-own-department
            effect: deny
            roles: clerk
            actions: read
            resourceTypes: record
            when:
              attributes:
                - {resource: department, notEqualsSubject: department}
          - id: clerk-never-restricted
            effect: deny
            roles: clerk
            actions: read
            resourceTypes: record
            when:
              attributes:
                - {resource: confidentiality, equals: restricted}
        """

    @Test func aDenyOnAMissingAttributeApplies() throws {
        let policy = try CompiledPolicy(yaml: Self.attributePolicy)
        let clerk = Subject(id: "u-c", roles: ["clerk"], attributes: ["department": "cardiology"])
        let normal = ["department": "cardiology", "confidentiality": "normal"]
        #expect(decide(policy, clerk, .read, Resource(type: "record", attributes: normal)).isAllowed)
        // The resource lacks `department`: the department deny cannot be evaluated, so it applies.
        let noDepartment = decide(policy, clerk, .read, Resource(type: "record", attributes: ["confidentiality": "x"]))
        #expect(!noDepartment.isAllowed && noDepartment.reason == .explicitDeny)
        #expect(noDepartment.decidingRuleIDs == ["clerk-only-own-department"])
        // The subject lacks it, or it is empty on either side: the same.
        let bare = Subject(id: "u-b", roles: ["clerk"])
        #expect(decide(policy, bare, .read, Resource(type: "record", attributes: normal)).reason == .explicitDeny)
        let empty = Subject(id: "u-e", roles: ["clerk"], attributes: ["department": ""])
        let emptyRecord = Resource(type: "record", attributes: ["department": "", "confidentiality": "normal"])
        #expect(decide(policy, empty, .read, emptyRecord).reason == .explicitDeny)
        // Missing `confidentiality`: the literal deny applies too.
        let unclassified = decide(
            policy, clerk, .read, Resource(type: "record", attributes: ["department": "cardiology"]))
        #expect(unclassified.reason == .explicitDeny && unclassified.decidingRuleIDs == ["clerk-never-restricted"])
        // Another department is denied as before.
        let other = ["department": "oncology", "confidentiality": "normal"]
        #expect(decide(policy, clerk, .read, Resource(type: "record", attributes: other)).reason == .explicitDeny)
    }

    @Test func validationWarnsAboutDenyRulesOnAttributes() throws {
        let policy = try CompiledPolicy(yaml: Self.attributePolicy)
        #expect(policy.warnings.map(\.element) == ["clerk-only-own-department", "clerk-never-restricted"])
        #expect(policy.warnings.allSatisfy { $0.code == .denyOnAbsentAttribute && $0.isWarning })
        #expect(policy.warnings.first?.location?.line == 13)
        #expect(hospital.warnings.isEmpty)
        // An empty literal could never be compared (an empty attribute counts as missing): an error.
        let emptyLiteral = Self.attributePolicy.replacingOccurrences(of: "equals: restricted", with: "equals: \"\"")
        #expect(throws: PolicyValidationError.self) { try CompiledPolicy(yaml: emptyLiteral) }
    }

    // MARK: Empty ids

    @Test func emptyPatientIDsNeverSatisfySelf() {
        let portal = Subject(id: "u-p", roles: ["patient"], patientID: "")
        let chart = Resource(type: "chart", patientID: "")
        let decision = decide(hospital, portal, .read, chart)
        #expect(!decision.isAllowed && decision.reason == .conditionNotMet)
        #expect(
            decide(hospital, Subject(id: "u-p", roles: ["patient"], patientID: "p-7"), .read, chart).reason
                == .conditionNotMet)
    }

    @Test func emptyPatientIDsNeverSatisfyCareTeam() {
        let chart = Resource(type: "chart", patientID: "")
        let nurse = Subject(id: "u-n", roles: ["nurse"], careTeamPatients: [""])
        #expect(decide(hospital, nurse, .read, chart).reason == .conditionNotMet)
        // Nor through the directory.
        let physician = Subject(id: "u-d", roles: ["physician"])
        let directory = TableCareTeams(members: ["u-d": [""]])
        #expect(decide(hospital, physician, .read, chart, careTeams: directory).reason == .conditionNotMet)
    }

    @Test func emptyAttributesNeverSatisfyEqualsSubject() throws {
        let policy = try CompiledPolicy(
            yaml: """
                version: 1
                resourceTypes: [{name: record}]
                roles: [clerk]
                rules:
                  - id: same-department
                    effect: allow
                    roles: clerk
                    actions: read
                    resourceTypes: record
                    when:
                      attributes: [{resource: department, equalsSubject: department}]
                """)
        let clerk = Subject(id: "u-c", roles: ["clerk"], attributes: ["department": ""])
        #expect(
            decide(policy, clerk, .read, Resource(type: "record", attributes: ["department": ""])).reason
                == .conditionNotMet)
        let real = Subject(id: "u-c", roles: ["clerk"], attributes: ["department": "a"])
        #expect(decide(policy, real, .read, Resource(type: "record", attributes: ["department": "a"])).isAllowed)
    }

    // MARK: Grants

    @Test func aGrantOnAnUnknownTypeOrActionIsFlaggedForReview() throws {
        let nurse = Subject(id: "u-n", roles: ["nurse"])
        let grant = try nurseGrant(nurse)
        let unknownType = decide(hospital, nurse, .read, Resource(type: "x-ray", patientID: "p-stranger"), grant: grant)
        #expect(unknownType.reason == .unknownResourceType)
        #expect(unknownType.requiresAuditReview && unknownType.breakGlassStatus == .active)
        #expect(unknownType.breakGlassGrantID == grant.id)
        let unknownAction = decide(
            hospital, nurse, AccessAction("launch"), Resource(type: "chart", patientID: "p-stranger"), grant: grant)
        #expect(unknownAction.reason == .unknownAction)
        #expect(unknownAction.requiresAuditReview && unknownAction.breakGlassStatus == .active)
        // Inapplicable action (delete on a chart) and someone else's grant, too.
        let other = Subject(id: "u-o", roles: ["nurse"])
        let stolen = decide(hospital, other, .delete, Resource(type: "chart"), grant: grant)
        #expect(stolen.reason == .unknownAction && stolen.breakGlassStatus == .notApplicable)
    }

    @Test func aGrantOnARequestTheEngineRefusesIsFlaggedForReview() throws {
        let clock = ManualClock(utc(hour: 12))
        let engine = AccessEngine(policy: hospital, clock: clock)
        let nurse = Subject(id: "u-n", roles: ["nurse"])
        let principal = AuthenticatedPrincipal(
            subject: nurse, sessionHandle: "s", authenticatedAt: utc(hour: 11), recentlyAuthenticatedAt: utc(hour: 11),
            strength: .multiFactor, validUntil: utc(hour: 13))
        let grant = try engine.breakGlass(
            for: principal, scope: BreakGlassScope(patient: "p-1"),
            reason: BreakGlassReason(category: .emergencyTreatment, justification: "bleeding"))
        let chart = Resource(type: "chart", patientID: "p-1")
        let stepUp = engine.decide(principal, .read, chart, breakGlass: grant, recentAuthentication: .seconds(60))
        #expect(stepUp.reason == .recentAuthenticationRequired)
        #expect(stepUp.requiresAuditReview && stepUp.breakGlassStatus == .active)
        clock.advance(by: .seconds(3600))
        let expired = engine.decide(principal, .read, chart, breakGlass: grant)
        #expect(expired.reason == .authenticationExpired)
        #expect(expired.requiresAuditReview && expired.breakGlassGrantID == grant.id)
    }
}
