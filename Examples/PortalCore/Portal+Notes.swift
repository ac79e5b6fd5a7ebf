internal import Foundation
internal import PHIGuardAccess
internal import PHIGuardAudit
internal import PHIGuardAuthentication
internal import PHIGuardErrors
internal import PHIGuardRecords

/// A clinical note or a portal message as a user may see it: only the fields the policy lets them
/// see (a note's sensitivity labels are never returned; they only decide who reads it).
public struct PortalNote: Sendable, Hashable {
    /// The record id (`note-…` or `msg-…`).
    public let id: String
    /// The patient it belongs to.
    public let patientID: String
    /// The account id of the author (a note) or sender (a message), if visible.
    public let author: String?
    /// When it was written (ISO 8601, UTC), if visible.
    public let date: String?
    /// The text, if visible.
    public let body: String?

    init(_ record: GuardedRecord, authorField: String) {
        id = record.id
        patientID = record.patientID
        author = record.values[authorField]
        date = record.values["date"]
        body = record.values["body"]
    }

    /// Newest first (the date, then the id), for display.
    static func newestFirst(_ lhs: PortalNote, _ rhs: PortalNote) -> Bool {
        let left = lhs.date ?? ""
        let right = rhs.date ?? ""
        return left == right ? lhs.id > rhs.id : left > right
    }
}

extension Portal {
    /// The longest note or message text accepted, in UTF-8 bytes.
    public static let maximumNoteLength = 8192
    /// At most this many pages of notes or messages are listed per patient.
    static let maximumNotePages = 20

    // MARK: Notes

    /// The clinical notes of `patientID` the signed-in user may see, newest first (through
    /// `GuardedRecords.list`: the policy, labels included, is compiled to the query; the query is
    /// audited before anything is decrypted; each row is re-checked). The user's active break-glass
    /// grant for the patient is used if there is one; the policy's deny rules (nurses never read
    /// psychotherapy or substance-use notes) still win. A patient the user may not see, a missing
    /// patient and a malformed id all give the same empty list.
    public func notes(token: String?, patientID: String) async throws -> [PortalNote] {
        let session = try await session(
            token, attempt: PortalAttempt(action: "read", resourceType: "clinical-note", patientID: patientID))
        guard AuditIdentifier.isValid(patientID) else { return [] }
        let grant = try await emergency.activeGrant(for: session.principal, patientID: patientID)
        return try await listAll(notes, patientID: patientID, session: session, grant: grant, authorField: "author")
    }

    /// Note `noteID` of `patientID` (through `GuardedRecords.read`, with the user's break-glass grant
    /// for that patient if any). A refused note, a missing one, one of another patient and a
    /// malformed id are the same `ResourceNotFound` (the audit log tells them apart).
    public func note(token: String?, patientID: String, noteID: String) async throws -> PortalNote {
        let session = try await session(
            token, attempt: PortalAttempt(action: "read", resourceType: "clinical-note", patientID: patientID))
        guard AuditIdentifier.isValid(patientID), AuditIdentifier.isValid(noteID) else {
            throw ResourceNotFound(resourceType: "clinical-note")
        }
        let grant = try await emergency.activeGrant(for: session.principal, patientID: patientID)
        guard
            let record = try await Self.unlessDenied({ () async throws(RecordError) in
                try await notes.read(noteID, as: session.principal, breakGlass: grant)
            }), record.patientID == patientID
        else { throw ResourceNotFound(resourceType: "clinical-note", id: noteID) }
        return PortalNote(record, authorField: "author")
    }

    /// Writes a new clinical note for `patientID` (through `GuardedRecords.create`: decided on the
    /// note as it will be stored, labels included; audited either way). `label` must be one of the
    /// policy's `sensitivityLabels` (or `nil`). Returns the new note's id. A refusal is
    /// `ResourceNotFound`, as for a read.
    @discardableResult
    public func addNote(token: String?, patientID: String, label: String?, text: String) async throws -> String {
        let session = try await session(
            token, attempt: PortalAttempt(action: "create", resourceType: "clinical-note", patientID: patientID))
        if let label {
            guard engine.policy.source.sensitivityLabels.contains(where: { $0.name == label }) else {
                throw PortalError.invalidInput("note label")
            }
        }
        var values = try Self.authored(text, by: session, authorField: "author", at: engine.clock.now)
        values["labels"] = label
        return try await create(notes, prefix: "note", patientID: patientID, values: values, session: session)
    }

