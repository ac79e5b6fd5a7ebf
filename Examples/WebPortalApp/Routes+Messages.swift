internal import Hummingbird
internal import PHIGuardErrors
internal import PHIGuardHummingbird
internal import PortalCore

struct MessageForm: Decodable {
    let text: String?
}

extension WebPortalApp {
    /// `/patients/{id}/notes` (the clinical notes the user may read), `/messages` and
    /// `/messages/{id}` (a patient's own message thread), POST `/messages` (send one).
    func addMessageRoutes(to group: RouterGroup<BasicPHIGuardRequestContext>) {
        group.get("/patients/{id}/notes") { request, context in
            let id = try context.parameters.require("id")
            let viewer = try await viewer(
                request, context, attempt: PortalAttempt(action: "read", resourceType: "clinical-note", patientID: id))
            // The policy decides per note (labels included); a patient the user may not see, a
            // missing one and a malformed id are the same empty list.
            let notes = try await portal.notes(token: viewer.token, patientID: id)
            var values: [String: Any] = ["patientID": id, "notes": notes.map(Self.row)]
            if let grant = viewer.grants.first(where: { $0.patientIDs.contains(id) }) { values["grantID"] = grant.id }
            return try pages.page("notes", viewer.page("Clinical notes", values))
        }
        group.get("/messages") { request, context in
            let viewer = try await viewer(
                request, context, attempt: PortalAttempt(action: "read", resourceType: "message", patientID: nil))
            let messages = try await portal.messages(token: viewer.token)
            return try pages.page("messages", viewer.page("Messages", ["messages": messages.map(Self.row)]))
        }
        group.get("/messages/{id}") { request, context in
            let id = try context.parameters.require("id")
            let viewer = try await viewer(
                request, context, attempt: PortalAttempt(action: "read", resourceType: "message", patientID: nil))
            // Another patient's message, a missing one and a malformed id: the same 404 page.
            let message = try await portal.message(token: viewer.token, messageID: id)
            return try pages.page("message", viewer.page("Message", Self.row(message)))
        }
        group.post("/messages") { request, context in
            let viewer = try await viewer(
                request, context, attempt: PortalAttempt(action: "create", resourceType: "message", patientID: nil))
            let form = try await URLEncodedFormDecoder().decode(MessageForm.self, from: request, context: context)
            try await portal.sendMessage(token: viewer.token, text: try Self.required(form.text, "text"))
            return PageRenderer.seeOther("/messages")
        }
    }

    /// A note or message as template values (only the fields the policy let through).
    static func row(_ note: PortalNote) -> [String: String] {
        ["id": note.id, "author": note.author ?? "", "date": note.date ?? "", "body": note.body ?? ""]
    }
}
