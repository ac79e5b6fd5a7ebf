internal import Foundation
internal import PHIGuardCrypto

/// Maps records to FHIR R4 `AuditEvent` resources following the IHE Basic Audit Log Patterns (BALP)
/// profiles, so an IHE ATNA audit record repository or a FHIR server can take them as they are.
///
/// | Record | Profile (`meta.profile`) |
/// | --- | --- |
/// | allowed `read`/`vread`/`view` with a patient | `IHE.BasicAudit.PatientRead` (else `IHE.BasicAudit.Read`) |
/// | allowed `search` | `IHE.BasicAudit.PatientQuery`, **one resource per patient** (``AuditEvent/patientID`` and the attributes `patient-2`, `patient-3`, …); `IHE.BasicAudit.Query` without a patient |
/// | allowed `create` / `update` / `delete` | `IHE.BasicAudit.PatientCreate` / `PatientUpdate` / `PatientDelete` (without a patient: `Create` / `Update` / `Delete`) |
/// | denied access, every break-glass access, and every `break-glass.invoked` (a grant issued or refused) | `IHE.BasicAudit.AuthZconsent` (DCM 110113 Security Alert, subtype `AuthZ-Role`, outcome `0` permit / `4` deny, user `purposeOfUse` v3-ActReason `BTG` for break-glass) |
/// | `login.succeeded`, `login.failed` / `session.revoked`, `session.expired` | FHIR core login / logout pattern (DCM 110114 User Authentication, subtype 110122 Login / 110123 Logout, action `E`); BALP 1.1 has no login profile |
/// | anything else | not exported (``resources(for:)`` returns none) |
///
/// PHIGuard records no raw search string (it could hold PHI), so a query entity's `query` is the
/// base64 of `<resourceType>?` plus the record's `query` attribute when there is one. Client
/// network addresses come from the `client-address` attribute, and are `unrecorded` otherwise.
public struct BALPAuditEventExporter: Sendable {
    /// The canonical URL prefix of the BALP profiles.
    public static let profileBase = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/"
    /// The code system of the `AuthZ-Role` / `AuthZ-Consent` subtypes (as used by this exporter).
    public static let authorizationSubtypeSystem = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"

    /// The id of the system that wrote the log (the server agent and `source.observer`).
    public let sourceID: String
    /// The server's network address (the server agent's `network.address`).
    public let serverAddress: String
    /// The site, used as `source.site`.
    public let site: String?

    /// An exporter for logs written by `sourceID`, reachable at `serverAddress` (default: `sourceID`).
    public init(sourceID: String, serverAddress: String? = nil, site: String? = nil) {
        self.sourceID = sourceID
        self.serverAddress = serverAddress ?? sourceID
        self.site = site
    }

    /// The profile short names a record maps to (one entry per resource ``resources(for:)`` makes).
    public static func profiles(for record: AuditRecord) -> [String] {
        let event = record.event
        switch event.kind {
        case .loginSucceeded, .loginFailed: return ["Login"]
        case .sessionRevoked, .sessionExpired: return ["Logout"]
        case .breakGlassInvoked: return ["AuthZconsent"]
        case .accessDecision:
            if event.outcome != .allow || event.breakGlass { return ["AuthZconsent"] }
            let patient = event.patientID != nil
            switch event.action {
            case "read", "vread", "view": return [patient ? "PatientRead" : "Read"]
            case "search":
                let patients = queryPatients(event)
                return patients.isEmpty ? ["Query"] : patients.map { _ in "PatientQuery" }
            case "create": return [patient ? "PatientCreate" : "Create"]
            case "update", "patch": return [patient ? "PatientUpdate" : "Update"]
            case "delete": return [patient ? "PatientDelete" : "Delete"]
            default: return []
            }
        default: return []
        }
    }

    /// The patients of a query: ``AuditEvent/patientID`` and the attributes `patient-2`, `patient-3`, … in order.
    static func queryPatients(_ event: AuditEvent) -> [String] {
        var patients: [String] = event.patientID.map { [$0] } ?? []
        var index = 2
        while let next = event.attributes["patient-\(index)"] {
            patients.append(next)
            index += 1
        }
        return patients
    }

