internal import Foundation
internal import Hummingbird
internal import PHIGuardAuthentication
internal import PHIGuardHummingbird
internal import PHIGuardPasswords
internal import PortalCore

/// `POST /session/password`.
struct PasswordChangeRequest: Decodable {
    let current: String
    let new: String
}

/// `POST /messages`.
struct MessageRequest: Decodable {
    let text: String
}

/// A clinical note or a message: only what the policy lets the caller see (`null` otherwise).
struct NoteBody: Encodable {
    let id: String
    let patientID: String
    let author: String?
    let date: String?
    let body: String?

    init(_ note: PortalNote) {
        id = note.id
        patientID = note.patientID
        author = note.author
        date = note.date
        body = note.body
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(patientID, forKey: .patientID)
        try container.encode(author, forKey: .author)
        try container.encode(date, forKey: .date)
        try container.encode(body, forKey: .body)
    }

    enum CodingKeys: String, CodingKey { case id, patientID, author, date, body }
}

struct NoteListBody: Encodable {
    let notes: [NoteBody]
}

struct MessageListBody: Encodable {
    let messages: [NoteBody]
}

struct MessageCreatedBody: Encodable {
    let id: String
}

extension PortalAPIRoutes {
    /// `POST /session/password`, `GET /patients/{id}/notes`, `GET|POST /messages`, `GET /messages/{id}`.
    func registerAccountAndRecords(on group: RouterGroup<Context>) {
        group.post("session/password") { request, context in
            let body = try await Self.decode(PasswordChangeRequest.self, request, context)
            let session = try context.phiGuard.requireSession()
            // Copied once into guarded memory (wiped when released).
            let token = try await portal.changePassword(
                token: token(request), current: try PasswordSecret(body.current), new: try PasswordSecret(body.new),
                clientAddress: context.phiGuard.clientAddress)
            // The portal rotated the session: the answer sets its new cookie.
            guard case .authenticated(let rotated) = try await portal.flow.resume(token) else {
                session.ended()
                throw AuthenticationError.sessionEnded
            }
            session.adopt(rotated)
            return try signInState(session)
        }
        group.get("patients/{id}/notes") { request, context in
            let notes = try await portal.notes(token: token(request), patientID: try context.parameters.require("id"))
            return try APIResponse.json(NoteListBody(notes: notes.map(NoteBody.init)))
        }
        group.get("messages") { request, _ in
            let messages = try await portal.messages(token: token(request))
            return try APIResponse.json(MessageListBody(messages: messages.map(NoteBody.init)))
        }
        group.get("messages/{id}") { request, context in
            let message = try await portal.message(
                token: token(request), messageID: try context.parameters.require("id"))
            return try APIResponse.json(NoteBody(message))
        }
        group.post("messages") { request, context in
            let body = try await Self.decode(MessageRequest.self, request, context)
            let id = try await portal.sendMessage(token: token(request), text: body.text)
            return try APIResponse.json(MessageCreatedBody(id: id), status: .created)
        }
    }
}
