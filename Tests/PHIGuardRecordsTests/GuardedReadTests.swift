import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardRecords
import PHIGuardTesting
import Synchronization
import Testing

/// One request of each decision kind on chart `c-1`, with what the audit record must say.
struct DecisionCase: Sendable, CustomStringConvertible {
    var name: String
    var user: String
    var roles: [String]
    var breakGlass = false
    var allowed: Bool
    var reason: AccessDecision.Reason
    var rules: Set<String>
    var fieldCount: Int
    var description: String { name }

    static let all: [DecisionCase] = [
        DecisionCase(
            name: "allow", user: "u-desk", roles: ["front-desk"], allowed: true, reason: .allowed,
            rules: ["front-desk-reads-contact"], fieldCount: 3),
        DecisionCase(
            name: "deny", user: "u-admin", roles: ["admin"], allowed: false, reason: .explicitDeny,
            rules: ["admin-never-reads-charts"], fieldCount: 0),
        DecisionCase(
            name: "field deny", user: "u-physician", roles: ["physician"], allowed: true, reason: .allowed,
            rules: ["clinician-reads-chart", "clinician-never-sees-billing-field"], fieldCount: 9),
        DecisionCase(
            name: "default deny", user: "u-auditor", roles: ["auditor"], allowed: false, reason: .noMatchingRule,
            rules: [], fieldCount: 0),
        DecisionCase(
            name: "break-glass", user: "u-nurse", roles: ["nurse"], breakGlass: true, allowed: true,
            reason: .allowedByBreakGlass, rules: ["break-glass.1", "clinician-never-sees-billing-field"], fieldCount: 9),
    ]
}

/// Runs every decision kind through `records.read` and checks the result and the audit record.
func checkEveryDecisionKind(_ harness: RecordsHarness) async throws {
    for kind in DecisionCase.all {
        let principal = harness.principal(kind.user, kind.roles)
        let grant =
            kind.breakGlass
            ? try await harness.emergency.invoke(
                principal, scope: BreakGlassScope(patient: "p-1"),
                reason: BreakGlassReason(category: .emergencyTreatment, justification: "unresponsive on arrival"))
            : nil
        harness.cipher.reset()
        do {
            let chart = try await harness.records.read("c-1", as: principal, breakGlass: grant)
            #expect(kind.allowed, "\(kind)")
            #expect(chart.fieldNames.count == kind.fieldCount, "\(kind)")
            #expect(harness.cipher.openCount == kind.fieldCount, "\(kind)")
        } catch {
            #expect(!kind.allowed, "\(kind): \(error)")
            #expect(error == .notFoundOrDenied, "\(kind)")
            #expect(harness.cipher.openCount == 0, "\(kind)")
        }
        let event = try #require(try await harness.auditRecords().last).event
        #expect(event.kind == .accessDecision)
        #expect(event.outcome == (kind.allowed ? .allow : .deny), "\(kind)")
        #expect(event.reason == kind.reason.rawValue, "\(kind)")
        #expect(Set(event.ruleIDs) == kind.rules, "\(kind)")
        #expect(event.ruleIDs.allSatisfy(AuditIdentifier.isValid))
        #expect(event.fields.count == kind.fieldCount, "\(kind)")
        #expect(event.actorID == kind.user && event.actorRole == kind.roles.joined(separator: "/"))
        #expect(event.sessionID == "s-\(kind.user)" && event.patientID == "p-1" && event.resourceID == "c-1")
        #expect(event.timestamp == AuditEvent.timestamp(for: harness.clock.now), "engine clock, not Date()")
        #expect(event.breakGlass == kind.breakGlass)
        if let grant {
            #expect(event.attributes["break-glass-grant"] == grant.grant.id)
            #expect(event.attributes["break-glass-status"] == "active")
            #expect(event.breakGlassReason == "ETREAT")
        }
    }
    #expect(try await harness.verifyLog().isIntact)
    // One access record per kind, plus the break-glass invocation.
    #expect(try await harness.auditRecords().count == DecisionCase.all.count + 1)
}

@Suite("Guarded records in memory")
struct GuardedReadTests {
    @Test("every decision kind goes through the guarded read and the audit log, which verifies")
    func everyDecisionKind() async throws {
        try await checkEveryDecisionKind(try await RecordsHarness())
    }

    @Test("the audit bridge makes a valid event from every decision kind, and the log verifies")
    func bridgeEveryKind() async throws {
        let harness = try await RecordsHarness()
        for kind in DecisionCase.all {
            let principal = harness.principal(kind.user, kind.roles)
            let grant =
                kind.breakGlass
                ? try harness.engine.breakGlass(
                    for: principal, scope: BreakGlassScope(patient: "p-1"),
                    reason: .init(category: .breakTheGlass, justification: "x"))
                : nil
            let resource = Resource(type: "chart", id: "c-1", patientID: "p-1")
            let decision = harness.engine.decide(principal, .read, resource, breakGlass: grant)
            #expect(decision.reason == kind.reason, "\(kind)")
            let event = try AuditEvent.accessDecision(
                decision, principal: principal, action: .read, resource: resource, policy: harness.engine.policy,
                fields: decision.visibleFields, breakGlass: grant, at: harness.engine.clock.now)
            try await harness.log.append(event)
        }
        #expect(try await harness.verifyLog().isIntact)
        #expect(try await harness.auditRecords().map(\.event.breakGlass) == [false, false, false, false, true])
    }

