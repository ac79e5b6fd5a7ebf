internal import Foundation
internal import Hummingbird
internal import PHIGuardErrors
internal import PHIGuardHummingbird
internal import PortalCore

struct ChartUpdateForm: Decodable {
    let field: String?
    let value: String?
}

struct BreakGlassForm: Decodable {
    let patient: String?
    let reason: String?
    let justification: String?
}

extension WebPortalApp {
    /// The HL7 purpose-of-use codes the break-glass form offers.
    static let breakGlassReasons: [(code: String, label: String)] = [
        ("ETREAT", "emergency treatment"), ("ERTREAT", "emergency room treatment"), ("BTG", "break the glass"),
        ("DISASTER", "disaster"), ("THREAT", "threat to life or safety"),
    ]
    /// The chart fields the update form offers (the policy decides which the user may write).
    static let chartFields = [
        "demographics", "contact", "insurance", "problems", "medications", "allergies", "vitals", "labs",
        "immunizations", "billing",
    ]

    /// `/chart`, `/patients`, `/patients/{id}`, `/patients/{id}/edit`, `/patients/{id}/chart`, `/break-glass`.
    func addRecordRoutes(to group: RouterGroup<BasicPHIGuardRequestContext>) {
        group.get("/chart") { request, context in
            let viewer = try await viewer(
                request, context, attempt: PortalAttempt(action: "read", resourceType: "chart", patientID: nil))
            // An account that is no patient has no chart: the same 404 as any other missing chart.
            guard let patientID = viewer.patientID else { throw ResourceNotFound(resourceType: "chart") }
            return try await chartPage(viewer, patientID: patientID, title: "My chart")
        }
        group.get("/patients/{id}") { request, context in
            let id = try context.parameters.require("id")
            let viewer = try await viewer(
                request, context, attempt: PortalAttempt(action: "read", resourceType: "chart", patientID: id))
            return try await chartPage(viewer, patientID: id, title: "Chart")
        }
        group.get("/patients") { request, context in
            let viewer = try await viewer(
                request, context,
                attempt: PortalAttempt(action: "read", resourceType: "patient-index", patientID: nil))
            func value(_ name: String) -> String? { Self.queryValue(name, in: request) }
            let search = PatientSearch(mrn: value("mrn"), name: value("name"), birthDate: value("dob"))
            let page = try await portal.listPatients(token: viewer.token, search: search, cursor: value("after"))
            let rows: [[String: String]] = page.patients.map { patient in
                [
                    "id": patient.patientID, "name": patient.fields["name"] ?? "",
                    "birthDate": patient.fields["birth-date"] ?? "", "mrn": patient.fields["mrn"] ?? "",
                ]
            }
            var values: [String: Any] = [
                "rows": rows, "name": search.name ?? "", "mrn": search.mrn ?? "", "dob": search.birthDate ?? "",
            ]
            if let cursor = page.nextCursor {
                let kept = [("name", search.name), ("mrn", search.mrn), ("dob", search.birthDate), ("after", cursor)]
                values["next"] =
                    "/patients?"
                    + kept.compactMap { name, value in value.map { "\(name)=\(PageRenderer.encode($0))" } }
                    .joined(separator: "&")
            }
            return try pages.page("patients", viewer.page("Patients", values))
        }
        group.get("/patients/{id}/edit") { request, context in
            let id = try context.parameters.require("id")
            let viewer = try await viewer(request, context)
            return try pages.page(
                "edit",
                viewer.page(
                    "Update chart", ["patientID": PageRenderer.encode(id), "fields": Self.chartFields]))
        }
        group.post("/patients/{id}/chart") { request, context in
            let id = try context.parameters.require("id")
            let viewer = try await viewer(
                request, context, attempt: PortalAttempt(action: "update", resourceType: "chart", patientID: id))
            let form = try await URLEncodedFormDecoder().decode(ChartUpdateForm.self, from: request, context: context)
            try await portal.updateChart(
                token: viewer.token, patientID: id, field: try Self.required(form.field, "field"),
                value: try Self.required(form.value, "value"))
            return PageRenderer.seeOther("/patients/\(PageRenderer.encode(id))")
        }
        group.get("/break-glass") { request, context in
            let viewer = try await viewer(request, context)
            let patient = Self.queryValue("patient", in: request) ?? ""
            let reasons = Self.breakGlassReasons.map { ["code": $0.code, "label": $0.label] }
            return try pages.page(
                "break-glass", viewer.page("Break the glass", ["patient": patient, "reasons": reasons]))
        }
        group.post("/break-glass") { request, context in
            let form = try await URLEncodedFormDecoder().decode(BreakGlassForm.self, from: request, context: context)
            let patient = try Self.required(form.patient, "patient")
            let viewer = try await viewer(
                request, context,
                attempt: PortalAttempt(action: "break-glass", resourceType: "chart", patientID: patient))
            _ = try await portal.breakGlass(
                token: viewer.token, patientID: patient, reasonCode: try Self.required(form.reason, "reason"),
                justification: try Self.required(form.justification, "justification"))
            return PageRenderer.seeOther("/patients/\(PageRenderer.encode(patient))")
        }
    }

    /// The first value of `name` in the request's query (a GET form: `+` is a space), trimmed;
    /// `nil` when missing or empty.
    static func queryValue(_ name: String, in request: Request) -> String? {
        for pair in (request.uri.query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String? {
                text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            }
            guard parts.count == 2, decode(parts[0]) == name, let value = decode(parts[1]) else { continue }
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty ? nil : trimmed
        }
        return nil
    }

    /// The chart page of `patientID`: only the fields the policy lets the viewer see. A missing and
    /// a refused chart are the same 404 page.
    func chartPage(_ viewer: Viewer, patientID: String, title: String) async throws -> Response {
        let chart = try await portal.chart(token: viewer.token, patientID: patientID)
        let identity = ["name", "birth-date", "mrn", "ssn"].compactMap { name in
            chart.identity[name].map { ["name": name, "value": $0] }
        }
        let fields = identity + chart.fields.map { ["name": $0.name, "value": $0.value] }
        var values: [String: Any] = [
            "patientID": chart.patientID, "fields": fields, "staff": viewer.isStaff,
        ]
        if let grant = chart.breakGlassGrantID { values["grantID"] = grant }
        return try pages.page("chart", viewer.page(title, values))
    }
}