    /// The BALP resources for `record` (none for kinds BALP does not cover).
    public func resources(for record: AuditRecord) -> [[String: any Sendable]] {
        let event = record.event
        let profiles = Self.profiles(for: record)
        guard let first = profiles.first else { return [] }
        switch first {
        case "Login", "Logout": return [authentication(record, login: first == "Login")]
        case "AuthZconsent": return [authorization(record)]
        case "Query": return [query(record, patient: nil, index: 0)]
        case "PatientQuery":
            return Self.queryPatients(event).enumerated().map { query(record, patient: $1, index: $0) }
        default: return [rest(record, profile: first)]
        }
    }

    /// Each resource of ``resources(for:)`` as one line of sorted-key JSON.
    public func jsonLines(for record: AuditRecord) throws(AuditError) -> [String] {
        var lines: [String] = []
        for resource in resources(for: record) {
            do {
                let data = try JSONSerialization.data(
                    withJSONObject: resource, options: [.sortedKeys, .withoutEscapingSlashes])
                lines.append(String(decoding: data, as: UTF8.self))
            } catch {
                throw .invalidEvent("record could not be rendered as JSON")
            }
        }
        return lines
    }

    // MARK: - Profiles

    private static let dicom = "http://dicom.nema.org/resources/ontology/DCM"
    private static let entityType = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
    private static let objectRole = "http://terminology.hl7.org/CodeSystem/object-role"

    private func base(_ record: AuditRecord, profile: String?, suffix: String = "") -> [String: any Sendable] {
        var resource: [String: any Sendable] = [
            "resourceType": "AuditEvent",
            "id": "phiguard-\(record.sequence)\(suffix)",
            "recorded": FHIRAuditEventExporter.instant(record.event.timestamp),
            "source": source(),
            "extension": [
                [
                    "url": "https://phiguard.dev/fhir/StructureDefinition/audit-chain",
                    "valueString": Hex.encode(record.chain),
                ] as [String: any Sendable]
            ],
        ]
        if let profile {
            resource["meta"] = ["profile": [Self.profileBase + "IHE.BasicAudit." + profile]] as [String: any Sendable]
        }
        return resource
    }

    private func rest(_ record: AuditRecord, profile: String) -> [String: any Sendable] {
        let event = record.event
        let (code, action): (String, String) =
            switch event.action {
            case "create": ("create", "C")
            case "update", "patch": ("update", "U")
            case "delete": ("delete", "D")
            case "vread": ("vread", "R")
            default: ("read", "R")
            }
        var resource = base(record, profile: profile)
        resource["type"] = Self.restType
        resource["subtype"] = [Self.coding("http://hl7.org/fhir/restful-interaction", code, code)]
        resource["action"] = action
        resource["outcome"] = "0"
        // Data flows to the client on a read (it is the destination), from it on a change.
        resource["agent"] = [client(event, isSource: action != "R"), server(isSource: action == "R"), user(event)]
        var entities = [data(event)]
        if let patient = event.patientID { entities.append(patientEntity(patient)) }
        if let request = event.attributes["request-id"] { entities.append(transaction(request)) }
        resource["entity"] = entities
        return resource
    }

    private func query(_ record: AuditRecord, patient: String?, index: Int) -> [String: any Sendable] {
        let event = record.event
        var resource = base(
            record, profile: patient == nil ? "Query" : "PatientQuery", suffix: patient == nil ? "" : "-\(index + 1)")
        resource["type"] = Self.restType
        resource["subtype"] = [Self.coding("http://hl7.org/fhir/restful-interaction", "search-type", "search-type")]
        resource["action"] = "E"
        resource["outcome"] = "0"
        resource["agent"] = [client(event, isSource: true), server(isSource: false), user(event)]
        let text = (event.resourceType ?? "") + "?" + (event.attributes["query"] ?? "")
        var entities: [[String: any Sendable]] = [
            [
                "type": Self.coding(Self.entityType, "2", "System Object"),
                "role": Self.coding(Self.objectRole, "24", "Query"),
                "query": Data(text.utf8).base64EncodedString(),
            ]
        ]
        if let patient { entities.append(patientEntity(patient)) }
        if let request = event.attributes["request-id"] { entities.append(transaction(request)) }
        resource["entity"] = entities
        return resource
    }