    @Test("minimum necessary: a role that may see 3 of 10 fields causes exactly 3 decryptions")
    func minimumNecessary() async throws {
        let harness = try await RecordsHarness()
        let chart = try await harness.records.read("c-1", as: harness.principal("u-desk", ["front-desk"]))
        #expect(harness.cipher.opened.withLock { $0.sorted() } == ["contact", "demographics", "insurance"])
        #expect(chart.fieldNames == ["contact", "demographics", "insurance"])
        #expect(chart["demographics"] == RecordsHarness.value("demographics"))
        #expect(chart["labs"] == nil && chart.values["billing"] == nil, "hidden fields are absent, not empty")
        #expect(!chart.description.contains("value of"))
    }

    @Test("the audit record names every role the policy knows, sorted, not a guessed first role")
    func rolesInAudit() async throws {
        let harness = try await RecordsHarness()
        let principal = harness.principal("u-desk", ["nurse", "front-desk", "not-in-policy", "nurse"])
        _ = try await harness.records.read("c-1", as: principal)
        #expect(try await harness.auditRecords().last?.event.actorRole == "front-desk/nurse")
    }

    @Test("a denied and a missing record give one answer; only the audit log tells them apart")
    func deniedAndMissingIndistinguishable() async throws {
        let harness = try await RecordsHarness()
        let admin = harness.principal("u-admin", ["admin"])
        let denied = await #expect(throws: RecordError.self) { try await harness.records.read("c-1", as: admin) }
        let missing = await #expect(throws: RecordError.self) { try await harness.records.read("c-404", as: admin) }
        #expect(denied == .notFoundOrDenied && missing == denied)
        #expect(String(describing: denied) == String(describing: missing))
        // A role the policy would allow gets the same answer for a missing record.
        let desk = harness.principal("u-desk", ["front-desk"])
        let missingForDesk = await #expect(throws: RecordError.self) {
            try await harness.records.read("c-404", as: desk)
        }
        #expect(missingForDesk == denied)
        #expect(harness.cipher.openCount == 0)
        let events = try await harness.auditRecords().map(\.event)
        #expect(events.map(\.outcome) == [.deny, .deny, .deny])
        #expect(events.map(\.reason) == ["explicitDeny", "not-found", "not-found"])
        #expect(try await harness.verifyLog().isIntact)
    }

    @Test("audit failure: nothing is decrypted, returned or written")
    func auditFailureFailsClosed() async throws {
        let harness = try await RecordsHarness()
        let before = try await harness.store.fetch("c-1", schema: harness.schema)
        harness.sink.refuseAppends()
        let physician = harness.principal("u-physician", ["physician"])
        let read = await #expect(throws: RecordError.self) { try await harness.records.read("c-1", as: physician) }
        #expect(read == .auditUnavailable)
        #expect(harness.cipher.openCount == 0)
        let update = await #expect(throws: RecordError.self) {
            try await harness.records.update("c-1", changes: ["labs": "new labs"], as: physician)
        }
        #expect(update == .auditUnavailable)
        #expect(try await harness.store.fetch("c-1", schema: harness.schema) == before)
    }

    @Test("an update touching a field outside the grant is refused whole, audited as denied")
    func updateOutsideGrantWritesNothing() async throws {
        let harness = try await RecordsHarness()
        let before = try await harness.store.fetch("c-1", schema: harness.schema)
        let nurse = harness.principal("u-nurse-team", ["nurse"])  // may update vitals and allergies only
        let error = await #expect(throws: RecordError.self) {
            try await harness.records.update("c-1", changes: ["vitals": "BP 120/80", "labs": "K 9.9"], as: nurse)
        }
        #expect(error == .fieldsNotPermitted(["labs"]))
        #expect(try await harness.store.fetch("c-1", schema: harness.schema) == before)
        #expect(harness.cipher.sealed.withLock { $0.isEmpty })
        let event = try #require(try await harness.auditRecords().last).event
        #expect(event.action == "update" && event.outcome == .deny && event.reason == "field-not-granted")
        #expect(event.ruleIDs == ["nurse-records-vitals"])
    }

    @Test("an allowed update re-encrypts the changed fields bound to their row and audits their names")
    func updateReencryptsBoundToRow() async throws {
        let harness = try await RecordsHarness()
        try await harness.seed("c-2", patient: "p-1")
        let nurse = harness.principal("u-nurse-team", ["nurse"])
        try await harness.records.update("c-1", changes: ["vitals": "BP 120/80"], as: nurse)
        let event = try #require(try await harness.auditRecords().last).event
        #expect(event.outcome == .allow && event.fields == ["vitals"])
        #expect(!String(describing: event).contains("120/80") && !event.attributes.values.contains("BP 120/80"))
        let physician = harness.principal("u-physician", ["physician"])
        #expect(try await harness.records.read("c-1", as: physician)["vitals"] == "BP 120/80")
        // The new envelope is bound to c-1: copied into c-2 it does not decrypt.
        let moved = try #require(try await harness.store.fetch("c-1", schema: harness.schema)?.columns["vitals"])
        _ = try await harness.store.update("c-2", patientID: "p-1", columns: ["vitals": moved], schema: harness.schema)
        let corrupt = await #expect(throws: RecordError.self) { try await harness.records.read("c-2", as: physician) }
        #expect(corrupt == .corruptRecord(field: "vitals"))
        #expect(try await harness.verifyLog().isIntact)
    }

    @Test("create and delete are decided, audited and checked field by field")
    func createAndDelete() async throws {
        let harness = try await RecordsHarness()
        let schema = try RecordSchema(
            resourceType: "prescription", table: "prescriptions",
            fields: [.encrypted("drug"), .encrypted("dose"), .plain("prescriber"), .plain("pharmacy")])
        let prescriptions = try GuardedRecords(
            schema: schema, store: harness.store, engine: harness.engine, encryptor: harness.encryptor,
            audit: harness.log)
        let physician = harness.principal("u-physician", ["physician"])
        let values = ["drug": "amoxicillin", "dose": "500 mg", "prescriber": "u-physician"]
        try await prescriptions.create("rx-1", patientID: "p-1", values: values, as: physician)
        let stored = try #require(try await harness.store.fetch("rx-1", schema: schema))
        #expect(stored.columns["drug"] != .text("amoxicillin") && stored.columns["prescriber"] == .text("u-physician"))
        #expect(try await prescriptions.read("rx-1", as: physician).values == values)
        let again = await #expect(throws: RecordError.self) {
            try await prescriptions.create("rx-1", patientID: "p-1", values: values, as: physician)
        }
        #expect(again == .alreadyExists)
        let outsider = harness.principal("u-other", ["physician"])  // not on p-1's care team
        let refused = await #expect(throws: RecordError.self) {
            try await prescriptions.create("rx-2", patientID: "p-1", values: values, as: outsider)
        }
        #expect(refused == .notFoundOrDenied)
        let deleteRefused = await #expect(throws: RecordError.self) {
            try await prescriptions.delete("rx-1", as: outsider)
        }
        #expect(deleteRefused == .notFoundOrDenied)
        try await prescriptions.delete("rx-1", as: physician)
        let gone = await #expect(throws: RecordError.self) { try await prescriptions.read("rx-1", as: physician) }
        #expect(gone == .notFoundOrDenied)
        let events = try await harness.auditRecords().map(\.event)
        #expect(
            events.map { "\($0.action ?? "")/\($0.outcome.rawValue)" } == [
                "create/allow", "read/allow", "create/allow", "create/deny", "delete/deny", "delete/allow", "read/deny",
            ])
        #expect(events[0].fields == ["dose", "drug", "prescriber"])
        #expect(try await harness.verifyLog().isIntact)
    }

    @Test("schema names are validated once, at declaration")
    func schemaValidation() async throws {
        func schema(table: String = "charts", column: String? = nil, field: String = "labs") throws(RecordSchemaError)
            -> RecordSchema
        {
            try RecordSchema(resourceType: "chart", table: table, fields: [.encrypted(field, column: column)])
        }
        #expect(throws: RecordSchemaError.invalidSQLName("charts; DROP TABLE x")) {
            try schema(table: "charts; DROP TABLE x")
        }
        #expect(throws: RecordSchemaError.invalidSQLName("1labs")) { try schema(column: "1labs") }
        #expect(throws: RecordSchemaError.invalidSQLName("lab\"s")) { try schema(column: "lab\"s") }
        #expect(throws: RecordSchemaError.invalidSQLName(String(repeating: "a", count: 64))) {
            try schema(column: String(repeating: "a", count: 64))
        }
        _ = try schema(column: "_" + String(repeating: "a", count: 62))
        #expect(throws: RecordSchemaError.duplicateName("ID")) { try schema(column: "ID") }
        #expect(try schema(field: "diagnosis-codes").fields[0].column == "diagnosis_codes")
        let harness = try await RecordsHarness()
        #expect(throws: RecordSchemaError.unknownField("x-ray")) {
            try GuardedRecords(
                schema: try schema(field: "x-ray"), store: harness.store, engine: harness.engine,
                encryptor: harness.encryptor, audit: harness.log)
        }
    }
}
