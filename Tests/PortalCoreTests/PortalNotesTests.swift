import Foundation
import PHIGuardAudit
import PHIGuardErrors
import PHIGuardTestSupport
import Testing

@testable import PortalCore

/// Clinical notes and portal messages through the guarded paths, on a real SQLite file with the
/// sample hospital policy (labels decide who reads a note; messages stay between a patient and
/// their care team).
@Suite("PortalCore notes and messages (SQLite file)", .serialized)
struct PortalNotesTests {
    @Test(
        "a physician on the care team reads the psychotherapy note; the nurse on it does not, not even under break-glass"
    )
    func psychotherapyNoteStaysWithThePhysician() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal

        let physician = try await fixture.signIn("dr.grey")
        let seen = try await portal.notes(token: physician, patientID: "p-1")
        #expect(seen.map(\.id) == ["note-p-1-3", "note-p-1-2", "note-p-1-1"])  // newest first
        #expect(seen.first { $0.id == "note-p-1-2" }?.body?.hasPrefix("Psychotherapy session 4") == true)
        let direct = try await portal.note(token: physician, patientID: "p-1", noteID: "note-p-1-2")
        #expect(direct.body?.hasPrefix("Psychotherapy") == true)

        // nurse.joy is on p-1's care team too: the nurses-no-sensitive-notes deny wins.
        let nurse = try await fixture.signIn("nurse.joy")
        #expect(try await portal.notes(token: nurse, patientID: "p-1").map(\.id) == ["note-p-1-3", "note-p-1-1"])
        await #expect(throws: ResourceNotFound.self) {
            _ = try await portal.note(token: nurse, patientID: "p-1", noteID: "note-p-1-2")
        }
        // Under break-glass: for her own patient, and for p-2 (not on her team; substance-use note).
        _ = try await portal.breakGlass(
            token: nurse, patientID: "p-1", reasonCode: "ETREAT", justification: "collapsed in the waiting room")
        _ = try await portal.breakGlass(
            token: nurse, patientID: "p-2", reasonCode: "ETREAT", justification: "unresponsive in the ER")
        #expect(try await portal.notes(token: nurse, patientID: "p-1").map(\.id) == ["note-p-1-3", "note-p-1-1"])
        await #expect(throws: ResourceNotFound.self) {
            _ = try await portal.note(token: nurse, patientID: "p-1", noteID: "note-p-1-2")
        }
        #expect(try await portal.notes(token: nurse, patientID: "p-2").map(\.id) == ["note-p-2-1"])
        await #expect(throws: ResourceNotFound.self) {
            _ = try await portal.note(token: nurse, patientID: "p-2", noteID: "note-p-2-2")
        }
        // The patient: her own notes, but not the psychotherapy note (HIPAA 164.524(a)(1)(i)).
        let alice = try await fixture.signIn("alice")
        #expect(try await portal.notes(token: alice, patientID: "p-1").map(\.id) == ["note-p-1-3", "note-p-1-1"])

        // Each refused direct read is audited as a denial naming the rule.
        let denials = try await fixture.auditRecords().filter {
            $0.event.kind == .accessDecision && $0.event.resourceID == "note-p-1-2" && !$0.event.outcome.isPositive
        }
        #expect(denials.count == 2)
        #expect(denials.allSatisfy { $0.event.ruleIDs.contains("nurses-no-sensitive-notes") })
        #expect(denials.contains { $0.event.breakGlass })
    }

    @Test(
        "a new labelled note is decided on its label: the writer's physician colleague reads it, the nurse and patient do not"
    )
    func newNoteCarriesItsLabel() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let physician = try await fixture.signIn("dr.grey")
        let id = try await portal.addNote(
            token: physician, patientID: "p-1", label: "psychotherapy", text: "  Session 5: sleep improving.\n")
        let notes = try await portal.notes(token: physician, patientID: "p-1")
        #expect(notes.first?.id == id && notes.first?.body == "Session 5: sleep improving.")
        let nurse = try await fixture.signIn("nurse.joy")
        #expect(!(try await portal.notes(token: nurse, patientID: "p-1")).contains { $0.id == id })
        let alice = try await fixture.signIn("alice")
        #expect(!(try await portal.notes(token: alice, patientID: "p-1")).contains { $0.id == id })
        // A label spelled unlike the policy's, an empty text, a patient off the writer's team: refused.
        await #expect(throws: PortalError.invalidInput("note label")) {
            _ = try await portal.addNote(token: physician, patientID: "p-1", label: "Psychotherapy", text: "x")
        }
        await #expect(throws: PortalError.invalidInput("text")) {
            _ = try await portal.addNote(token: physician, patientID: "p-1", label: nil, text: " \n")
        }
        await #expect(throws: ResourceNotFound.self) {
            _ = try await portal.addNote(token: nurse, patientID: "p-3", label: nil, text: "not my patient")
        }
        // Nothing of the note is in the database file in clear.
        try await portal.audit.flush()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: portal.databaseFilePath))
        bytes += (try? Data(contentsOf: URL(fileURLWithPath: portal.databaseFilePath + "-wal"))) ?? Data()
        for secret in ["Session 5: sleep improving", "Psychotherapy session 4", "Alcohol use disorder"] {
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(secret) in clear")
        }
    }

    @Test("alice reads her own messages, never bob's: every spelling of bob's id is the same answer as a missing one")
    func messagesStayInTheirThread() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        let alice = try await fixture.signIn("alice")
        #expect(try await portal.messages(token: alice).map(\.id) == ["msg-p-1-2", "msg-p-1-1"])
        #expect(try await portal.message(token: alice, messageID: "msg-p-1-1").body?.contains("inhaler") == true)

        // Bob's thread: the same empty list as a patient that does not exist.
        #expect(try await portal.messages(token: alice, patientID: "p-2").isEmpty)
        #expect(try await portal.messages(token: alice, patientID: "p-999").isEmpty)
        #expect(try await portal.messages(token: alice, patientID: "P-2 ").isEmpty)
        // Bob's message by id, in any spelling, and a missing id: all ResourceNotFound.
        for spelling in [
            "msg-p-2-1", "MSG-P-2-1", " msg-p-2-1", "msg-p-2-1 ", "msg-p-2-1\u{0}", "msg%2Dp-2-1", "msg-p-\u{FF12}-1",
            "../msg-p-2-1", "msg-p-9-9",
        ] {
            await #expect(throws: ResourceNotFound.self, "\(spelling.debugDescription)") {
                _ = try await portal.message(token: alice, messageID: spelling)
            }
        }
        // Nor can she write into his thread.
        await #expect(throws: ResourceNotFound.self) {
            _ = try await portal.sendMessage(token: alice, patientID: "p-2", text: "hello bob")
        }

        // Her own message reaches her care team's physician, who replies; bob never sees either.
        let sent = try await portal.sendMessage(token: alice, text: "Thanks, picked it up.")
        let physician = try await fixture.signIn("dr.grey")
        #expect(try await portal.messages(token: physician, patientID: "p-1").first?.id == sent)
        let reply = try await portal.sendMessage(token: physician, patientID: "p-1", text: "Good to hear.")
        #expect(try await portal.messages(token: alice).prefix(2).map(\.id).sorted() == [reply, sent].sorted())
        let bob = try await fixture.signIn("bob")
        #expect(try await portal.messages(token: bob).map(\.id) == ["msg-p-2-1"])

        // The refused read of bob's real message is audited as a denial.
        let denied = try await fixture.auditRecords().filter {
            $0.event.kind == .accessDecision && $0.event.resourceID == "msg-p-2-1" && !$0.event.outcome.isPositive
        }
        #expect(denied.count == 1)
    }

    @Test("a billing clerk, the front desk and an admin see no note or message text")
    func nonClinicalStaffSeeNoNotes() async throws {
        let fixture = try await PortalFixture.make(patients: 5)
        defer { Task { await fixture.close() } }
        let portal = fixture.portal
        for user in ["bill.bea", "desk.dan", "admin.al"] {
            let token = try await fixture.signIn(user)
            #expect(try await portal.notes(token: token, patientID: "p-1").isEmpty, "\(user)")
            #expect(try await portal.messages(token: token, patientID: "p-1").isEmpty, "\(user)")
            await #expect(throws: ResourceNotFound.self, "\(user)") {
                _ = try await portal.note(token: token, patientID: "p-1", noteID: "note-p-1-1")
            }
            await #expect(throws: ResourceNotFound.self, "\(user)") {
                _ = try await portal.message(token: token, messageID: "msg-p-1-1")
            }
            await #expect(throws: ResourceNotFound.self, "\(user)") {
                _ = try await portal.addNote(token: token, patientID: "p-1", label: nil, text: "x")
            }
        }
        // Without a session: not signed in.
        await #expect(throws: PortalError.notSignedIn) { _ = try await portal.notes(token: nil, patientID: "p-1") }
    }
}