    private func authorization(_ record: AuditRecord) -> [String: any Sendable] {
        let event = record.event
        var resource = base(record, profile: "AuthZconsent")
        resource["type"] = Self.coding(Self.dicom, "110113", "Security Alert")
        resource["subtype"] = [
            Self.coding(Self.authorizationSubtypeSystem, "AuthZ-Role", "Authorization decision by role")
        ]
        resource["action"] = "E"
        let permitted = event.outcome.isPositive
        resource["outcome"] = permitted ? "0" : "4"
        resource["outcomeDesc"] = (permitted ? "permit" : "deny") + (event.reason.map { ": \($0)" } ?? "")
        let instant = FHIRAuditEventExporter.instant(event.timestamp)
        resource["period"] = ["start": instant, "end": instant] as [String: any Sendable]
        var application: [String: any Sendable] = [
            "type": ["coding": [Self.coding(Self.dicom, "110150", "Application")]] as [String: any Sendable],
            "who": ["identifier": ["value": event.attributes["client-id"] ?? sourceID]] as [String: any Sendable],
            "requestor": false,
        ]
        application["network"] = network(event.attributes["client-address"])
        let organization: [String: any Sendable] = [
            "type": [
                "coding": [
                    Self.coding("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV", "healthcare provider")
                ]
            ]
                as [String: any Sendable],
            "who": ["identifier": ["value": site ?? sourceID]] as [String: any Sendable],
            "requestor": false,
        ]
        let authorizer: [String: any Sendable] = [
            "type": [
                "coding": [
                    Self.coding(
                        "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "authserver",
                        "authorization server")
                ]
            ]
                as [String: any Sendable],
            "who": ["identifier": ["value": sourceID]] as [String: any Sendable],
            "requestor": false,
        ]
        resource["agent"] = [application, user(event), organization, authorizer]
        var entities: [[String: any Sendable]] = []
        if let patient = event.patientID { entities.append(patientEntity(patient)) }
        // The "consent" is the policy decision: the deciding rule ids.
        var consent: [String: any Sendable] = [
            "type": Self.coding("http://hl7.org/fhir/resource-types", "Consent", "Consent"),
            "what": [
                "identifier": ["value": event.ruleIDs.isEmpty ? "default-deny" : event.ruleIDs.joined(separator: ",")]
            ]
                as [String: any Sendable],
        ]
        if let resourceType = event.resourceType {
            consent["detail"] = [
                ["type": "resource", "valueString": resourceType + (event.resourceID.map { "/\($0)" } ?? "")]
                    as [String: any Sendable]
            ]
        }
        entities.append(consent)
        if let grant = event.attributes["break-glass-grant"] {
            entities.append([
                "type": Self.coding(Self.entityType, "2", "System Object"),
                "what": ["identifier": ["value": grant]] as [String: any Sendable],
                "detail": [
                    ["type": "break-glass-status", "valueString": event.attributes["break-glass-status"] ?? "none"]
                        as [String: any Sendable]
                ],
            ])
        }
        resource["entity"] = entities
        return resource
    }

