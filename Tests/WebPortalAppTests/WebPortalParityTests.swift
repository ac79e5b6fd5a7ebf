import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardTOTP
import Testing

@testable import PortalCore

/// The pages that bring the web portal level with the CLI: the password change (and the
/// temporary-password state that leads there), clinical notes and messages.
@Suite("WebPortal password change, notes and messages (SQLite file, in process)", .serialized)
struct WebPortalParityTests {
    static let newPassword = "a-new-password-for-the-ward-7731"
    /// Every signed-in page a session with a temporary password must not reach.
    static let guardedPages = [
        "/home", "/chart", "/patients", "/patients/p-1", "/patients/p-1/edit", "/patients/p-1/notes",
        "/break-glass?patient=p-1", "/messages", "/messages/msg-p-1-1", "/sessions", "/review", "/audit",
    ]

    /// A staff account made by admin.al (through the portal), with its temporary password and authenticator.
    static func addStaff(_ client: some TestClientProtocol, _ fixture: WebPortalFixture, roles: [String])
        async throws -> NewStaffAccount
    {
        var admin = Browser()
        try await admin.signIn(client, fixture, as: "admin.al")
        return try await fixture.portal.addStaff(token: admin.cookie, loginName: "desk.new", roles: roles)
    }

    /// The temporary password, then the authenticator's code, through the pages.
    static func signInNewStaff(
        _ client: some TestClientProtocol, _ fixture: WebPortalFixture, _ created: NewStaffAccount,
        password: String? = nil
    ) async throws -> (Browser, TestResponse) {
        var browser = Browser()
        let first = try await browser.send(
            client, .post, "/sign-in",
            form: ["login": created.loginName, "password": password ?? created.temporaryPassword])
        #expect(first.headers[.location] == "/second-factor")
        let second = try await browser.send(
            client, .post, "/second-factor",
            form: [
                "code": try created.enrollment.totp.code(at: fixture.clock.now),
                "_csrf": try await browser.csrf(client, from: "/second-factor"),
            ])
        fixture.clock.advance(by: .seconds(30))
        return (browser, second)
    }

    @Test(
        "staff add → sign-in with the temporary password lands on /password; every other page leads there (PHI attempts audited as denied); the change opens the chart"
    )
    func temporaryPasswordForcedFlow() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            let created = try await Self.addStaff(client, fixture, roles: ["front-desk"])
            var (staff, landed) = try await Self.signInNewStaff(client, fixture, created)
            #expect(landed.status == .seeOther)
            #expect(landed.headers[.location] == "/password")
            for path in Self.guardedPages {
                let response = try await staff.send(client, .get, path)
                #expect(response.status == .seeOther, "\(path)")
                #expect(response.headers[.location] == "/password", "\(path)")
                #expect(!String(buffer: response.body).contains("data-field"), "\(path)")
            }
            // A state change is led there too, and changes nothing.
            let page = String(buffer: try await staff.send(client, .get, "/password").body)
            #expect(page.contains("<p id=\"password-change-required\">"))
            #expect(page.contains("<form id=\"password-change\" method=\"post\" action=\"/password\">"))
            #expect(!page.contains("id=\"nav-patients\""))
            let csrf = try #require(Browser.csrfToken(in: page))
            let update = try await staff.send(
                client, .post, "/patients/p-1/chart", form: ["field": "contact", "value": "Forged", "_csrf": csrf])
            #expect(update.headers[.location] == "/password")
            let denied = try await fixture.auditRecords().filter {
                $0.event.outcome == .deny && $0.event.reason == "password-change-required"
            }
            #expect(denied.contains { $0.event.resourceType == "chart" && $0.event.patientID == "p-1" })
            #expect(denied.contains { $0.event.resourceType == "clinical-note" && $0.event.patientID == "p-1" })
            #expect(denied.contains { $0.event.resourceType == "message" })

