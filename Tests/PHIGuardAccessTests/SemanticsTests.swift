import Foundation
@_spi(PolicyEvaluation) import PHIGuardAccess
import Testing

/// Decision semantics on small purpose-built policies.
@Suite struct SemanticsTests {
    static let inheritancePolicy = """
        version: 1
        actions: [sign]
        resourceTypes:
          - name: doc
            fields: [a, b, c, d]
          - name: other
        roles:
          - name: base
          - name: left
            inherits: [base]
          - name: right
            inherits: [base]
          - name: diamond
            inherits: [left, right]
          - name: r1
          - name: r2
            inherits: r1
          - name: r3
            inherits: r2
          - name: r4
            inherits: r3
          - name: r5
            inherits: r4
          - name: r6
            inherits: r5
          - name: unrelated
        rules:
          - {id: base-reads-a, effect: allow, roles: base, actions: read, resourceTypes: doc, fields: [a]}
          - {id: left-reads-b, effect: allow, roles: left, actions: read, resourceTypes: doc, fields: [b]}
          - {id: right-reads-c, effect: allow, roles: right, actions: read, resourceTypes: doc, fields: [c]}
          - {id: right-no-update, effect: deny, roles: right, actions: update, resourceTypes: doc}
          - {id: left-updates, effect: allow, roles: left, actions: update, resourceTypes: doc}
          - {id: r1-signs, effect: allow, roles: r1, actions: sign, resourceTypes: doc, fields: [d]}
          - {id: r3-reads-other, effect: allow, roles: r3, actions: read, resourceTypes: other}
          - {id: unrelated-reads-all, effect: allow, roles: unrelated, actions: read, resourceTypes: doc}
          - {id: unrelated-hides-d, effect: deny, roles: unrelated, actions: read, resourceTypes: doc, fields: [d]}
        """

    let policy: CompiledPolicy

    init() throws {
        policy = try CompiledPolicy(yaml: Self.inheritancePolicy)
    }

    func decide(_ roles: [String], _ action: AccessAction, _ type: String) -> AccessDecision {
        policy.decide(
            AccessRequest(subject: Subject(id: "u", roles: roles), action: action, resource: Resource(type: type)))
    }

    @Test func diamondInheritanceUnionsFieldsFromBothParentsAndTheSharedAncestor() {
        let decision = decide(["diamond"], .read, "doc")
        #expect(decision.isAllowed)
        #expect(decision.visibleFields == ["a", "b", "c"])
        #expect(Set(decision.decidingRuleIDs) == ["base-reads-a", "left-reads-b", "right-reads-c"])
        #expect(policy.effectiveRoles(of: "diamond") == ["diamond", "left", "right", "base"])
    }

    @Test func denyInheritedThroughOneParentBeatsAllowThroughTheOther() {
        let decision = decide(["diamond"], .update, "doc")
        #expect(!decision.isAllowed)
        #expect(decision.reason == .explicitDeny)
        #expect(decision.decidingRuleIDs == ["right-no-update"])
        #expect(decide(["left"], .update, "doc").isAllowed)
    }

    @Test func denyThroughASecondRoleWins() {
        // Allowed through `left`, denied through `right`, held as two separate roles.
        let decision = decide(["left", "right"], .update, "doc")
        #expect(!decision.isAllowed)
        #expect(decision.reason == .explicitDeny)
    }

    @Test func deepChainsInheritEveryAncestor() {
        #expect(decide(["r6"], .sign, "doc").visibleFields == ["d"])
        #expect(decide(["r6"], .read, "other").isAllowed)
        #expect(decide(["r3"], .read, "other").isAllowed)
        #expect(!decide(["r2"], .read, "other").isAllowed)
        #expect(policy.effectiveRoles(of: "r6").count == 6)
    }

    @Test func fieldDenySubtractsFromTheUnion() {
        let decision = decide(["unrelated"], .read, "doc")
        #expect(decision.isAllowed)
        #expect(decision.visibleFields == ["a", "b", "c"])
        #expect(!decision.isFieldVisible("d"))
        #expect(decision.isFieldVisible("a"))
        #expect(!decision.isFieldVisible("nonexistent"))
        #expect(Set(decision.decidingRuleIDs) == ["unrelated-reads-all", "unrelated-hides-d"])
    }

