import Foundation
import PHIGuardAudit
import Testing

/// The required elements of each IHE BALP profile (BALP 1.1, profiles.ihe.net/ITI/BALP), written
/// down from the profiles' differentials, checked against the exporter's resources.
enum BALPProfileCheck {
    typealias Resource = [String: Any]

    static let dicom = "http://dicom.nema.org/resources/ontology/DCM"

    static func codings(_ value: Any?) -> [(system: String?, code: String?)] {
        if let coding = value as? [String: Any] {
            if let inner = coding["coding"] as? [[String: Any]] {
                return inner.map { ($0["system"] as? String, $0["code"] as? String) }
            }
            return [(coding["system"] as? String, coding["code"] as? String)]
        }
        if let list = value as? [Any] { return list.flatMap { codings($0) } }
        return []
    }

    static func has(_ value: Any?, _ system: String, _ code: String) -> Bool {
        codings(value).contains { $0.system == system && $0.code == code }
    }

    static func agents(_ resource: Resource) -> [[String: Any]] { resource["agent"] as? [[String: Any]] ?? [] }
    static func entities(_ resource: Resource) -> [[String: Any]] { resource["entity"] as? [[String: Any]] ?? [] }

    static func agent(_ resource: Resource, _ system: String, _ code: String) -> [String: Any]? {
        agents(resource).first { has($0["type"], system, code) }
    }

    /// Problems with `resource` against `profile` (empty: conforms).
    static func problems(_ resource: Resource, profile: String) -> [String] {
        var problems: [String] = []
        func require(_ condition: Bool, _ what: String) { if !condition { problems.append(what) } }
        // AuditEvent (R4) base: type 1..1, recorded 1..1, agent 1..*, source 1..1 with observer 1..1.
        require(resource["resourceType"] as? String == "AuditEvent", "resourceType")
        require(!codings(resource["type"]).isEmpty, "type")
        require((resource["recorded"] as? String)?.hasSuffix("Z") == true, "recorded")
        require(!agents(resource).isEmpty, "agent")
        require(((resource["source"] as? [String: Any])?["observer"]) != nil, "source.observer")
        for agent in agents(resource) {
            require(agent["requestor"] is Bool, "agent.requestor")
            require(agent["who"] != nil, "agent.who")
        }
        let profiles = ((resource["meta"] as? [String: Any])?["profile"] as? [String]) ?? []
        if !["Login", "Logout"].contains(profile) {
            require(
                profiles == ["https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.\(profile)"],
                "meta.profile")
        }
        let restType = has(resource["type"], "http://terminology.hl7.org/CodeSystem/audit-event-type", "rest")
        let interaction = "http://hl7.org/fhir/restful-interaction"
        func restAgents(clientIsSource: Bool) {
            let client = agent(resource, dicom, clientIsSource ? "110153" : "110152")
            let server = agent(resource, dicom, clientIsSource ? "110152" : "110153")
            require(client?["network"] != nil && client?["who"] != nil, "client agent with who and network")
            require(server?["network"] != nil && server?["who"] != nil, "server agent with who and network")
            require(agents(resource).count >= 2, "agent 2..*")
            let user = agent(resource, "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP")
            require(user == nil || (user?["requestor"] as? Bool) == true, "user agent is the requestor")
        }
        func patientEntity() -> Bool {
            entities(resource).contains {
                has($0["type"], "http://terminology.hl7.org/CodeSystem/audit-entity-type", "1")
                    && has($0["role"], "http://terminology.hl7.org/CodeSystem/object-role", "1")
                    && (($0["what"] as? [String: Any])?["reference"] as? String)?.hasPrefix("Patient/") == true
            }
        }
        func dataEntity() -> Bool {
            entities(resource).contains {
                has($0["type"], "http://terminology.hl7.org/CodeSystem/audit-entity-type", "2") && $0["what"] != nil
            }
        }
        switch profile {
        case "Read", "PatientRead":
            require(restType, "type rest")
            require(
                codings(resource["subtype"]).contains {
                    $0.system == interaction && ["read", "vread"].contains($0.code ?? "")
                }, "subtype read|vread")
            require(resource["action"] as? String == "R", "action R")
            require(resource["outcome"] as? String == "0", "outcome 0")
            restAgents(clientIsSource: false)
            require(dataEntity(), "data entity")
            if profile == "PatientRead" { require(patientEntity(), "patient entity") }
        case "Create", "PatientCreate", "Update", "PatientUpdate", "Delete", "PatientDelete":
            let (code, action) =
                profile.hasSuffix("Create")
                ? ("create", "C") : profile.hasSuffix("Update") ? ("update", "U") : ("delete", "D")
            require(restType, "type rest")
            require(has(resource["subtype"], interaction, code), "subtype \(code)")
            require(resource["action"] as? String == action, "action \(action)")
            require(resource["outcome"] as? String == "0", "outcome 0")
            restAgents(clientIsSource: true)
            require(dataEntity(), "data entity")
            if profile.hasPrefix("Patient") { require(patientEntity(), "patient entity") }
        case "Query", "PatientQuery":
            require(restType, "type rest")
            require(
                codings(resource["subtype"]).contains {
                    $0.system == interaction && ["search", "search-type", "search-system"].contains($0.code ?? "")
                }, "subtype search")
            require(resource["action"] as? String == "E", "action E")
            require(resource["outcome"] as? String == "0", "outcome 0")
            restAgents(clientIsSource: true)
            let query = entities(resource).first {
                has($0["role"], "http://terminology.hl7.org/CodeSystem/object-role", "24")
            }
            require(query != nil, "query entity")
            require(query?["what"] == nil, "query entity has no what")
            require(
                (query?["query"] as? String).flatMap { Data(base64Encoded: $0) } != nil, "query entity query is base64")
            if profile == "PatientQuery" {
                require(
                    entities(resource).filter {
                        has($0["role"], "http://terminology.hl7.org/CodeSystem/object-role", "1")
                    }.count == 1, "exactly one patient")
            }
        case "AuthZconsent":
            require(has(resource["type"], dicom, "110113"), "type 110113 Security Alert")
            require(
                codings(resource["subtype"]).contains { ["AuthZ-Consent", "AuthZ-Role"].contains($0.code ?? "") },
                "subtype AuthZ-*")
            require(resource["action"] as? String == "E", "action E")
            require(["0", "4"].contains(resource["outcome"] as? String ?? ""), "outcome 1..1")
            require(resource["period"] != nil, "period")
            require(agent(resource, dicom, "110150") != nil, "client agent (110150 Application)")
            require(
                agent(resource, "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP") != nil,
                "user agent")
            require(
                agent(resource, "http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV") != nil, "userorg agent")
            require(
                agent(resource, "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "authserver") != nil,
                "authorizer agent")
            require(patientEntity(), "patient entity 1..1")
            require(
                entities(resource).contains { has($0["type"], "http://hl7.org/fhir/resource-types", "Consent") },
                "consent entity 1..*")
        case "Login", "Logout":
            require(has(resource["type"], dicom, "110114"), "type 110114 User Authentication")
            require(has(resource["subtype"], dicom, profile == "Login" ? "110122" : "110123"), "subtype login/logout")
            require(resource["action"] as? String == "E", "action E")
            require(agents(resource).contains { ($0["requestor"] as? Bool) == true }, "a requesting user agent")
        default: problems.append("unknown profile \(profile)")
        }
        return problems
    }
}

@Suite("IHE BALP AuditEvent export")
struct BALPExportTests {
    static let exporter = BALPAuditEventExporter(
        sourceID: "portal-1", serverAddress: "portal-1.example.org", site: "clinic-1")

