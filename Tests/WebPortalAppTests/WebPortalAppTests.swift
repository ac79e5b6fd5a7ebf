import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PHIGuardAudit
import PHIGuardTOTP
import Testing

@testable import PortalCore

@Suite("WebPortal pages over PortalCore (SQLite file, in process)", .serialized)
struct WebPortalAppTests {
    @Test("sign-in with password then TOTP reaches /home, and /chart shows the patient's own fields, no-store")
    func signInAndOwnChart() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            var alice = Browser()
            try await alice.signIn(client, fixture, as: "alice")
            let home = String(buffer: try await alice.send(client, .get, "/home").body)
            #expect(home.contains("<p id=\"whoami\">Signed in as <strong>alice</strong>, roles: patient.</p>"))
            #expect(home.contains("<form id=\"sign-out\" method=\"post\" action=\"/sign-out\">"))
            let response = try await alice.send(client, .get, "/chart")
            let chart = String(buffer: response.body)
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl] == "no-store")
            #expect(chart.contains("<dl id=\"chart\">"))
            #expect(chart.contains("<dd data-field=\"name\">Alice Example</dd>"))
            #expect(chart.contains("<dd data-field=\"allergies\">Penicillin</dd>"))
            #expect(!chart.contains("Bob Sample"))
        }
    }

    @Test("a patient's /patients/p-2 is the same 404 page as a missing id, and shows nothing of p-2")
    func otherPatientIsNotFound() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            var alice = Browser()
            try await alice.signIn(client, fixture, as: "alice")
            let other = try await alice.send(client, .get, "/patients/p-2")
            let missing = try await alice.send(client, .get, "/patients/p-99999")
            #expect(other.status == .notFound)
            #expect(missing.status == .notFound)
            let otherPage = String(buffer: other.body)
            #expect(otherPage.contains("<p id=\"error\">"))
            #expect(withoutReference(otherPage) == withoutReference(String(buffer: missing.body)))
            #expect(!otherPage.contains("Bob") && !otherPage.contains("data-field"))
        }
    }

    @Test("a registration session reaches no PHI page, and its attempt is audited as denied")
    func registrationSessionReachesNoPHI() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            var visitor = Browser()
            let start = try await visitor.send(client, .post, "/register", form: [:])
            #expect(start.status == .seeOther)
            #expect(visitor.cookie != nil)
            #expect(try await fixture.portal.pendingState(token: visitor.cookie) == "registering")
            for path in ["/chart", "/patients/p-1", "/patients", "/home"] {
                let response = try await visitor.send(client, .get, path)
                let page = String(buffer: response.body)
                #expect(response.status == .unauthorized, "\(path)")
                #expect(!page.contains("data-field") && !page.contains("Alice"), "\(path)")
            }
            let denied = try await fixture.auditRecords().filter {
                $0.event.outcome == .deny && $0.event.reason == "no-principal-registering"
                    && $0.event.resourceType == "chart"
            }
            #expect(denied.count == 2)
            // The enrolment page of the same session works: it is a registration, just not a principal.
            let named = try await visitor.send(
                client, .post, "/register/name",
                form: ["login": "newcomer", "_csrf": try await visitor.csrf(client, from: "/register")])
            #expect(named.headers[.location] == "/register/enrol")
            #expect(String(buffer: try await visitor.send(client, .get, "/register/enrol").body).contains("<svg"))
        }
    }

    @Test(
        "self-registration end to end: the QR page's key confirms the enrolment; the new account is a patient with an empty chart of its own"
    )
    func registrationEndToEnd() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            var visitor = Browser()
            _ = try await visitor.send(client, .post, "/register", form: [:])
            _ = try await visitor.send(
                client, .post, "/register/name",
                form: ["login": "newcomer", "_csrf": try await visitor.csrf(client, from: "/register")])
            let enrol = String(buffer: try await visitor.send(client, .get, "/register/enrol").body)
            #expect(enrol.contains("<figure id=\"totp-qr\"><svg"))
            let key = try #require(
                enrol.range(of: "<code id=\"totp-key\">").map { String(enrol[$0.upperBound...].prefix { $0 != "<" }) })
            let authenticator = TOTP(secret: try TOTPSecret(base32: key))
            let password = "quiet-harbour-lantern-5521"
            let done = try await visitor.send(
                client, .post, "/register/complete",
                form: [
                    "password": password, "code": try authenticator.code(at: fixture.clock.now),
                    "_csrf": try #require(Browser.csrfToken(in: enrol)),
                ])
            #expect(done.status == .ok)
            #expect(String(buffer: done.body).contains("<p id=\"registered\">"))
            #expect(visitor.cookie == nil)
            fixture.clock.advance(by: .seconds(30))

            var newcomer = Browser()
            let first = try await newcomer.send(
                client, .post, "/sign-in", form: ["login": "newcomer", "password": password])
            #expect(first.headers[.location] == "/second-factor")
            let second = try await newcomer.send(
                client, .post, "/second-factor",
                form: [
                    "code": try authenticator.code(at: fixture.clock.now),
                    "_csrf": try await newcomer.csrf(client, from: "/second-factor"),
                ])
            #expect(second.headers[.location] == "/home")
            let home = String(buffer: try await newcomer.send(client, .get, "/home").body)
            #expect(home.contains("<p id=\"whoami\">Signed in as <strong>newcomer</strong>"))
            // A registered account is a patient linked to a new, empty record the server created.
            // A registered account is a patient linked to a new record the server created (its own
            // id, never one the client chose), and that record is empty until staff fill it in.
            #expect(home.contains(", roles: patient.</p>"))
            let chart = try await newcomer.send(client, .get, "/chart")
            #expect(chart.status == .ok)
            let page = String(buffer: chart.body)
            #expect(page.contains("<dl id=\"chart\">\n</dl>"), "\(page)")
            #expect(!page.contains("<code>p-1</code>") && !page.contains("data-field="))
        }
    }

    @Test("staff list and search: the care team only, by name, MRN and date of birth")
    func staffSearch() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            var physician = Browser()
            try await physician.signIn(client, fixture, as: "dr.grey")
            func rows(_ uri: String) async throws -> [String] {
                let page = String(buffer: try await physician.send(client, .get, uri).body)
                return page.components(separatedBy: "<tr data-patient-id=\"").dropFirst().map {
                    String($0.prefix { $0 != "\"" })
                }
            }
            // dr.grey's care team among p-1…p-20: p-1, p-2, p-4…p-20 (p-3 is dr.shaw's).
            #expect(Set(try await rows("/patients")) == Set(([1, 2] + Array(4...20)).map { "p-\($0)" }))
            #expect(try await rows("/patients?name=Bob+Sample") == ["p-2"])
            #expect(try await rows("/patients?mrn=MRN-1000074") == ["p-2"])
            #expect(try await rows("/patients?dob=1971-11-23") == ["p-2"])
            #expect(try await rows("/patients?name=Carol+Placeholder").isEmpty)
        }
    }

    @Test("break-glass: the banner appears while the grant is active and the grant is in the auditor's review")
    func breakGlassBannerAndReview() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            var physician = Browser()
            try await physician.signIn(client, fixture, as: "dr.shaw")
            // p-5 is not on dr.shaw's care team.
            #expect(try await physician.send(client, .get, "/patients/p-5").status == .notFound)
            let home = String(buffer: try await physician.send(client, .get, "/home").body)
            #expect(!home.contains("break-glass-banner"))
            let token = try await physician.csrf(client, from: "/break-glass?patient=p-5")
            let broken = try await physician.send(
                client, .post, "/break-glass",
                form: ["patient": "p-5", "reason": "ETREAT", "justification": "unconscious in the ED", "_csrf": token])
            #expect(broken.status == .seeOther)
            #expect(broken.headers[.location] == "/patients/p-5")
            let chart = try await physician.send(client, .get, "/patients/p-5")
            let page = String(buffer: chart.body)
            #expect(chart.status == .ok)
            #expect(page.contains("<div id=\"break-glass-banner\">") && page.contains("Patient p-5 until"))
            #expect(page.contains("<dl id=\"chart\">"))
            let grants = try await fixture.portal.activeGrants(
                in: try await fixture.portal.session(physician.cookie))
            #expect(grants.count == 1)

            var auditor = Browser()
            try await auditor.signIn(client, fixture, as: "audit.ada")
            let review = String(buffer: try await auditor.send(client, .get, "/review").body)
            let grantID = try #require(grants.first?.id)
            #expect(review.contains("<tr data-grant-id=\"\(grantID)\">"))
            let reviewed = try await auditor.send(
                client, .post, "/review/\(grantID)",
                form: ["outcome": "appropriate", "_csrf": try await auditor.csrf(client, from: "/review")])
            #expect(reviewed.status == .seeOther)
            #expect(!String(buffer: try await auditor.send(client, .get, "/review").body).contains(grantID))
            let audit = String(buffer: try await auditor.send(client, .get, "/audit").body)
            #expect(audit.contains("<p id=\"audit-verification\">Audit chain intact:"))
        }
    }

    @Test("a chart update without the form token, or with another session's, is refused and changes nothing")
    func csrfTokenRequired() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            var physician = Browser()
            try await physician.signIn(client, fixture, as: "dr.grey")
            var nurse = Browser()
            try await nurse.signIn(client, fixture, as: "nurse.joy")
            let otherToken = try await nurse.csrf(client, from: "/home")
            let form = ["field": "allergies", "value": "Forged"]
            let missing = try await physician.send(client, .post, "/patients/p-4/chart", form: form)
            #expect(missing.status == .forbidden)
            #expect(String(buffer: missing.body).contains("<p id=\"error\">"))
            var withOther = form
            withOther["_csrf"] = otherToken
            #expect(
                try await physician.send(client, .post, "/patients/p-4/chart", form: withOther).status == .forbidden)
            var crossSite = form
            crossSite["_csrf"] = try await physician.csrf(client, from: "/home")
            let evil = try await physician.send(
                client, .post, "/patients/p-4/chart", form: crossSite, origin: "https://evil.example")
            #expect(evil.status == .forbidden)
            #expect(!String(buffer: try await physician.send(client, .get, "/patients/p-4").body).contains("Forged"))
            // The same post with the session's own token passes (the check does not refuse everything).
            let own = try await physician.send(client, .post, "/patients/p-4/chart", form: crossSite)
            #expect(own.status == .seeOther)
            #expect(String(buffer: try await physician.send(client, .get, "/patients/p-4").body).contains("Forged"))
        }
    }

    @Test("after sign-out the old cookie reaches no chart")
    func signOutEndsTheSession() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            var alice = Browser()
            try await alice.signIn(client, fixture, as: "alice")
            let old = alice.cookie
            #expect(try await alice.send(client, .get, "/chart").status == .ok)
            let out = try await alice.send(
                client, .post, "/sign-out", form: ["_csrf": try await alice.csrf(client, from: "/home")])
            #expect(out.status == .seeOther)
            #expect(out.headers[.location] == "/sign-in")
            #expect(alice.cookie == nil)
            var replay = Browser(cookie: old)
            let chart = try await replay.send(client, .get, "/chart")
            #expect(chart.status == .seeOther)
            #expect(chart.headers[.location] == "/sign-in")
            #expect(!String(buffer: chart.body).contains("Alice"))
        }
    }

    @Test("the sessions page lists the user's sessions, and ending another one signs that browser out")
    func endAnotherSession() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            var laptop = Browser()
            try await laptop.signIn(client, fixture, as: "alice")
            var phone = Browser()
            try await phone.signIn(client, fixture, as: "alice")
            let phoneHandle = try await fixture.portal.whoami(token: phone.cookie).sessionHandle
            let page = String(buffer: try await laptop.send(client, .get, "/sessions").body)
            #expect(page.components(separatedBy: "<tr data-session-handle=").count - 1 == 2)
            #expect(page.contains("<tr data-session-handle=\"\(phoneHandle)\">"))
            let ended = try await laptop.send(
                client, .post, "/sessions/\(phoneHandle)/end",
                form: ["_csrf": try #require(Browser.csrfToken(in: page))])
            #expect(ended.headers[.location] == "/sessions")
            #expect(try await phone.send(client, .get, "/chart").headers[.location] == "/sign-in")
            #expect(try await laptop.send(client, .get, "/chart").status == .ok)
        }
    }

    @Test("a wrong password shows the sign-in page again with one generic line, the same as an unknown account")
    func failedSignInIsGeneric() async throws {
        let fixture = try await WebPortalFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.test { client in
            var browser = Browser()
            let wrong = try await browser.send(
                client, .post, "/sign-in", form: ["login": "alice", "password": "not-the-password-at-all"])
            let unknown = try await browser.send(
                client, .post, "/sign-in", form: ["login": "nobody-here", "password": "not-the-password-at-all"])
            #expect(wrong.status == .unauthorized)
            #expect(String(buffer: wrong.body).contains("<p id=\"error\">"))
            #expect(String(buffer: wrong.body).contains("<form id=\"sign-in\""))
            #expect(withoutReference(String(buffer: wrong.body)) == withoutReference(String(buffer: unknown.body)))
            #expect(browser.cookie == nil)
        }
    }
}
