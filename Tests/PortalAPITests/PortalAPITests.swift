import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PHIGuardAudit
import PHIGuardSQLite
import PHIGuardTOTP
import PHIGuardTestSupport
import Testing

@testable import PortalCore

@Suite("PortalAPI: the portal's JSON API on a real SQLite file, responses validated against openapi.yaml", .serialized)
struct PortalAPITests {
    /// dr.grey's care team among p-1…p-20 (PortalSeed): p-1, p-2, p-4…p-20.
    static let greysPatients = Set(([1, 2] + Array(4...20)).map { "p-\($0)" })

    @Test("every operation, as each role uses it, answers exactly what openapi.yaml documents")
    func everyOperation() async throws {
        let harness = try await APIHarness.make()
        defer { Task { await harness.close() } }
        try await harness.app().test(.live) { client async throws in
            // Anonymous: a state, no identity, a uniform refusal for a wrong password.
            var anonymous = APIClient(harness)
            let state = try await anonymous.send(client, .get, "/api/session")
            #expect(state.status == .ok)
            #expect(state.object["state"] as? String == "anonymous")
            #expect(state.object["csrfToken"] is NSNull)
            #expect(try await anonymous.send(client, .get, "/api/me").status == .unauthorized)
            let wrong = try await anonymous.send(
                client, .post, "/api/session", json: ["login": "alice", "password": "not-the-password-123"])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.header("Content-Type") == "application/problem+json")
            #expect(wrong.object["code"] as? String == "authentication_failed")
            #expect(try await anonymous.send(client, .post, "/api/session", json: ["login": 1]).status == .badRequest)

            // Alice, a patient: password, then TOTP; the cookie is the __Host- one.
            var alice = APIClient(harness)
            let first = try await alice.send(
                client, .post, "/api/session", json: ["login": "alice", "password": APIHarness.password])
            #expect(first.object["state"] as? String == "awaiting-second-factor")
            #expect(first.object["identity"] is NSNull)
            let cookieLine = first.header("Set-Cookie") ?? ""
            for flag in ["__Host-phiguard-session=", "Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
                #expect(cookieLine.contains(flag), "Set-Cookie lacks \(flag)")
            }
            alice.csrfToken = first.object["csrfToken"] as? String
            let pendingState = try await alice.send(client, .get, "/api/session")
            #expect(pendingState.object["state"] as? String == "awaiting-second-factor")
            #expect(pendingState.object["csrfToken"] as? String == alice.csrfToken)
            let badCode = try await alice.send(client, .post, "/api/session/second-factor", json: ["code": "000000"])
            #expect(badCode.status == .unauthorized)
            let code = try await harness.portal.demoCode(loginName: "alice")
            let second = try await alice.send(client, .post, "/api/session/second-factor", json: ["code": code])
            #expect(second.status == .ok)
            #expect(second.object["state"] as? String == "authenticated")
            let identity = second.object["identity"] as? [String: Any]
            #expect(identity?["patientID"] as? String == "p-1")
            #expect(identity?["strength"] as? String == "multi-factor")
            let me = try await alice.send(client, .get, "/api/me")
            #expect(me.object["roles"] as? [String] == ["patient"])
            let myChart = try await alice.send(client, .get, "/api/chart")
            #expect(myChart.status == .ok)
            #expect(myChart.header("Cache-Control") == "no-store")
            #expect(myChart.object["patientID"] as? String == "p-1")
            #expect((myChart.object["fields"] as? [[String: Any]])?.isEmpty == false)
            let byID = try await alice.send(client, .get, "/api/patients/p-1/chart")
            #expect(byID.object["patientID"] as? String == "p-1")
            let contact = try await alice.send(
                client, .patch, "/api/patients/p-1/chart", json: ["field": "contact", "value": "alice@example.test"])
            #expect(contact.status == .ok)
            #expect(contact.object["field"] as? String == "contact")

            // dr.grey, a physician: the whole list page by page (never cut short), searches, an update.
            var grey = APIClient(harness)
            #expect(try await grey.signIn(client, as: "dr.grey").status == .ok)
            var listed: [String] = []
            var cursor: String?
            var pages = 0
            var sample: [String: String] = [:]
            repeat {
                let query = cursor.map {
                    "&after=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)"
                }
                let page = try await grey.send(client, .get, "/api/patients?limit=6" + (query ?? ""))
                #expect(page.status == .ok)
                #expect(page.header("Cache-Control") == "no-store")
                let patients = page.object["patients"] as? [[String: Any]] ?? []
                listed += patients.compactMap { $0["id"] as? String }
                if sample.isEmpty, let first = patients.first?["fields"] as? [String: String] { sample = first }
                cursor = page.object["nextCursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 4)
            #expect(Set(listed) == Self.greysPatients)
            #expect(listed.count == Self.greysPatients.count)
            let byName = try await grey.send(client, .get, "/api/patients?name=Alice%20Example")
            #expect((byName.object["patients"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["p-1"])
            if let mrn = sample["mrn"] {
                let byMRN = try await grey.send(client, .get, "/api/patients?mrn=\(mrn)")
                #expect((byMRN.object["patients"] as? [[String: Any]])?.count == 1)
            }
            if let dob = sample["birth-date"] {
                let byBirth = try await grey.send(client, .get, "/api/patients?dob=\(dob)")
                #expect((byBirth.object["patients"] as? [[String: Any]])?.isEmpty == false)
            }
            #expect(try await grey.send(client, .get, "/api/patients?limit=0").status == .badRequest)
            #expect(try await grey.send(client, .get, "/api/patients?limit=many").status == .badRequest)
            let update = try await grey.send(
                client, .patch, "/api/patients/p-4/chart", json: ["field": "allergies", "value": "penicillin"])
            #expect(update.status == .ok)
            #expect(update.object["auditSequence"] is NSNumber)
            let reread = try await grey.send(client, .get, "/api/patients/p-4/chart")
            let fields = reread.object["fields"] as? [[String: Any]] ?? []
            #expect(fields.contains { $0["name"] as? String == "allergies" && $0["value"] as? String == "penicillin" })
            let badField = try await grey.send(
                client, .patch, "/api/patients/p-4/chart", json: ["field": "nonsense", "value": "x"])
            #expect(badField.status == .badRequest)
            // A field outside the physician's update set of a chart he may read: 403, nothing written.
            let notAllowed = try await grey.send(
                client, .patch, "/api/patients/p-4/chart", json: ["field": "billing", "value": "0"])
            #expect(notAllowed.status == .forbidden)

            // dr.shaw breaks the glass for Alice (not on his care team), then reads her chart under it.
            var shaw = APIClient(harness)
            #expect(try await shaw.signIn(client, as: "dr.shaw").status == .ok)
            #expect(try await shaw.send(client, .get, "/api/patients/p-1/chart").status == .notFound)
            let badReason = try await shaw.send(
                client, .post, "/api/break-glass", json: ["patient": "p-1", "reason": "BORED", "justification": "x"])
            #expect(badReason.status == .badRequest)
            let grant = try await shaw.send(
                client, .post, "/api/break-glass",
                json: ["patient": "p-1", "reason": "ETREAT", "justification": "unconscious in the ED, allergies?"])
            #expect(grant.status == .created)
            let grantID = try #require(grant.object["id"] as? String)
            let emergency = try await shaw.send(client, .get, "/api/patients/p-1/chart")
            #expect(emergency.status == .ok)
            #expect(emergency.object["breakGlassGrantID"] as? String == grantID)

            // audit.ada reviews it: the queue shows the grant and its use; a second review conflicts.
            var ada = APIClient(harness)
            #expect(try await ada.signIn(client, as: "audit.ada").status == .ok)
            let queue = try await ada.send(client, .get, "/api/break-glass/reviews")
            #expect(queue.status == .ok)
            let item = (queue.object["grants"] as? [[String: Any]])?.first { $0["id"] as? String == grantID }
            #expect(item?["holderID"] as? String != nil)
            #expect(item?["reason"] as? String == "ETREAT")
            #expect((item?["uses"] as? [[String: Any]])?.isEmpty == false)
            let badOutcome = try await ada.send(
                client, .post, "/api/break-glass/reviews/\(grantID)", json: ["outcome": "meh"])
            #expect(badOutcome.status == .badRequest)
            let reviewed = try await ada.send(
                client, .post, "/api/break-glass/reviews/\(grantID)", json: ["outcome": "appropriate"])
            #expect(reviewed.status == .noContent)
            let again = try await ada.send(
                client, .post, "/api/break-glass/reviews/\(grantID)", json: ["outcome": "inappropriate"])
            #expect(again.status == .conflict)
            let all = try await ada.send(client, .get, "/api/break-glass/reviews?all=true")
            let done = (all.object["grants"] as? [[String: Any]])?.first { $0["id"] as? String == grantID }
            #expect((done?["review"] as? [String: Any])?["outcome"] as? String == "appropriate")

            // Clinical notes, decided per note (dr.grey treats p-1: all three, the psychotherapy note too).
            let notes = try await grey.send(client, .get, "/api/patients/p-1/notes")
            #expect(notes.status == .ok)
            let noteList = notes.object["notes"] as? [[String: Any]] ?? []
            #expect(Set(noteList.compactMap { $0["id"] as? String }) == ["note-p-1-1", "note-p-1-2", "note-p-1-3"])

            // Messages: Alice's own thread; Bob's message answers like a missing one; she sends one.
            let thread = try await alice.send(client, .get, "/api/messages")
            #expect(thread.status == .ok)
            let threadIDs = (thread.object["messages"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(Set(threadIDs) == ["msg-p-1-1", "msg-p-1-2"])
            let ownMessage = try await alice.send(client, .get, "/api/messages/msg-p-1-1")
            #expect(ownMessage.object["patientID"] as? String == "p-1")
            let bobsMessage = try await alice.send(client, .get, "/api/messages/msg-p-2-1")
            let missingMessage = try await alice.send(client, .get, "/api/messages/msg-p-2-99")
            #expect(bobsMessage.status == .notFound)
            #expect(bobsMessage.problemShape == missingMessage.problemShape)
            #expect(!bobsMessage.text.contains("counselling"))
            let sent = try await alice.send(client, .post, "/api/messages", json: ["text": "Friday instead?"])
            #expect(sent.status == .created)
            let sentID = try #require(sent.object["id"] as? String)
            #expect(
                try await alice.send(client, .get, "/api/messages/\(sentID)").object["body"] as? String
                    == "Friday instead?")

            // Password change: a wrong current password is refused; the right one rotates the session.
            var bob = APIClient(harness)
            #expect(try await bob.signIn(client, as: "bob").status == .ok)
            let wrongCurrent = try await bob.send(
                client, .post, "/api/session/password",
                json: ["current": "not-the-password-123", "new": "bobs-own-new-password-6612"])
            #expect(wrongCurrent.status == .unauthorized)
            let bobsOld = bob.cookie
            let changed = try await bob.send(
                client, .post, "/api/session/password",
                json: ["current": APIHarness.password, "new": "bobs-own-new-password-6612"])
            #expect(changed.status == .ok)
            #expect(changed.object["state"] as? String == "authenticated")
            #expect(bob.cookie != nil && bob.cookie != bobsOld)
            #expect(try await bob.send(client, .get, "/api/me").status == .ok)
            var bobsOldClient = APIClient(harness)
            bobsOldClient.cookie = bobsOld
            #expect(try await bobsOldClient.send(client, .get, "/api/me").status == .unauthorized)

            // Sessions: Alice signs in a second time, lists both, ends the other one.
            var aliceTablet = APIClient(harness)
            #expect(try await aliceTablet.signIn(client, as: "alice").status == .ok)
            let sessions = try await alice.send(client, .get, "/api/sessions")
            let list = sessions.object["sessions"] as? [[String: Any]] ?? []
            #expect(list.count == 2)
            let other = try #require(list.first { $0["current"] as? Bool == false }?["handle"] as? String)
            #expect(try await alice.send(client, .delete, "/api/sessions/\(other)").status == .noContent)
            #expect(try await aliceTablet.send(client, .get, "/api/me").status == .unauthorized)
            #expect(try await alice.send(client, .delete, "/api/sessions/s-not-a-session").status == .notFound)

            // Sign-out: the session is gone on the server and the cookie is deleted.
            let out = try await alice.send(client, .delete, "/api/session")
            #expect(out.status == .noContent)
            #expect(alice.cookie == nil)
            #expect(try await alice.send(client, .get, "/api/chart").status == .unauthorized)
        }
        let report = try harness.validateAgainstSpec()
        if let report {
            #expect(report.errors == [])
            #expect(report.unexercised == [])
            #expect(report.validated == harness.recorder.exchanges.count)
        }
    }

    @Test("IDOR: another patient's chart under any spelling of its id answers exactly like a missing chart")
    func idorSpellings() async throws {
        let harness = try await APIHarness.make()
        defer { Task { await harness.close() } }
        try await harness.app().test(.live) { client async throws in
            var alice = APIClient(harness)
            #expect(try await alice.signIn(client, as: "alice").status == .ok)
            let missing = try await alice.send(client, .get, "/api/patients/p-999/chart")
            #expect(missing.status == .notFound)
            #expect(missing.header("Content-Type") == "application/problem+json")
            var references: Set<String> = []
            for spelling in [
                "p-2", "P-2", "p-02", "p-2%20", "%70-2", "p-2%00", "p-2.", "p%2D2", "%20p-2", "p-1%2F..%2Fp-2",
            ] {
                let attempt = try await alice.send(client, .get, "/api/patients/\(spelling)/chart")
                #expect(attempt.problemShape == missing.problemShape, "spelling \(spelling)")
                #expect(!attempt.text.contains("Bob"), "spelling \(spelling)")
                if let reference = attempt.object["instance"] as? String { references.insert(reference) }
            }
            // Each refusal has its own reference (the log tells them apart; the client cannot).
            #expect(references.count == 10)
            // Her own chart under another spelling is not hers either: ids are not normalised.
            #expect(try await alice.send(client, .get, "/api/patients/P-1/chart").problemShape == missing.problemShape)
            // And an update of Bob's chart is refused the same way, with nothing written.
            let write = try await alice.send(
                client, .patch, "/api/patients/p-2/chart", json: ["field": "contact", "value": "mallory@example.test"])
            #expect(write.problemShape == missing.problemShape)
        }
        if let report = try harness.validateAgainstSpec() { #expect(report.errors == []) }
    }

    @Test("a registration session and a session awaiting its second factor reach no PHI (refused, audited)")
    func sessionsWithoutPrincipal() async throws {
        let harness = try await APIHarness.make()
        defer { Task { await harness.close() } }
        try await harness.app().test(.live) { client async throws in
            var registering = APIClient(harness)
            registering.cookie = try await harness.portal.beginRegistration()
            let state = try await registering.send(client, .get, "/api/session")
            #expect(state.object["state"] as? String == "registering")
            for path in ["/api/me", "/api/chart", "/api/patients", "/api/patients/p-1/chart", "/api/sessions"] {
                let refused = try await registering.send(client, .get, path)
                #expect(refused.status == .unauthorized, "\(path)")
                #expect(refused.object["code"] as? String == "authentication_failed", "\(path)")
                #expect(!refused.text.contains("Alice"), "\(path)")
            }
            // The session was not thrown away by the refusals (the cookie is kept, the state unchanged).
            #expect(registering.cookie != nil)
            #expect(
                try await registering.send(client, .get, "/api/session").object["state"] as? String == "registering")

            var pending = APIClient(harness)
            let first = try await pending.send(
                client, .post, "/api/session", json: ["login": "dr.grey", "password": APIHarness.password])
            #expect(first.object["state"] as? String == "awaiting-second-factor")
            #expect(try await pending.send(client, .get, "/api/patients/p-1/chart").status == .unauthorized)
            #expect(try await pending.send(client, .get, "/api/patients").status == .unauthorized)
        }
        // Each PHI attempt of the registration session is in the audit log as a denied access.
        let denied = try await harness.portal.deniedAttemptCount(reason: "no-principal-registering")
        #expect(denied == 3)
        if let report = try harness.validateAgainstSpec() { #expect(report.errors == []) }
    }

    @Test("a state-changing request without the session's X-CSRF-Token (or from another origin) is refused")
    func csrf() async throws {
        let harness = try await APIHarness.make()
        defer { Task { await harness.close() } }
        try await harness.app().test(.live) { client async throws in
            var grey = APIClient(harness)
            #expect(try await grey.signIn(client, as: "dr.grey").status == .ok)
            var bob = APIClient(harness)
            #expect(try await bob.signIn(client, as: "bob").status == .ok)
            let change: [String: String] = ["field": "allergies", "value": "latex"]

            let missing = try await grey.send(client, .patch, "/api/patients/p-4/chart", json: change, csrf: false)
            #expect(missing.status == .forbidden)
            #expect(missing.object["code"] as? String == "access_denied")
            let foreign = try await grey.send(
                client, .patch, "/api/patients/p-4/chart", json: change, csrf: false,
                headers: [try APIClient.name("X-CSRF-Token"): try #require(bob.csrfToken)])
            #expect(foreign.status == .forbidden)
            let evil = try await grey.send(
                client, .patch, "/api/patients/p-4/chart", json: change, headers: [.origin: "https://evil.test"])
            #expect(evil.status == .forbidden)
            // Nothing was written by the refused requests.
            let chart = try await grey.send(client, .get, "/api/patients/p-4/chart")
            let fields = chart.object["fields"] as? [[String: Any]] ?? []
            #expect(!fields.contains { $0["value"] as? String == "latex" })
            // Sign-out and ending sessions need the token too.
            #expect(try await grey.send(client, .delete, "/api/session", csrf: false).status == .forbidden)
            #expect(try await grey.send(client, .get, "/api/me").status == .ok)
            // With the token, the same request passes (the check is not refusing everything).
            #expect(try await grey.send(client, .patch, "/api/patients/p-4/chart", json: change).status == .ok)
            #expect(try await grey.send(client, .delete, "/api/session").status == .noContent)
        }
        if let report = try harness.validateAgainstSpec() { #expect(report.errors == []) }
    }

    @Test("a patient (or a physician) calling the break-glass review is refused; the auditor is not")
    func reviewIsForAuditors() async throws {
        let harness = try await APIHarness.make()
        defer { Task { await harness.close() } }
        try await harness.app().test(.live) { client async throws in
            var shaw = APIClient(harness)
            #expect(try await shaw.signIn(client, as: "dr.shaw").status == .ok)
            let grant = try await shaw.send(
                client, .post, "/api/break-glass",
                json: ["patient": "p-1", "reason": "BTG", "justification": "covering the night shift"])
            let grantID = try #require(grant.object["id"] as? String)
            var alice = APIClient(harness)
            #expect(try await alice.signIn(client, as: "alice").status == .ok)
            for caller in [alice, shaw] {
                var caller = caller
                let queue = try await caller.send(client, .get, "/api/break-glass/reviews")
                #expect([403, 404].contains(queue.status.code))
                #expect(!queue.text.contains(grantID))
                #expect(!queue.text.contains("night shift"))
                let review = try await caller.send(
                    client, .post, "/api/break-glass/reviews/\(grantID)", json: ["outcome": "appropriate"])
                #expect([403, 404].contains(review.status.code))
            }
            var ada = APIClient(harness)
            #expect(try await ada.signIn(client, as: "audit.ada").status == .ok)
            let queue = try await ada.send(client, .get, "/api/break-glass/reviews")
            #expect(queue.text.contains(grantID))
            // Neither refused review was recorded: the grant is still unreviewed.
            let item = (queue.object["grants"] as? [[String: Any]])?.first { $0["id"] as? String == grantID }
            #expect(item?["review"] is NSNull)
        }
        if let report = try harness.validateAgainstSpec() { #expect(report.errors == []) }
    }

    @Test(
        "a staff account's temporary password: the identity says so and the session is refused everything (404, audited) until POST /session/password, which rotates it"
    )
    func temporaryPasswordThroughTheAPI() async throws {
        let harness = try await APIHarness.make()
        defer { Task { await harness.close() } }
        try await harness.app().test(.live) { client async throws in
            var admin = APIClient(harness)
            #expect(try await admin.signIn(client, as: "admin.al").status == .ok)
            let created = try await harness.portal.addStaff(
                token: admin.cookie, loginName: "desk.api", roles: ["front-desk"])
            var staff = APIClient(harness)
            let first = try await staff.send(
                client, .post, "/api/session", json: ["login": "desk.api", "password": created.temporaryPassword])
            #expect(first.object["state"] as? String == "awaiting-second-factor")
            staff.csrfToken = first.object["csrfToken"] as? String
            let second = try await staff.send(
                client, .post, "/api/session/second-factor",
                json: ["code": try created.enrollment.totp.code(at: Date())])
            #expect(second.status == .ok)
            #expect((second.object["identity"] as? [String: Any])?["passwordChangeRequired"] as? Bool == true)
            staff.csrfToken = second.object["csrfToken"] as? String
            for path in ["/api/patients", "/api/patients/p-1/chart", "/api/patients/p-1/notes", "/api/sessions"] {
                let refused = try await staff.send(client, .get, path)
                #expect(refused.status == .notFound, "\(path)")
                #expect(!refused.text.contains("Alice"), "\(path)")
            }
            let old = staff.cookie
            let changed = try await staff.send(
                client, .post, "/api/session/password",
                json: ["current": created.temporaryPassword, "new": "a-new-password-for-the-desk-4471"])
            #expect(changed.status == .ok)
            #expect(staff.cookie != nil && staff.cookie != old)
            #expect((changed.object["identity"] as? [String: Any])?["passwordChangeRequired"] as? Bool == false)
            #expect(try await staff.send(client, .get, "/api/patients").status == .ok)
            var replay = APIClient(harness)
            replay.cookie = old
            #expect(try await replay.send(client, .get, "/api/patients").status == .unauthorized)
        }
        let refusals = try await harness.portal.deniedAttemptCount(reason: "password-change-required")
        #expect(refusals == 4)
        if let report = try harness.validateAgainstSpec() { #expect(report.errors == []) }
    }
}

extension Portal {
    /// How many access decisions in the audit log were denied for `reason`.
    func deniedAttemptCount(reason: String) async throws -> Int {
        try await audit.flush()
        var count = 0
        var position = 0
        while true {
            let chunk = try await auditSink.entries(from: position, limit: 500)
            for case .record(let record) in chunk where record.event.outcome == .deny && record.event.reason == reason {
                count += 1
            }
            if chunk.count < 500 { return count }
            position += chunk.count
        }
    }
}
