internal import Foundation
internal import PHIGuardCrypto

/// Maps records to FHIR R4 `AuditEvent` resources (JSON), one resource per record.
///
/// | PHIGuard | FHIR R4 AuditEvent |
/// | --- | --- |
/// | kind | `type` (DICOM 110114 User Authentication, 110110 Patient Record, 110100 Application Activity) and `subtype` (the kind, in system ``kindSystem``; DICOM 110122 Login for sign-ins) |
/// | action | `action` (`C` create, `R` read/search, `U` update, `D` delete, `E` everything else) |
/// | timestamp | `recorded` (instant, UTC, microseconds) |
/// | outcome | `outcome` (`0` success/allow, `4` failure/deny) and `outcomeDesc` (the reason code) |
/// | actorID, actorRole | `agent[0]` (`who.identifier`, `role.text`, `requestor: true`) |
/// | source id | `source.observer.identifier` and `source.site` |
/// | patientID | `entity` with `what` = `Patient/<id>`, type 1 Person, role 1 Patient |
/// | resourceType/resourceID, fields, ruleIDs | `entity` with `what` = `<type>/<id>`, type 2 System Object, `detail` `fields-returned` and `rules` |
/// | breakGlass | `purposeOfEvent` v3-ActReason `BTG` plus the reason code, and the agent's `purposeOfUse` |
/// | sequence, chain | `id` (`phiguard-<sequence>`) and an `extension` with the chain value |
public struct FHIRAuditEventExporter: Sendable {
    /// The code system of PHIGuard event kinds used in `subtype`.
    public static let kindSystem = "https://phiguard.dev/fhir/CodeSystem/audit-event-kind"
    /// The identifier system of actor ids.
    public static let actorSystem = "https://phiguard.dev/fhir/actor"

    /// The id of the system that wrote the log (for example `portal-prod-1`), used as `source.observer`.
    public let sourceID: String
    /// The site (for example a hospital's id), used as `source.site`.
    public let site: String?

    /// An exporter that names `sourceID` as the observer.
    public init(sourceID: String, site: String? = nil) {
        self.sourceID = sourceID
        self.site = site
    }

    /// The resource for `record`, as a JSON-compatible dictionary.
    public func resource(for record: AuditRecord) -> [String: any Sendable] {
        let event = record.event
        var resource: [String: any Sendable] = [
            "resourceType": "AuditEvent",
            "id": "phiguard-\(record.sequence)",
            "type": typeCoding(event.kind),
            "subtype": subtypes(event.kind),
            "recorded": Self.instant(event.timestamp),
            "outcome": event.outcome.isPositive ? "0" : "4",
            "agent": [agent(event)],
            "source": source(),
            "extension": [
                [
                    "url": "https://phiguard.dev/fhir/StructureDefinition/audit-chain",
                    "valueString": Hex.encode(record.chain),
                ] as [String: any Sendable]
            ],
        ]
        if let action = event.action { resource["action"] = Self.actionCode(action) }
        if let reason = event.reason { resource["outcomeDesc"] = reason }
        let entities = entities(event)
        if !entities.isEmpty { resource["entity"] = entities }
        if event.breakGlass { resource["purposeOfEvent"] = [breakGlassConcept(event)] }
        return resource
    }