            let old = staff.cookie
            let changed = try await staff.send(
                client, .post, "/password",
                form: ["current": created.temporaryPassword, "new": Self.newPassword, "_csrf": csrf])
            #expect(changed.status == .seeOther)
            #expect(changed.headers[.location] == "/home")
            #expect(staff.cookie != nil && staff.cookie != old)
            let home = String(buffer: try await staff.send(client, .get, "/home").body)
            #expect(home.contains("<p id=\"whoami\">Signed in as <strong>desk.new</strong>, roles: front-desk.</p>"))
            let chart = try await staff.send(client, .get, "/patients/p-1")
            #expect(chart.status == .ok)
            #expect(String(buffer: chart.body).contains("<dl id=\"chart\">"))
            #expect(String(buffer: chart.body).contains("data-field=\"contact\""))
            #expect(!String(buffer: try await staff.send(client, .get, "/patients/p-1").body).contains("Forged"))
            #expect(try await staff.send(client, .get, "/password").status == .ok)
            #expect(
                !String(buffer: try await staff.send(client, .get, "/password").body).contains(
                    "password-change-required"))
        }
    }

    @Test("the password change: the old session token is dead afterwards, and the next sign-in needs the new password")
    func oldTokenDeadAfterChange() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            let created = try await Self.addStaff(client, fixture, roles: ["front-desk"])
            var (staff, _) = try await Self.signInNewStaff(client, fixture, created)
            let old = try #require(staff.cookie)
            let changed = try await staff.send(
                client, .post, "/password",
                form: [
                    "current": created.temporaryPassword, "new": Self.newPassword,
                    "_csrf": try await staff.csrf(client, from: "/password"),
                ])
            #expect(changed.headers[.location] == "/home")
            var replay = Browser(cookie: old)
            for path in ["/home", "/patients/p-1", "/password"] {
                let response = try await replay.send(client, .get, path)
                #expect(response.headers[.location] == "/sign-in", "\(path)")
            }
            await #expect(throws: PortalError.notSignedIn) { _ = try await fixture.portal.whoami(token: old) }
            // The temporary password no longer signs in; the new one does, with no change required.
            var again = Browser()
            let refused = try await again.send(
                client, .post, "/sign-in", form: ["login": "desk.new", "password": created.temporaryPassword])
            #expect(refused.status == .unauthorized)
            let (fresh, landed) = try await Self.signInNewStaff(client, fixture, created, password: Self.newPassword)
            #expect(landed.headers[.location] == "/home")
            #expect(try await fixture.portal.whoami(token: fresh.cookie).passwordChangeRequired == false)
        }
    }

    @Test("a wrong current password is refused with one generic line; the requirement and the session stay")
    func wrongCurrentPasswordRefused() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            let created = try await Self.addStaff(client, fixture, roles: ["front-desk"])
            var (staff, _) = try await Self.signInNewStaff(client, fixture, created)
            let cookie = staff.cookie
            let wrong = try await staff.send(
                client, .post, "/password",
                form: [
                    "current": "not-the-temporary-password-1234", "new": Self.newPassword,
                    "_csrf": try await staff.csrf(client, from: "/password"),
                ])
            #expect(wrong.status == .unauthorized)
            let page = String(buffer: wrong.body)
            #expect(page.contains("<p id=\"error\">") && page.contains("<form id=\"password-change\""))
            #expect(staff.cookie == cookie)
            #expect(try await staff.send(client, .get, "/patients/p-1").headers[.location] == "/password")
            let session = try await fixture.portal.session(cookie, attempt: nil, allowingPasswordChange: true)
            #expect(Portal.requiresPasswordChange(session))
        }
    }

    @Test("the password change needs the session's form token and a same-origin post")
    func passwordChangeNeedsCSRF() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            var alice = Browser()
            try await alice.signIn(client, fixture, as: "alice")
            var bob = Browser()
            try await bob.signIn(client, fixture, as: "bob")
            let form = ["current": WebPortalFixture.password, "new": Self.newPassword]
            let missing = try await alice.send(client, .post, "/password", form: form)
            #expect(missing.status == .forbidden)
            var other = form
            other["_csrf"] = try await bob.csrf(client, from: "/password")
            #expect(try await alice.send(client, .post, "/password", form: other).status == .forbidden)
            var own = form
            own["_csrf"] = try await alice.csrf(client, from: "/password")
            let evil = try await alice.send(client, .post, "/password", form: own, origin: "https://evil.example")
            #expect(evil.status == .forbidden)
            // Nothing changed: the old password still signs in.
            var check = Browser()
            let first = try await check.send(
                client, .post, "/sign-in", form: ["login": "alice", "password": WebPortalFixture.password])
            #expect(first.headers[.location] == "/second-factor")
            // The same post with the session's own token passes.
            #expect(try await alice.send(client, .post, "/password", form: own).headers[.location] == "/home")
        }
    }

    /// The note ids listed on `uri`.
    static func noteIDs(_ browser: inout Browser, _ client: some TestClientProtocol, _ uri: String) async throws
        -> [String]
    {
        let page = String(buffer: try await browser.send(client, .get, uri).body)
        return page.components(separatedBy: "<li data-note-id=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    @Test(
        "notes: dr.grey reads p-1's psychotherapy note; nurse.joy gets p-1's other notes but not that one, and under break-glass not p-2's substance-use note"
    )
    func notesFollowThePolicy() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            var physician = Browser()
            try await physician.signIn(client, fixture, as: "dr.grey")
            let response = try await physician.send(client, .get, "/patients/p-1/notes")
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl] == "no-store")
            let page = String(buffer: response.body)
            #expect(page.contains("Psychotherapy session 4"))
            #expect(
                Set(try await Self.noteIDs(&physician, client, "/patients/p-1/notes")) == [
                    "note-p-1-1", "note-p-1-2", "note-p-1-3",
                ])
            #expect(
                String(buffer: try await physician.send(client, .get, "/patients/p-1").body).contains(
                    "id=\"chart-notes\""))

            var nurse = Browser()
            try await nurse.signIn(client, fixture, as: "nurse.joy")
            let nursePage = String(buffer: try await nurse.send(client, .get, "/patients/p-1/notes").body)
            #expect(!nursePage.contains("Psychotherapy") && !nursePage.contains("note-p-1-2"))
            #expect(Set(try await Self.noteIDs(&nurse, client, "/patients/p-1/notes")) == ["note-p-1-1", "note-p-1-3"])
            // p-2 is not on nurse.joy's care team: nothing, the same as a missing patient.
            #expect(try await Self.noteIDs(&nurse, client, "/patients/p-2/notes").isEmpty)
            #expect(try await Self.noteIDs(&nurse, client, "/patients/p-99999/notes").isEmpty)
            // Under break-glass the deny rule still wins: the diabetes note, never the substance-use one.
            let broken = try await nurse.send(
                client, .post, "/break-glass",
                form: [
                    "patient": "p-2", "reason": "ETREAT", "justification": "collapsed on the ward",
                    "_csrf": try await nurse.csrf(client, from: "/break-glass?patient=p-2"),
                ])
            #expect(broken.headers[.location] == "/patients/p-2")
            let glass = String(buffer: try await nurse.send(client, .get, "/patients/p-2/notes").body)
            #expect(glass.contains("under break-glass grant"))
            #expect(!glass.contains("Alcohol use") && !glass.contains("note-p-2-2"))
            #expect(try await Self.noteIDs(&nurse, client, "/patients/p-2/notes") == ["note-p-2-1"])
        }
    }

    @Test(
        "messages: alice sees and sends her own; bob's message id answers like a missing one; sending needs the form token"
    )
    func messagesAreThePatientsOwn() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            var alice = Browser()
            try await alice.signIn(client, fixture, as: "alice")
            let list = try await alice.send(client, .get, "/messages")
            #expect(list.status == .ok)
            let page = String(buffer: list.body)
            #expect(
                page.contains("<li data-message-id=\"msg-p-1-1\">")
                    && page.contains("<li data-message-id=\"msg-p-1-2\">"))
            #expect(page.contains("repeat prescription"))
            #expect(!page.contains("msg-p-2-1") && !page.contains("counselling"))
            #expect(page.contains("id=\"nav-messages\""))
            let own = try await alice.send(client, .get, "/messages/msg-p-1-1")
            #expect(own.status == .ok)
            #expect(String(buffer: own.body).contains("repeat prescription"))

            let bobs = try await alice.send(client, .get, "/messages/msg-p-2-1")
            let missing = try await alice.send(client, .get, "/messages/msg-p-2-99")
            #expect(bobs.status == .notFound)
            #expect(missing.status == .notFound)
            let bobsPage = String(buffer: bobs.body)
            #expect(!bobsPage.contains("counselling"))
            #expect(withoutReference(bobsPage) == withoutReference(String(buffer: missing.body)))

            // Sending needs the form token; with it, the message is in alice's thread only.
            let text = "Can I move my appointment to Friday?"
            #expect(try await alice.send(client, .post, "/messages", form: ["text": text]).status == .forbidden)
            let sent = try await alice.send(
                client, .post, "/messages",
                form: ["text": text, "_csrf": try await alice.csrf(client, from: "/messages")])
            #expect(sent.headers[.location] == "/messages")
            #expect(String(buffer: try await alice.send(client, .get, "/messages").body).contains(text))
            var bob = Browser()
            try await bob.signIn(client, fixture, as: "bob")
            let bobPage = String(buffer: try await bob.send(client, .get, "/messages").body)
            #expect(bobPage.contains("msg-p-2-1") && !bobPage.contains(text) && !bobPage.contains("msg-p-1-1"))
        }
    }

    @Test(
        "authenticator enrolment: /mfa shows an inline SVG QR; a wrong code and a post without the form token change nothing; the right code makes the new authenticator the one that signs in"
    )
    func authenticatorEnrolment() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            var alice = Browser()
            try await alice.signIn(client, fixture, as: "alice")
            let response = try await alice.send(client, .get, "/mfa")
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl] == "no-store")
            let page = String(buffer: response.body)
            #expect(page.contains("<figure id=\"mfa-qr\"><svg"))
            #expect(!page.contains("<script"))
            let key = try #require(
                page.range(of: "<code id=\"mfa-key\">").map { String(page[$0.upperBound...].prefix { $0 != "<" }) })
            // A reload shows the same pending key.
            #expect(String(buffer: try await alice.send(client, .get, "/mfa").body).contains(key))
            let authenticator = TOTP(secret: try TOTPSecret(base32: key))
            let csrf = try #require(Browser.csrfToken(in: page))

            let code = try authenticator.code(at: fixture.clock.now)
            #expect(try await alice.send(client, .post, "/mfa", form: ["code": code]).status == .forbidden)
            let wrong = try await alice.send(
                client, .post, "/mfa", form: ["code": code == "000000" ? "111111" : "000000", "_csrf": csrf])
            #expect(wrong.status == .unauthorized)
            let wrongPage = String(buffer: wrong.body)
            #expect(wrongPage.contains("<p id=\"error\">") && wrongPage.contains("<form id=\"mfa-confirm\""))
            #expect(wrongPage.contains(key))
            // The stored authenticator is still the old one.
            let accountID = try await fixture.portal.whoami(token: alice.cookie).accountID
            func storedKey() async throws -> String? {
                try await fixture.portal.accounts.account(id: accountID)?.totp?.secret.revealBase32()
            }
            let before = try await storedKey()
            #expect(before != nil && before != key)

            let done = try await alice.send(client, .post, "/mfa", form: ["code": code, "_csrf": csrf])
            #expect(done.status == .ok)
            #expect(String(buffer: done.body).contains("<p id=\"mfa-enrolled\">"))
            let after = try await storedKey()
            #expect(after == key)
            fixture.clock.advance(by: .seconds(30))

            // The next sign-in takes the new authenticator's code.
            var again = Browser()
            let first = try await again.send(
                client, .post, "/sign-in", form: ["login": "alice", "password": WebPortalFixture.password])
            #expect(first.headers[.location] == "/second-factor")
            let second = try await again.send(
                client, .post, "/second-factor",
                form: [
                    "code": try authenticator.code(at: fixture.clock.now),
                    "_csrf": try await again.csrf(client, from: "/second-factor"),
                ])
            #expect(second.headers[.location] == "/home")
        }
    }
}