    @Test func defaultDenyForUnknownTypeActionAndRole() {
        let unknownType = decide(["base"], .read, "spaceship")
        #expect(!unknownType.isAllowed && unknownType.reason == .unknownResourceType)
        let unknownAction = decide(["base"], AccessAction("launch"), "doc")
        #expect(!unknownAction.isAllowed && unknownAction.reason == .unknownAction)
        let inapplicable = decide(["r1"], .sign, "other")  // sign is declared, other allows every action
        #expect(!inapplicable.isAllowed && inapplicable.reason == .noMatchingRule)
        let unknownRole = decide(["astronaut"], .read, "doc")
        #expect(!unknownRole.isAllowed && unknownRole.reason == .noKnownRole)
        let noRoles = decide([], .read, "doc")
        #expect(!noRoles.isAllowed && noRoles.reason == .noKnownRole)
        let noRule = decide(["r1"], .delete, "doc")
        #expect(!noRule.isAllowed && noRule.reason == .noMatchingRule && noRule.decidingRuleIDs.isEmpty)
        #expect(noRule.visibleFields.isEmpty)
    }

    @Test func unknownRolesNextToKnownOnesGrantNothingExtra() {
        #expect(decide(["astronaut", "base"], .read, "doc").visibleFields == ["a"])
    }

    @Test func allFieldsHiddenMeansDeny() throws {
        let policy = try CompiledPolicy(
            yaml: """
                version: 1
                resourceTypes: [{name: doc, fields: [a, b]}]
                roles: [reader, restricted]
                rules:
                  - {id: read-a, effect: allow, roles: reader, actions: read, resourceTypes: doc, fields: [a]}
                  - {id: hide-a, effect: deny, roles: restricted, actions: read, resourceTypes: doc, fields: [a]}
                """)
        let decision = policy.decide(
            AccessRequest(
                subject: Subject(id: "u", roles: ["reader", "restricted"]), action: .read,
                resource: Resource(type: "doc")))
        #expect(!decision.isAllowed)
        #expect(decision.reason == .allFieldsDenied)
        #expect(decision.visibleFields.isEmpty)
    }
}

/// Relationship, label, attribute and time conditions, and break-glass, on the sample hospital policy.
@Suite struct HospitalPolicyTests {
    let policy: CompiledPolicy

    init() throws {
        policy = try CompiledPolicy(yaml: try hospitalPolicyText())
    }

    func decide(
        _ subject: Subject, _ action: AccessAction, _ resource: Resource, grant: BreakGlassGrant? = nil,
        careTeams: (any CareTeamDirectory)? = nil, at date: Date = utc(hour: 12)
    ) -> AccessDecision {
        policy.decide(
            AccessRequest(subject: subject, action: action, resource: resource, breakGlass: grant),
            careTeams: careTeams, clock: ManualClock(date))
    }

    @Test func aPatientReadsTheirOwnChartButNotAnothers() {
        let alice = Subject(id: "u-alice", roles: ["patient"], patientID: "p-alice")
        let own = decide(alice, .read, Resource(type: "chart", id: "c1", patientID: "p-alice"))
        #expect(own.isAllowed)
        #expect(own.visibleFields.contains("medications"))
        #expect(own.decidingRuleIDs == ["patient-reads-own-chart"])
        let other = decide(alice, .read, Resource(type: "chart", id: "c2", patientID: "p-bob"))
        #expect(!other.isAllowed)
        #expect(other.reason == .conditionNotMet)
        // A resource without an owning patient never matches a relationship condition.
        #expect(!decide(alice, .read, Resource(type: "chart", id: "c3")).isAllowed)
        // A portal user without a patient id never matches `self`, even against a resource without one.
        #expect(!decide(Subject(id: "u-x", roles: ["patient"]), .read, Resource(type: "chart")).isAllowed)
    }

    @Test func psychotherapyNotesAreHiddenFromPatients() {
        let alice = Subject(id: "u-alice", roles: ["patient"], patientID: "p-alice")
        #expect(decide(alice, .read, Resource(type: "clinical-note", patientID: "p-alice")).isAllowed)
        let note = Resource(type: "clinical-note", patientID: "p-alice", labels: ["psychotherapy"])
        #expect(!decide(alice, .read, note).isAllowed)
        // An undeclared label fails closed against `labelsNoneOf`.
        let typo = Resource(type: "clinical-note", patientID: "p-alice", labels: ["psycho-therapy"])
        #expect(!decide(alice, .read, typo).isAllowed)
    }

