import Foundation
import Testing

@testable import PHIGuardAudit

@Suite("FHIR R4 AuditEvent export")
struct FHIRExportTests {
    /// Checks the R4 AuditEvent cardinalities (https://hl7.org/fhir/R4/auditevent.html) on one resource.
    static func violations(_ resource: [String: Any]) -> [String] {
        var problems: [String] = []
        func isCoding(_ value: Any?) -> Bool {
            guard let coding = value as? [String: Any] else { return false }
            return coding["system"] is String && coding["code"] is String
        }
        if resource["resourceType"] as? String != "AuditEvent" { problems.append("resourceType") }
        if !isCoding(resource["type"]) { problems.append("type 1..1 Coding") }
        if let subtype = resource["subtype"], !((subtype as? [Any])?.allSatisfy(isCoding) ?? false) {
            problems.append("subtype 0..* Coding")
        }
        if let action = resource["action"], !["C", "R", "U", "D", "E"].contains(action as? String ?? "") {
            problems.append("action 0..1 code")
        }
        let instant = #/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/#
        if let recorded = resource["recorded"] as? String {
            if recorded.wholeMatch(of: instant) == nil { problems.append("recorded is not an instant") }
        } else {
            problems.append("recorded 1..1")
        }
        if let outcome = resource["outcome"], !["0", "4", "8", "12"].contains(outcome as? String ?? "") {
            problems.append("outcome 0..1 code")
        }
        if let agents = resource["agent"] as? [[String: Any]], !agents.isEmpty {
            for agent in agents {
                if !(agent["requestor"] is Bool) { problems.append("agent.requestor 1..1") }
                if agent["who"] == nil && agent["name"] == nil { problems.append("agent identifies no one") }
            }
        } else {
            problems.append("agent 1..*")
        }
        if let source = resource["source"] as? [String: Any] {
            if !(source["observer"] is [String: Any]) { problems.append("source.observer 1..1") }
        } else {
            problems.append("source 1..1")
        }
        for entity in resource["entity"] as? [[String: Any]] ?? [] {
            for detail in entity["detail"] as? [[String: Any]] ?? [] {
                if !(detail["type"] is String) { problems.append("entity.detail.type 1..1") }
                if !(detail["valueString"] is String || detail["valueBase64Binary"] is String) {
                    problems.append("entity.detail.value[x] 1..1")
                }
            }
        }
        return problems
    }

    @Test("Every event kind exports as a valid R4 AuditEvent")
    func everyKindIsValid() async throws {
        let sink = InMemoryAuditSink()
        let log = try await AuditLog(
            sink: sink, chainKey: try AuditFixtures.chainKey(), signingKey: try AuditFixtures.signingKey())
        for event in try AuditFixtures.everyKind() { try await log.append(event) }
        try await log.close()
        let exporter = FHIRAuditEventExporter(sourceID: "portal-1", site: "general-hospital")
        for record in sink.allEntries.records {
            let line = try exporter.jsonLine(for: record)
            let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            #expect(Self.violations(parsed) == [], "\(record.event.kind)")
            #expect(parsed["id"] as? String == "phiguard-\(record.sequence)")
        }
    }

    @Test("The validator itself rejects resources missing required elements")
    func validatorCatchesMissingFields() {
        let empty: [String: Any] = ["resourceType": "AuditEvent"]
        let problems = Self.violations(empty)
        #expect(problems.contains("type 1..1 Coding"))
        #expect(problems.contains("recorded 1..1"))
        #expect(problems.contains("agent 1..*"))
        #expect(problems.contains("source 1..1"))
    }

    @Test("An access decision maps action, outcome, agent, entities and break-glass purposeOfEvent")
    func accessDecisionMapping() throws {
        let event = try AuditEvent.accessDecision(
            actorID: "user:3", role: "nurse", action: "read", resourceType: "MedicationRequest", resourceID: "med-4",
            patientID: "MRN-8", fieldsReturned: ["medication", "dose"], allowed: true, ruleIDs: ["bg-1"],
            breakGlass: "ETREAT", at: Date(timeIntervalSince1970: 1_763_884_800.25))
        let record = AuditRecord(sequence: 7, event: event, chain: [UInt8](repeating: 1, count: 32))
        let json =
            try JSONSerialization.jsonObject(
                with: Data(try FHIRAuditEventExporter(sourceID: "portal-1").jsonLine(for: record).utf8))
            as? [String: Any]
        let resource = try #require(json)
        #expect(resource["action"] as? String == "R")
        #expect(resource["outcome"] as? String == "0")
        #expect(resource["recorded"] as? String == "2025-11-23T08:00:00.250000Z")
        let type = resource["type"] as? [String: Any]
        #expect(type?["code"] as? String == "110110")
        let agent = (resource["agent"] as? [[String: Any]])?.first
        #expect(agent?["requestor"] as? Bool == true)
        #expect(((agent?["who"] as? [String: Any])?["identifier"] as? [String: Any])?["value"] as? String == "user:3")
        let entities = resource["entity"] as? [[String: Any]] ?? []
        let references = entities.compactMap { ($0["what"] as? [String: Any])?["reference"] as? String }
        #expect(references == ["Patient/MRN-8", "MedicationRequest/med-4"])
        let details = entities.last?["detail"] as? [[String: Any]] ?? []
        #expect(details.first?["valueString"] as? String == "medication,dose")
        let purpose = (resource["purposeOfEvent"] as? [[String: Any]])?.first
        #expect(((purpose?["coding"] as? [[String: Any]])?.first?["code"]) as? String == "BTG")
        #expect(purpose?["text"] as? String == "ETREAT")

        let denied = try AuditEvent.accessDecision(
            actorID: "user:3", role: "clerk", action: "delete", resourceType: "Patient", allowed: false)
        let deniedJSON = FHIRAuditEventExporter(sourceID: "p").resource(
            for: AuditRecord(sequence: 1, event: denied, chain: []))
        #expect(deniedJSON["outcome"] as? String == "4")
        #expect(deniedJSON["action"] as? String == "D")
        #expect(deniedJSON["purposeOfEvent"] == nil)
    }
}
