import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PHIGuardAudit
import PHIGuardCrypto
import PHIGuardSQLite
import PHIGuardTestSupport
import WebPortalApp

@testable import PortalCore

/// A seeded portal (20 patients) on a real SQLite file in a temporary directory, with a
/// `ManualClock`, and the web app over it.
final class WebPortalFixture: Sendable {
    static let password = "riverside-web-test-password-7713"
    let directory: URL
    let clock: ManualClock
    let portal: Portal
    let app: WebPortalApp

    private init(directory: URL, portal: Portal, clock: ManualClock) throws {
        self.directory = directory
        self.portal = portal
        self.clock = clock
        app = try WebPortalApp(portal: portal)
    }

    static func make(patients: Int = 20) async throws -> WebPortalFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("web-portal-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
        let portal = try await Portal.open(
            PortalConfiguration(
                databasePath: directory.appendingPathComponent("portal.sqlite").path,
                keyDirectory: directory.appendingPathComponent("keys").path,
                policyPath: Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital.yaml").path,
                clientLabel: "WebPortal tests", clock: clock),
            creating: true)
        try await portal.seed(password: password, patientCount: patients)
        return try WebPortalFixture(directory: directory, portal: portal, clock: clock)
    }

    /// Runs `body` against the app in process (HummingbirdTesting's router client).
    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let application = Application(router: app.router())
        try await application.test(.router) { client in try await body(client) }
    }

    /// Every audit record so far (written through the log's queue first).
    func auditRecords() async throws -> [AuditRecord] {
        try await portal.audit.flush()
        var records: [AuditRecord] = []
        var position = 0
        while true {
            let chunk = try await portal.auditSink.entries(from: position, limit: 500)
            for case .record(let record) in chunk { records.append(record) }
            if chunk.count < 500 { return records }
            position += chunk.count
        }
    }

    func close() async {
        try? await portal.close()
        try? FileManager.default.removeItem(at: directory)
    }
}

enum FixtureError: Error { case setup(String) }

/// A browser: keeps the session cookie, sends `Origin` and `Sec-Fetch-Site: same-origin` with
/// form posts like a same-origin page, and `Accept: text/html`.
struct Browser {
    static let cookieName = "__Host-phiguard-session"
    /// HummingbirdTesting sends every request with authority `localhost`.
    static let origin = "https://localhost"
    var cookie: String?

    mutating func send(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, form: [String: String]? = nil,
        origin: String? = Browser.origin
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.accept: "text/html"]
        if method != .get, let origin {
            headers[.origin] = origin
            if let name = HTTPField.Name("Sec-Fetch-Site") { headers[name] = "same-origin" }
        }
        if let cookie { headers[.cookie] = "\(Self.cookieName)=\(cookie)" }
        var body: ByteBuffer?
        if let form {
            headers[.contentType] = "application/x-www-form-urlencoded"
            body = ByteBuffer(string: Self.encode(form))
        }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
        for line in response.headers[values: .setCookie] where line.hasPrefix(Self.cookieName + "=") {
            let value = line.dropFirst(Self.cookieName.count + 1).prefix { $0 != ";" }
            cookie = value.isEmpty ? nil : String(value)
        }
        return response
    }

    /// GETs `uri` and returns the form token rendered in its page.
    mutating func csrf(_ client: some TestClientProtocol, from uri: String) async throws -> String {
        let page = String(buffer: try await send(client, .get, uri).body)
        guard let token = Self.csrfToken(in: page) else { throw FixtureError.setup("no _csrf on \(uri)") }
        return token
    }

    static func csrfToken(in page: String) -> String? {
        guard let range = page.range(of: "name=\"_csrf\" value=\"") else { return nil }
        return String(page[range.upperBound...].prefix { $0 != "\"" })
    }

    /// Password, then the demo authenticator's code, through the pages; then the clock moves on a step.
    mutating func signIn(_ client: some TestClientProtocol, _ fixture: WebPortalFixture, as name: String) async throws {
        let first = try await send(
            client, .post, "/sign-in", form: ["login": name, "password": WebPortalFixture.password])
        guard first.status == .seeOther, first.headers[.location] == "/second-factor" else {
            throw FixtureError.setup("password step for \(name): \(first.status)")
        }
        let token = try await csrf(client, from: "/second-factor")
        let code = try await fixture.portal.demoCode(loginName: name)
        let second = try await send(client, .post, "/second-factor", form: ["code": code, "_csrf": token])
        guard second.status == .seeOther, second.headers[.location] == "/home" else {
            throw FixtureError.setup("second factor for \(name): \(second.status)")
        }
        fixture.clock.advance(by: .seconds(30))
    }

    static func encode(_ form: [String: String]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return form.sorted { $0.key < $1.key }.map { key, value in
            "\(key.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")="
                + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        }.joined(separator: "&")
    }
}

/// The page with its per-request reference removed (two error pages differ only there).
func withoutReference(_ page: String) -> String {
    guard let start = page.range(of: "<code>"),
        let end = page.range(of: "</code>", range: start.upperBound..<page.endIndex)
    else { return page }
    return page.replacingCharacters(in: start.upperBound..<end.lowerBound, with: "")
}