    @Test func aClinicianOutsideTheCareTeamIsDenied() {
        let nurse = Subject(id: "u-n", roles: ["nurse"], careTeamPatients: ["p-alice"])
        let inside = decide(nurse, .read, Resource(type: "chart", patientID: "p-alice"))
        #expect(inside.isAllowed)
        #expect(!inside.visibleFields.contains("billing"))  // field-level deny for clinicians
        #expect(inside.visibleFields.contains("vitals"))
        let outside = decide(nurse, .read, Resource(type: "chart", patientID: "p-bob"))
        #expect(!outside.isAllowed && outside.reason == .conditionNotMet)
    }

    @Test func careTeamsComeFromTheDirectoryWhenTheRequestHasNone() {
        let physician = Subject(id: "u-doc", roles: ["physician"])
        let directory = TableCareTeams(members: ["u-doc": ["p-alice"]])
        #expect(decide(physician, .read, Resource(type: "chart", patientID: "p-alice"), careTeams: directory).isAllowed)
        #expect(!decide(physician, .read, Resource(type: "chart", patientID: "p-bob"), careTeams: directory).isAllowed)
        #expect(!decide(physician, .read, Resource(type: "chart", patientID: "p-alice")).isAllowed)
    }

    @Test func fieldSetsPerRole() {
        let chart = Resource(type: "chart", patientID: "p-alice")
        let clerk = decide(Subject(id: "u-b", roles: ["billing-clerk"]), .read, chart)
        #expect(clerk.visibleFields == ["demographics", "contact", "insurance", "billing"])
        let desk = decide(Subject(id: "u-f", roles: ["front-desk"]), .read, chart)
        #expect(desk.visibleFields == ["demographics", "contact", "insurance"])
        let physician = decide(Subject(id: "u-d", roles: ["physician"], careTeamPatients: ["p-alice"]), .read, chart)
        #expect(physician.visibleFields.count == 9)
        #expect(!physician.isFieldVisible("billing"))
        let update = decide(Subject(id: "u-n", roles: ["nurse"], careTeamPatients: ["p-alice"]), .update, chart)
        #expect(update.visibleFields == ["allergies", "vitals"])
    }

    @Test func adminDenyWinsOverAClinicalRole() {
        let both = Subject(id: "u-a", roles: ["admin", "physician"], careTeamPatients: ["p-alice"])
        let decision = decide(both, .read, Resource(type: "chart", patientID: "p-alice"))
        #expect(!decision.isAllowed)
        #expect(decision.reason == .explicitDeny)
        #expect(decision.decidingRuleIDs == ["admin-never-reads-charts"])
    }

    @Test func frontDeskChartAccessFollowsTheTimeWindow() {
        let desk = Subject(id: "u-f", roles: ["front-desk"])
        let chart = Resource(type: "chart", patientID: "p-alice")
        #expect(decide(desk, .read, chart, at: utc(hour: 6)).isAllowed)
        #expect(decide(desk, .read, chart, at: utc(hour: 21, minute: 59)).isAllowed)
        #expect(!decide(desk, .read, chart, at: utc(hour: 22)).isAllowed)
        #expect(!decide(desk, .read, chart, at: utc(hour: 3)).isAllowed)
    }