    // MARK: Messages

    /// The messages of `patientID` (a patient: their own when `nil`) the signed-in user may see,
    /// newest first (through `GuardedRecords.list`, like ``notes(token:patientID:)``). A patient
    /// the user may not see, a missing patient and a malformed id all give the same empty list.
    public func messages(token: String?, patientID: String? = nil) async throws -> [PortalNote] {
        let session = try await session(
            token, attempt: PortalAttempt(action: "read", resourceType: "message", patientID: patientID))
        guard let patient = patientID ?? session.principal.subject.patientID else {
            throw PortalError.invalidInput("patient id")
        }
        guard AuditIdentifier.isValid(patient) else { return [] }
        return try await listAll(messages, patientID: patient, session: session, grant: nil, authorField: "sender")
    }

    /// Message `messageID` (through `GuardedRecords.read`). A refused message, a missing one and a
    /// malformed id are the same `ResourceNotFound` (the audit log tells them apart).
    public func message(token: String?, messageID: String) async throws -> PortalNote {
        let session = try await session(
            token, attempt: PortalAttempt(action: "read", resourceType: "message", patientID: nil))
        guard AuditIdentifier.isValid(messageID) else { throw ResourceNotFound(resourceType: "message") }
        guard
            let record = try await Self.unlessDenied({ () async throws(RecordError) in
                try await messages.read(messageID, as: session.principal)
            })
        else { throw ResourceNotFound(resourceType: "message", id: messageID) }
        return PortalNote(record, authorField: "sender")
    }

    /// Sends a message in the thread of `patientID` (a patient: their own when `nil`; staff: a
    /// patient on their care team, per the policy). Returns the new message's id.
    @discardableResult
    public func sendMessage(token: String?, patientID: String? = nil, text: String) async throws -> String {
        let session = try await session(
            token, attempt: PortalAttempt(action: "create", resourceType: "message", patientID: patientID))
        guard let patient = patientID ?? session.principal.subject.patientID else {
            throw PortalError.invalidInput("patient id")
        }
        let values = try Self.authored(text, by: session, authorField: "sender", at: engine.clock.now)
        return try await create(messages, prefix: "msg", patientID: patient, values: values, session: session)
    }

    // MARK: Steps

    /// Every page of `records` of `patientID` the principal may list, newest first.
    private func listAll(
        _ records: GuardedRecords, patientID: String, session: AuthenticatedSession, grant: EmergencyGrant?,
        authorField: String
    ) async throws -> [PortalNote] {
        var found: [PortalNote] = []
        var cursor: String?
        for _ in 0..<Self.maximumNotePages {
            let page = try await records.list(
                as: session.principal, where: [.patient(patientID)], limit: GuardedRecords.maximumPageSize,
                after: cursor, breakGlass: grant)
            found += page.records.map { PortalNote($0, authorField: authorField) }
            guard let next = page.nextCursor else { break }
            cursor = next
        }
        return found.sorted(by: PortalNote.newestFirst)
    }

    /// The author, date and body of a new note or message; refuses an empty or too long text.
    private static func authored(_ text: String, by session: AuthenticatedSession, authorField: String, at now: Date)
        throws -> [String: String]
    {
        let body = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !body.isEmpty, body.utf8.count <= maximumNoteLength else { throw PortalError.invalidInput("text") }
        return [
            authorField: session.principal.subject.id, "date": ISO8601DateFormatter().string(from: now), "body": body,
        ]
    }

    /// Creates a record with a fresh random id (`prefix-<uuid>`); a refusal is `ResourceNotFound`.
    private func create(
        _ records: GuardedRecords, prefix: String, patientID: String, values: [String: String],
        session: AuthenticatedSession
    ) async throws -> String {
        let resourceType = records.schema.resourceType
        guard AuditIdentifier.isValid(patientID) else { throw ResourceNotFound(resourceType: resourceType) }
        let grant = try await emergency.activeGrant(for: session.principal, patientID: patientID)
        let id = "\(prefix)-\(UUID().uuidString.lowercased())"
        guard
            try await Self.unlessDenied({ () async throws(RecordError) in
                try await records.create(
                    id, patientID: patientID, values: values, as: session.principal, breakGlass: grant)
            }) != nil
        else { throw ResourceNotFound(resourceType: resourceType, id: patientID) }
        return id
    }
}