    static func record(_ event: AuditEvent, _ sequence: UInt64 = 7) -> AuditRecord {
        AuditRecord(sequence: sequence, event: event, chain: [UInt8](repeating: 3, count: 32))
    }

    static func access(
        _ action: String, patient: String? = "MRN-1", allowed: Bool = true, breakGlass: String? = nil,
        attributes: [String: String] = [:]
    ) throws -> AuditRecord {
        record(
            try AuditEvent(
                kind: .accessDecision, timestamp: 1_800_000_000_000_000, actorID: "user:1",
                actorRole: "physician/nurse",
                sessionID: "sess-1", action: action, resourceType: "Observation", resourceID: "obs-1",
                patientID: patient,
                fields: allowed ? ["code"] : [], outcome: allowed ? .allow : .deny, reason: allowed ? nil : "no-rule",
                ruleIDs: ["r1"], breakGlass: breakGlass != nil, breakGlassReason: breakGlass,
                attributes: attributes.merging(breakGlass != nil ? ["break-glass-grant": "break-glass.1"] : [:]) { $1 })
        )
    }

    static func json(_ resource: [String: any Sendable]) throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: resource)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test(
        "each kind of record maps to its profile and carries every required element",
        arguments: [
            ("read", "PatientRead"), ("read-nopatient", "Read"), ("vread", "PatientRead"), ("create", "PatientCreate"),
            ("create-nopatient", "Create"), ("update", "PatientUpdate"), ("delete", "PatientDelete"),
            ("delete-nopatient", "Delete"), ("search-nopatient", "Query"), ("denied", "AuthZconsent"),
            ("break-glass", "AuthZconsent"), ("login", "Login"), ("login-failed", "Login"), ("logout", "Logout"),
        ])
    func profiles(name: String, profile: String) throws {
        let record: AuditRecord =
            switch name {
            case "login": Self.record(try .login(succeeded: true, userID: "user:1", at: AuditFixtures.fixedDate))
            case "login-failed":
                Self.record(
                    try .login(
                        succeeded: false, userID: "user:1", reason: "wrong-password", at: AuditFixtures.fixedDate))
            case "logout":
                Self.record(
                    try .session(
                        .sessionRevoked, userID: "user:1", sessionID: "s", reason: "logout", at: AuditFixtures.fixedDate
                    ))
            case "denied": try Self.access("read", allowed: false)
            case "break-glass": try Self.access("read", breakGlass: "ETREAT")
            default:
                try Self.access(
                    String(name.split(separator: "-")[0]), patient: name.hasSuffix("-nopatient") ? nil : "MRN-1",
                    attributes: ["request-id": "req-1", "client-address": "10.0.0.5"])
            }
        let resources = Self.exporter.resources(for: record)
        try #require(resources.count == 1)
        #expect(BALPAuditEventExporter.profiles(for: record) == [profile])
        let resource = try Self.json(resources[0])
        #expect(BALPProfileCheck.problems(resource, profile: profile) == [], "\(resource)")
        #expect(try Self.exporter.jsonLines(for: record).count == 1)
    }