    /// One resource as a line of JSON (sorted keys), for NDJSON export.
    public func jsonLine(for record: AuditRecord) throws(AuditError) -> String {
        do {
            let data = try JSONSerialization.data(
                withJSONObject: resource(for: record), options: [.sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self)
        } catch {
            throw .invalidEvent("record could not be rendered as JSON")
        }
    }

    /// The FHIR `action` code for one of our action names.
    public static func actionCode(_ action: String) -> String {
        switch action {
        case "create": "C"
        case "read", "search", "view", "vread": "R"
        case "update", "patch": "U"
        case "delete": "D"
        default: "E"
        }
    }

    /// An R4 `instant`: `YYYY-MM-DDThh:mm:ss.ssssssZ`.
    public static func instant(_ microseconds: Int64) -> String {
        let seconds = microseconds.quotientAndRemainder(dividingBy: 1_000_000)
        var whole = seconds.quotient
        var fraction = seconds.remainder
        if fraction < 0 {
            whole -= 1
            fraction += 1_000_000
        }
        let date = Date(timeIntervalSince1970: TimeInterval(whole))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.year, 4))-\(pad(parts.month, 2))-\(pad(parts.day, 2))T\(pad(parts.hour, 2)):"
            + "\(pad(parts.minute, 2)):\(pad(parts.second, 2)).\(pad(Int(fraction), 6))Z"
    }

    private func typeCoding(_ kind: AuditEventKind) -> [String: any Sendable] {
        let dicom = "http://dicom.nema.org/resources/ontology/DCM"
        switch kind {
        case .loginSucceeded, .loginFailed, .mfaEnrolled, .mfaVerified, .mfaFailed, .mfaDisabled,
            .mfaRecoveryCodeUsed, .sessionCreated, .sessionRefreshed, .sessionRevoked, .sessionExpired:
            return ["system": dicom, "code": "110114", "display": "User Authentication"]
        case .accessDecision:
            return ["system": dicom, "code": "110110", "display": "Patient Record"]
        case .keyRotated, .policyReloaded, .breakGlassReviewed, .breakGlassInvoked, .breakGlassRevoked,
            .breakGlassExpired:
            return ["system": dicom, "code": "110100", "display": "Application Activity"]
        case .securityAlert, .tamperDetected:
            return ["system": dicom, "code": "110113", "display": "Security Alert"]
        }
    }

    private func subtypes(_ kind: AuditEventKind) -> [[String: any Sendable]] {
        var codings: [[String: any Sendable]] = [["system": Self.kindSystem, "code": kind.rawValue]]
        let dicom = "http://dicom.nema.org/resources/ontology/DCM"
        switch kind {
        case .loginSucceeded, .loginFailed: codings.append(["system": dicom, "code": "110122", "display": "Login"])
        case .sessionRevoked, .sessionExpired: codings.append(["system": dicom, "code": "110123", "display": "Logout"])
        default: break
        }
        return codings
    }

    private func agent(_ event: AuditEvent) -> [String: any Sendable] {
        var agent: [String: any Sendable] = [
            "requestor": event.actorID != nil,
            "who": ["identifier": ["system": Self.actorSystem, "value": event.actorID ?? sourceID]]
                as [String: any Sendable],
        ]
        if let role = event.actorRole { agent["role"] = [["text": role] as [String: any Sendable]] }
        if event.actorID == nil {
            agent["type"] =
                [
                    "coding": [
                        [
                            "system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110150",
                            "display": "Application",
                        ] as [String: any Sendable]
                    ]
                ] as [String: any Sendable]
        }
        if event.breakGlass { agent["purposeOfUse"] = [breakGlassConcept(event)] }
        return agent
    }

    private func source() -> [String: any Sendable] {
        var source: [String: any Sendable] = [
            "observer": ["identifier": ["value": sourceID] as [String: any Sendable]] as [String: any Sendable],
            "type": [
                [
                    "system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4",
                    "display": "Application Server",
                ] as [String: any Sendable]
            ],
        ]
        if let site { source["site"] = site }
        return source
    }

    private func entities(_ event: AuditEvent) -> [[String: any Sendable]] {
        let entityType = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
        let entityRole = "http://terminology.hl7.org/CodeSystem/object-role"
        var entities: [[String: any Sendable]] = []
        if let patient = event.patientID {
            entities.append([
                "what": ["reference": "Patient/\(patient)"] as [String: any Sendable],
                "type": ["system": entityType, "code": "1", "display": "Person"] as [String: any Sendable],
                "role": ["system": entityRole, "code": "1", "display": "Patient"] as [String: any Sendable],
            ])
        }
        if let resourceType = event.resourceType {
            var what: [String: any Sendable] = ["display": resourceType]
            if let id = event.resourceID { what = ["reference": "\(resourceType)/\(id)"] }
            var entity: [String: any Sendable] = [
                "what": what,
                "type": ["system": entityType, "code": "2", "display": "System Object"] as [String: any Sendable],
            ]
            var details: [[String: any Sendable]] = []
            if !event.fields.isEmpty {
                details.append(["type": "fields-returned", "valueString": event.fields.joined(separator: ",")])
            }
            if !event.ruleIDs.isEmpty {
                details.append(["type": "rules", "valueString": event.ruleIDs.joined(separator: ",")])
            }
            for (key, value) in event.attributes.sorted(by: { $0.key < $1.key }) {
                details.append(["type": key, "valueString": value])
            }
            if !details.isEmpty { entity["detail"] = details }
            entities.append(entity)
        }
        if let related = event.relatedSequence {
            entities.append([
                "what": ["reference": "AuditEvent/phiguard-\(related)"] as [String: any Sendable],
                "type": ["system": entityType, "code": "2", "display": "System Object"] as [String: any Sendable],
            ])
        }
        return entities
    }

    private func breakGlassConcept(_ event: AuditEvent) -> [String: any Sendable] {
        var concept: [String: any Sendable] = [
            "coding": [
                [
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG",
                    "display": "break the glass",
                ] as [String: any Sendable]
            ]
        ]
        if let reason = event.breakGlassReason { concept["text"] = reason }
        return concept
    }
}