    @Test func anAppsOwnClockDecidesTimeOfDay() {
        let desk = Subject(id: "u-f", roles: ["front-desk"])
        let chart = AccessRequest(subject: desk, action: .read, resource: Resource(type: "chart", patientID: "p-a"))
        let base = ManualClock(utc(hour: 21))
        #expect(AccessEngine(policy: policy, clock: OffsetClock(base: base, offset: .zero)).decide(chart).isAllowed)
        #expect(
            !AccessEngine(policy: policy, clock: OffsetClock(base: base, offset: .seconds(3_600))).decide(chart)
                .isAllowed)
    }

    @Test func attributeConditions() {
        let physician = Subject(id: "u-d", roles: ["physician"], careTeamPatients: ["p-alice"])
        let draft = Resource(type: "clinical-note", patientID: "p-alice", attributes: ["status": "draft"])
        let signed = Resource(type: "clinical-note", patientID: "p-alice", attributes: ["status": "signed"])
        #expect(decide(physician, .sign, draft).isAllowed)
        #expect(!decide(physician, .sign, signed).isAllowed)
        #expect(!decide(physician, .sign, Resource(type: "clinical-note", patientID: "p-alice")).isAllowed)
    }

    @Test func diamondRoleInTheSamplePolicy() {
        let charge = Subject(id: "u-c", roles: ["charge-nurse"], careTeamPatients: ["p-alice"])
        #expect(decide(charge, .create, Resource(type: "appointment", patientID: "p-bob")).isAllowed)
        let update = decide(charge, .update, Resource(type: "chart", patientID: "p-alice"))
        #expect(update.visibleFields == ["contact", "insurance", "allergies", "vitals"])
    }

    @Test func breakGlassGrantsTimeLimitedMarkedAccess() throws {
        let clock = ManualClock(utc(hour: 12))
        let engine = AccessEngine(policy: policy, clock: clock)
        let nurse = Subject(id: "u-n", roles: ["nurse"], careTeamPatients: [])
        let chart = Resource(type: "chart", patientID: "p-stranger")
        #expect(!engine.decide(AccessRequest(subject: nurse, action: .read, resource: chart)).isAllowed)

        let reason = BreakGlassReason(category: .emergencyTreatment, justification: "  unresponsive in ER  ")
        let grant = try engine.breakGlass(
            for: nurse, scope: BreakGlassScope(patient: "p-stranger"), reason: reason, duration: .seconds(1800))
        #expect(grant.expiresAt.timeIntervalSince(grant.issuedAt) == 1800)
        #expect(!grant.description.contains("unresponsive"))
        #expect(!reason.description.contains("unresponsive"))

        let during = engine.decide(AccessRequest(subject: nurse, action: .read, resource: chart, breakGlass: grant))
        #expect(during.isAllowed)
        #expect(during.reason == .allowedByBreakGlass)
        #expect(during.requiresAuditReview)
        #expect(during.breakGlassStatus == .active)
        #expect(during.breakGlassGrantID == grant.id)
        #expect(Set(during.decidingRuleIDs) == ["break-glass.1", "clinician-never-sees-billing-field"])
        #expect(!during.isFieldVisible("billing"))  // deny rules still win under break-glass

        // Deny rules win over break-glass for whole actions too.
        let sensitive = Resource(type: "clinical-note", patientID: "p-stranger", labels: ["substance-use"])
        let denied = engine.decide(AccessRequest(subject: nurse, action: .read, resource: sensitive, breakGlass: grant))
        #expect(!denied.isAllowed && denied.reason == .explicitDeny && denied.requiresAuditReview)

        // Break-glass grants only what it names.
        let write = engine.decide(AccessRequest(subject: nurse, action: .update, resource: chart, breakGlass: grant))
        #expect(!write.isAllowed)

        // Someone else cannot use the grant.
        let other = Subject(id: "u-other", roles: ["nurse"])
        let stolen = engine.decide(AccessRequest(subject: other, action: .read, resource: chart, breakGlass: grant))
        #expect(!stolen.isAllowed && stolen.breakGlassStatus == .notApplicable)

        // A patient outside the grant's scope, or a resource of no patient, is not opened.
        let otherPatient = Resource(type: "chart", patientID: "p-other")
        let outside = engine.decide(
            AccessRequest(subject: nurse, action: .read, resource: otherPatient, breakGlass: grant))
        #expect(!outside.isAllowed && outside.breakGlassStatus == .outOfScope && outside.requiresAuditReview)
        let noPatient = engine.decide(
            AccessRequest(subject: nurse, action: .read, resource: Resource(type: "chart"), breakGlass: grant))
        #expect(!noPatient.isAllowed && noPatient.breakGlassStatus == .outOfScope)

        // A revoked copy opens nothing, from the revocation time on.
        let revoked = grant.revoked(at: clock.now)
        let afterRevoke = engine.decide(
            AccessRequest(subject: nurse, action: .read, resource: chart, breakGlass: revoked))
        #expect(!afterRevoke.isAllowed && afterRevoke.breakGlassStatus == .revoked)

        clock.advance(by: .seconds(1799))
        #expect(
            engine.decide(AccessRequest(subject: nurse, action: .read, resource: chart, breakGlass: grant)).isAllowed)
        clock.advance(by: .seconds(1))
        let after = engine.decide(AccessRequest(subject: nurse, action: .read, resource: chart, breakGlass: grant))
        #expect(!after.isAllowed)
        #expect(after.breakGlassStatus == .expired)
        #expect(after.requiresAuditReview)
    }

    @Test func breakGlassRules() {
        let now = utc(hour: 12)
        let reason = BreakGlassReason(category: .emergencyTreatment, justification: "bleeding")
        let scope = BreakGlassScope(patient: "p-1")
        #expect(throws: BreakGlassError.notPermitted) {
            try policy.breakGlass(
                for: Subject(id: "u", roles: ["billing-clerk"]), scope: scope, reason: reason, now: now)
        }
        #expect(throws: BreakGlassError.notPermitted) {
            try policy.breakGlass(for: Subject(id: "u", roles: ["patient"]), scope: scope, reason: reason, now: now)
        }
        #expect(throws: BreakGlassError.missingJustification) {
            try policy.breakGlass(
                for: Subject(id: "u", roles: ["physician"]), scope: scope,
                reason: BreakGlassReason(category: .breakTheGlass, justification: " \n "), now: now)
        }
        #expect(throws: BreakGlassError.invalidDuration) {
            try policy.breakGlass(
                for: Subject(id: "u", roles: ["physician"]), scope: scope, reason: reason,
                duration: .seconds(4 * 3600 + 1), now: now)
        }
        for invalid in [
            BreakGlassScope(patients: []), BreakGlassScope(patients: [""]),
            BreakGlassScope(patients: (0...16).map { "p-\($0)" }),
        ] {
            #expect(throws: BreakGlassError.invalidScope) {
                try policy.breakGlass(
                    for: Subject(id: "u", roles: ["physician"]), scope: invalid, reason: reason, now: now)
            }
        }
        // Inheritors of an eligible role may break the glass; the default is the policy's maximum.
        let grant = try? policy.breakGlass(
            for: Subject(id: "u", roles: ["charge-nurse"]), scope: scope, reason: reason, now: now)
        #expect(grant?.expiresAt == now.addingTimeInterval(4 * 3600))
    }

    @Test func noRoleMayBreakTheGlassWithoutABreakGlassSection() throws {
        let policy = try CompiledPolicy(
            yaml: """
                version: 1
                resourceTypes: [{name: doc}]
                roles: [physician]
                rules: [{id: r, effect: allow, roles: physician, actions: read, resourceTypes: doc}]
                """)
        #expect(throws: BreakGlassError.notPermitted) {
            try policy.breakGlass(
                for: Subject(id: "u", roles: ["physician"]), scope: BreakGlassScope(patient: "p-1"),
                reason: BreakGlassReason(category: .emergencyTreatment, justification: "x"), now: utc(hour: 1))
        }
    }

    @Test func explainListsEveryRuleOfTheSlot() {
        let nurse = Subject(id: "u-n", roles: ["nurse"], careTeamPatients: ["p-alice"])
        let explanation = policy.explain(
            AccessRequest(subject: nurse, action: .read, resource: Resource(type: "chart", patientID: "p-bob")),
            clock: ManualClock(utc(hour: 12)))
        #expect(!explanation.decision.isAllowed)
        #expect(explanation.effectiveRoles == ["clinician", "nurse", "staff"])
        let clinician = explanation.entries.first { $0.ruleID == "clinician-reads-chart" }
        #expect(clinician?.roleMatched == true && clinician?.conditionHeld == false)
        let patient = explanation.entries.first { $0.ruleID == "patient-reads-own-chart" }
        #expect(patient?.roleMatched == false && patient?.conditionHeld == nil)
        #expect(explanation.entries.first?.kind == "deny-fields")
        let admin = explanation.entries.first { $0.ruleID == "admin-never-reads-charts" }
        #expect(admin?.kind == "deny" && admin?.roleMatched == false)
    }
}