    @Test("a query with three patients makes three PatientQuery resources, one patient each")
    func queryPerPatient() throws {
        let record = try Self.access(
            "search", attributes: ["patient-2": "MRN-2", "patient-3": "MRN-3", "query": "code_eq_1234"])
        let resources = try Self.exporter.resources(for: record).map(Self.json)
        #expect(resources.count == 3)
        var patients: [String] = []
        for resource in resources {
            #expect(BALPProfileCheck.problems(resource, profile: "PatientQuery") == [], "\(resource)")
            for entity in BALPProfileCheck.entities(resource) {
                if let reference = (entity["what"] as? [String: Any])?["reference"] as? String {
                    patients.append(reference)
                }
            }
        }
        #expect(patients == ["Patient/MRN-1", "Patient/MRN-2", "Patient/MRN-3"])
        #expect(Set(resources.compactMap { $0["id"] as? String }).count == 3, "distinct ids")
    }

    @Test("break-glass is an authorization decision with purposeOfUse BTG; a denial has outcome 4")
    func breakGlass() throws {
        let resource = try Self.json(
            try #require(Self.exporter.resources(for: try Self.access("read", breakGlass: "ETREAT")).first))
        let user = try #require(
            BALPProfileCheck.agent(resource, "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP"))
        #expect(BALPProfileCheck.has(user["purposeOfUse"], "http://terminology.hl7.org/CodeSystem/v3-ActReason", "BTG"))
        #expect(resource["outcome"] as? String == "0")
        let denied = try Self.json(
            try #require(Self.exporter.resources(for: try Self.access("read", allowed: false)).first))
        #expect(denied["outcome"] as? String == "4")
        #expect((denied["outcomeDesc"] as? String)?.hasPrefix("deny") == true)

        // The invocation itself (a grant issued, or refused) is an authorization decision with BTG.
        for issued in [true, false] {
            let invoked = Self.record(
                try AuditEvent(
                    kind: .breakGlassInvoked, timestamp: 1_800_000_000_000_000, actorID: "user:1",
                    actorRole: "physician", sessionID: "sess-1", action: "break-glass",
                    resourceType: "break-glass-grant", resourceID: issued ? "g-1" : nil, patientID: "MRN-1",
                    outcome: issued ? .success : .failure, reason: issued ? nil : "not-permitted", breakGlass: true,
                    breakGlassReason: "ETREAT", attributes: issued ? ["break-glass-grant": "g-1"] : [:]))
            #expect(BALPAuditEventExporter.profiles(for: invoked) == ["AuthZconsent"])
            let grant = try Self.json(try #require(Self.exporter.resources(for: invoked).first))
            #expect(BALPProfileCheck.problems(grant, profile: "AuthZconsent") == [], "\(grant)")
            #expect(grant["outcome"] as? String == (issued ? "0" : "4"))
            let holder = try #require(
                BALPProfileCheck.agent(grant, "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP"))
            let actReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
            #expect(BALPProfileCheck.has(holder["purposeOfUse"], actReason, "BTG"))
        }
    }

    @Test("the checker itself rejects a resource missing required elements")
    func checkerCatchesGaps() throws {
        var resource = try Self.json(try #require(Self.exporter.resources(for: try Self.access("read")).first))
        resource["action"] = "E"
        resource["entity"] = []
        let problems = BALPProfileCheck.problems(resource, profile: "PatientRead")
        #expect(
            problems.contains("action R") && problems.contains("patient entity") && problems.contains("data entity"))
    }

    @Test("kinds BALP does not cover are not exported")
    func uncovered() throws {
        let rotation = Self.record(
            try .keyRotated(keyRingID: "k", fromKeyID: "a", toKeyID: "b", at: AuditFixtures.fixedDate))
        #expect(Self.exporter.resources(for: rotation).isEmpty)
    }
}