    private func authentication(_ record: AuditRecord, login: Bool) -> [String: any Sendable] {
        let event = record.event
        var resource = base(record, profile: nil)
        resource["type"] = Self.coding(Self.dicom, "110114", "User Authentication")
        resource["subtype"] = [
            login ? Self.coding(Self.dicom, "110122", "Login") : Self.coding(Self.dicom, "110123", "Logout")
        ]
        resource["action"] = "E"
        resource["outcome"] = event.outcome.isPositive ? "0" : "4"
        if let reason = event.reason { resource["outcomeDesc"] = reason }
        var person: [String: any Sendable] = [
            "type": [
                "coding": [
                    Self.coding(
                        "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "humanuser", "human user")
                ]
            ]
                as [String: any Sendable],
            "who": ["identifier": ["value": event.actorID ?? "unknown-user"]] as [String: any Sendable],
            "requestor": true,
        ]
        person["network"] = network(event.attributes["client-address"])
        resource["agent"] = [person, server(isSource: true)]
        return resource
    }

    // MARK: - Parts

    private static let restType = coding(
        "http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "Restful Operation")

    private static func coding(_ system: String, _ code: String, _ display: String) -> [String: any Sendable] {
        ["system": system, "code": code, "display": display]
    }

    private func network(_ address: String?) -> [String: any Sendable] {
        ["address": address ?? "unrecorded", "type": "2"]
    }

    private func client(_ event: AuditEvent, isSource: Bool) -> [String: any Sendable] {
        [
            "type": [
                "coding": [
                    isSource
                        ? Self.coding(Self.dicom, "110153", "Source Role ID")
                        : Self.coding(Self.dicom, "110152", "Destination Role ID")
                ]
            ]
                as [String: any Sendable],
            "who": ["identifier": ["value": event.attributes["client-id"] ?? event.sessionID ?? "unrecorded-client"]]
                as [String: any Sendable],
            "requestor": false,
            "network": network(event.attributes["client-address"]),
        ]
    }

    private func server(isSource: Bool) -> [String: any Sendable] {
        [
            "type": [
                "coding": [
                    isSource
                        ? Self.coding(Self.dicom, "110153", "Source Role ID")
                        : Self.coding(Self.dicom, "110152", "Destination Role ID")
                ]
            ]
                as [String: any Sendable],
            "who": ["identifier": ["value": sourceID]] as [String: any Sendable],
            "requestor": false,
            "network": ["address": serverAddress, "type": "1"] as [String: any Sendable],
        ]
    }

    private func user(_ event: AuditEvent) -> [String: any Sendable] {
        var user: [String: any Sendable] = [
            "type": [
                "coding": [
                    Self.coding(
                        "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP", "information recipient")
                ]
            ]
                as [String: any Sendable],
            "who": [
                "identifier": ["system": FHIRAuditEventExporter.actorSystem, "value": event.actorID ?? "unknown-user"]
            ]
                as [String: any Sendable],
            "requestor": true,
        ]
        if let role = event.actorRole {
            user["role"] = role.split(separator: "/").map { ["text": String($0)] as [String: any Sendable] }
        }
        if event.breakGlass {
            var concept: [String: any Sendable] = [
                "coding": [Self.coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", "BTG", "break the glass")]
            ]
            if let reason = event.breakGlassReason { concept["text"] = reason }
            user["purposeOfUse"] = [concept]
        }
        return user
    }

    private func data(_ event: AuditEvent) -> [String: any Sendable] {
        let what: [String: any Sendable] =
            if let type = event.resourceType, let id = event.resourceID { ["reference": "\(type)/\(id)"] } else {
                ["display": event.resourceType ?? "unknown"]
            }
        var entity: [String: any Sendable] = [
            "type": Self.coding(Self.entityType, "2", "System Object"),
            "role": Self.coding(Self.objectRole, "4", "Domain Resource"),
            "what": what,
        ]
        if !event.fields.isEmpty {
            entity["detail"] = [
                ["type": "fields-returned", "valueString": event.fields.joined(separator: ",")]
                    as [String: any Sendable]
            ]
        }
        return entity
    }

    private func patientEntity(_ patient: String) -> [String: any Sendable] {
        [
            "type": Self.coding(Self.entityType, "1", "Person"),
            "role": Self.coding(Self.objectRole, "1", "Patient"),
            "what": ["reference": "Patient/\(patient)"] as [String: any Sendable],
        ]
    }

    private func transaction(_ requestID: String) -> [String: any Sendable] {
        [
            "type": Self.coding(
                "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType", "XrequestId", "X-Request-Id"),
            "what": ["identifier": ["value": requestID]] as [String: any Sendable],
        ]
    }

    private func source() -> [String: any Sendable] {
        var source: [String: any Sendable] = [
            "observer": ["identifier": ["value": sourceID] as [String: any Sendable]] as [String: any Sendable],
            "type": [
                Self.coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")
            ],
        ]
        if let site { source["site"] = site }
        return source
    }
}
