internal import Foundation
internal import PHIGuardAccess
internal import PHIGuardCrypto

/// An export format of ``Portal/exportChart(token:patientID:format:exportDirectory:output:)``.
public enum PortalExportFormat: String, Sendable, Hashable, CaseIterable {
    /// A FHIR R4 `Bundle` (type `collection`) in JSON.
    case fhir
}

/// What ``Portal/exportChart(token:patientID:format:exportDirectory:output:)`` wrote.
public struct PortalExport: Sendable, Hashable {
    /// The file written (in the export folder).
    public let path: String
    /// The FHIR resource types in the bundle, in order (`Patient` first).
    public let resourceTypes: [String]
    /// The chart and index fields the export holds: exactly those the policy let the caller see.
    public let fields: [String]
    /// The ids of the clinical notes exported (`DocumentReference`s): those the caller may read.
    public let noteIDs: [String]
    /// The ids of the portal messages exported (`Communication`s): those the caller may read.
    public let messageIDs: [String]
}

extension Portal {
    /// Exports the chart of `patientID` as the signed-in user may see it, to a new file in the
    /// export folder.
    ///
    /// - **Path first**: `output` is checked against `exportDirectory` before anything is read
    ///   (``PortalExportError``: a `..` component, a folder other than the export folder, a
    ///   control character, a symbolic link, an existing file are refused, and nothing is written).
    /// - **The guarded read**: the content comes from ``chart(token:patientID:)``, that is
    ///   `GuardedRecords.read` of the chart and the patient index: decided, audited (a read with the
    ///   fields returned) and only the permitted fields decrypted. A refused or missing chart is the
    ///   same `ResourceNotFound`. (The policy's `export` action is not decided separately:
    ///   `GuardedRecords` reads with the `read` action, so an export shows in the audit log as the
    ///   read it is.)
    /// - **FHIR R4**: a `Bundle` of type `collection`: `Patient` (name, birth date, MRN and SSN
    ///   identifiers, address, demographics), then one resource per visible chart field: `Coverage`
    ///   (insurance), `Condition` (problems), `MedicationStatement`, `AllergyIntolerance`, vital-signs
    ///   and laboratory `Observation`s, `Immunization`, `Account` (billing). Values are the chart's
    ///   free text (`code.text`, `valueString`). Then the patient's clinical notes as
    ///   `DocumentReference`s and portal messages as `Communication`s, each read through
    ///   ``notes(token:patientID:)`` and ``messages(token:patientID:)``: the same guarded, audited lists,
    ///   so a note the caller may not read (a psychotherapy note to a nurse) is not in the file.
    ///   A note or message whose text the caller may not see is left out.
    public func exportChart(
        token: String?, patientID: String, format: PortalExportFormat = .fhir, exportDirectory: String, output: String
    ) async throws -> PortalExport {
        // Signed in first: the path check looks at the file system, which no stranger may probe.
        _ = try await session(token)
        let destination = try PortalExportPath(output: output, exportDirectory: exportDirectory)
        let chart = try await chart(token: token, patientID: patientID)
        let notes = try await notes(token: token, patientID: patientID).filter { $0.body != nil }
        let messages = try await messages(token: token, patientID: patientID).filter { $0.body != nil }
        let (bundle, types) = Self.fhirBundle(chart, notes: notes, messages: messages, at: engine.clock.now)
        let data = try JSONSerialization.data(
            withJSONObject: bundle, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try destination.writeNew(Array(data) + [0x0A])
        return PortalExport(
            path: destination.path, resourceTypes: types,
            fields: PortalSchemas.indexFields.filter { chart.identity[$0] != nil } + chart.fields.map(\.name),
            noteIDs: notes.map(\.id), messageIDs: messages.map(\.id))
    }

    /// The identifier system of portal account ids (a note's author, a message's sender).
    static let accountSystem = "urn:patient-portal:account"

    /// The bundle (a JSON object) and its resource types in order.
    static func fhirBundle(
        _ chart: PortalChart, notes: [PortalNote] = [], messages: [PortalNote] = [], at date: Date
    ) -> (bundle: [String: Any], types: [String]) {
        let subject: [String: Any] = ["reference": "Patient/\(chart.patientID)"]
        var patient: [String: Any] = ["resourceType": "Patient", "id": chart.patientID]
        let identity = chart.identity
        var identifiers: [[String: Any]] = []
        if let mrn = identity["mrn"] {
            identifiers.append([
                "use": "usual", "system": "urn:patient-portal:mrn", "value": mrn,
                "type": ["coding": [["system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"]]],
            ])
        }
        if let ssn = identity["ssn"] {
            identifiers.append(["use": "official", "system": "http://hl7.org/fhir/sid/us-ssn", "value": ssn])
        }
        if !identifiers.isEmpty { patient["identifier"] = identifiers }
        if let name = identity["name"] { patient["name"] = [["text": name]] }
        if let born = identity["birth-date"] { patient["birthDate"] = born }
        var fields: [String: String] = [:]
        for (name, value) in chart.fields { fields[name] = value }
        if let contact = fields["contact"] { patient["address"] = [["text": contact]] }
        if let demographics = fields["demographics"] {
            patient["extension"] = [["url": "urn:patient-portal:demographics", "valueString": demographics]]
        }
        var resources: [[String: Any]] = [patient]
        func text(_ value: String) -> [String: Any] { ["text": value] }
        func category(_ code: String) -> [[String: Any]] {
            [["coding": [["system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": code]]]]
        }
        for (name, value) in chart.fields {
            switch name {
            case "insurance":
                resources.append([
                    "resourceType": "Coverage", "status": "active", "beneficiary": subject,
                    "payor": [["display": value]],
                ])
            case "problems":
                resources.append(["resourceType": "Condition", "subject": subject, "code": text(value)])
            case "medications":
                resources.append([
                    "resourceType": "MedicationStatement", "status": "active", "subject": subject,
                    "medicationCodeableConcept": text(value),
                ])
            case "allergies":
                resources.append(["resourceType": "AllergyIntolerance", "patient": subject, "code": text(value)])
            case "vitals":
                resources.append([
                    "resourceType": "Observation", "status": "final", "category": category("vital-signs"),
                    "code": text("Vital signs"), "subject": subject, "valueString": value,
                ])
            case "labs":
                resources.append([
                    "resourceType": "Observation", "status": "final", "category": category("laboratory"),
                    "code": text("Laboratory results"), "subject": subject, "valueString": value,
                ])
            case "immunizations":
                resources.append([
                    "resourceType": "Immunization", "status": "completed", "patient": subject,
                    "vaccineCode": text(value), "occurrenceString": value,
                ])
            case "billing":
                resources.append([
                    "resourceType": "Account", "status": "active", "subject": [subject], "description": value,
                ])
            default: continue  // demographics and contact are on the Patient
            }
        }
        func account(_ id: String) -> [String: Any] { ["identifier": ["system": accountSystem, "value": id]] }
        for note in notes {
            guard let body = note.body else { continue }
            var document: [String: Any] = [
                "resourceType": "DocumentReference", "id": note.id, "status": "current", "subject": subject,
                "type": text("Clinical note"),
                "content": [
                    [
                        "attachment": [
                            "contentType": "text/plain; charset=utf-8",
                            "data": Data(body.utf8).base64EncodedString(),
                        ]
                    ]
                ],
            ]
            if let written = note.date { document["date"] = written }
            if let author = note.author { document["author"] = [account(author)] }
            resources.append(document)
        }
        for message in messages {
            guard let body = message.body else { continue }
            var communication: [String: Any] = [
                "resourceType": "Communication", "id": message.id, "status": "completed", "subject": subject,
                "payload": [["contentString": body]],
            ]
            if let sent = message.date { communication["sent"] = sent }
            if let sender = message.author { communication["sender"] = account(sender) }
            resources.append(communication)
        }
        let formatter = ISO8601DateFormatter()
        let bundle: [String: Any] = [
            "resourceType": "Bundle", "type": "collection", "timestamp": formatter.string(from: date),
            "entry": resources.map { ["fullUrl": "urn:uuid:\(UUID().uuidString.lowercased())", "resource": $0] },
        ]
        return (bundle, resources.compactMap { $0["resourceType"] as? String })
    }
}
