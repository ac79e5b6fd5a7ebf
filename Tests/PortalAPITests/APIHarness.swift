import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PHIGuardHummingbird
import PHIGuardTestSupport
import PortalAPI
import PortalCore
import Synchronization

/// A seeded portal on a real SQLite file (real keys, Argon2id, libsodium) with the API mounted at
/// `/api` behind PHIGuard's middleware, exactly as the web portal mounts it.
final class APIHarness: Sendable {
    static let password = "riverside-test-password-4821"
    /// HummingbirdTesting's live client sends every request with authority `localhost`.
    static let origin = "https://localhost"
    let directory: URL
    let portal: Portal
    let recorder = ExchangeRecorder()

    private init(directory: URL, portal: Portal) {
        self.directory = directory
        self.portal = portal
    }

    static func make(patients: Int = 20) async throws -> APIHarness {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portal-api-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let portal = try await Portal.open(
            PortalConfiguration(
                databasePath: directory.appendingPathComponent("portal.sqlite").path,
                keyDirectory: directory.appendingPathComponent("keys").path,
                policyPath: Fixture.repositoryRoot.appendingPathComponent("Examples/Policies/hospital.yaml").path,
                clientLabel: "PortalAPITests"),
            creating: true)
        try await portal.seed(password: password, patientCount: patients)
        return APIHarness(directory: directory, portal: portal)
    }

    /// The application: PHIGuard's stack, then the API on `/api`. The test client connects from
    /// loopback, trusted as a proxy, so each ``APIClient`` can be a workstation of its own
    /// (`X-Forwarded-For`): sign-in rate limits count per address.
    func app() throws -> some ApplicationProtocol {
        let web = try PHIGuardWeb(flow: portal.flow, trustedProxies: try TrustedProxies(["127.0.0.1", "::1"]))
        let router = Router(context: BasicPHIGuardRequestContext.self)
        web.install(on: router)
        PortalAPI.register(on: router.group("api"), portal: portal, web: web)
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    func close() async {
        try? await portal.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Validates every recorded exchange against openapi.yaml (when the test virtualenv is there;
    /// under CI it must be) and returns the report.
    func validateAgainstSpec() throws -> SpecReport? {
        guard InteropPython.shouldRun else { return nil }
        let script = try String(
            contentsOf: Fixture.repositoryRoot.appendingPathComponent("scripts/validate-openapi-exchanges.py"),
            encoding: .utf8)
        let request = SpecRequest(
            spec: Fixture.repositoryRoot.appendingPathComponent("Examples/PortalAPI/openapi.yaml").path,
            exchanges: recorder.exchanges)
        return try InteropPython.exchange(script: script, request: request, as: SpecReport.self)
    }
}

/// What the validator is given.
struct SpecRequest: Encodable {
    let spec: String
    let exchanges: [Exchange]
}

/// What the validator found.
struct SpecReport: Decodable {
    let validated: Int
    let errors: [String]
    let unexercised: [String]
}

/// One request and its response, as recorded for the validator.
struct Exchange: Codable, Sendable {
    let method: String
    let path: String
    let query: String
    let requestHeaders: [[String]]
    let status: Int
    let headers: [[String]]
    /// Base64 of the response body.
    let body: String
}

/// Every exchange of a test, in order.
final class ExchangeRecorder: Sendable {
    private let recorded = Mutex<[Exchange]>([])

    var exchanges: [Exchange] { recorded.withLock { $0 } }

    func record(_ exchange: Exchange) { recorded.withLock { $0.append(exchange) } }
}

/// An API client with a cookie jar of one (the session cookie) and the session's CSRF token.
struct APIClient {
    static let cookieName = "__Host-phiguard-session"
    let harness: APIHarness
    private static let clients = Atomic<Int>(0)
    /// The client's own address (documentation range 2001:db8::/32), sent as `X-Forwarded-For`.
    let address = "2001:db8::\(String(APIClient.clients.add(1, ordering: .relaxed).newValue, radix: 16))"
    var cookie: String?
    var csrfToken: String?

    init(_ harness: APIHarness) {
        self.harness = harness
    }

    /// Sends a request like a same-origin `fetch`: JSON body, `Origin`, and the CSRF token on
    /// state-changing requests unless `csrf` is false. Records the exchange; applies `Set-Cookie`.
    @discardableResult
    mutating func send(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, json: Any? = nil,
        csrf: Bool = true, headers extra: HTTPFields = [:]
    ) async throws -> APIResult {
        var headers: HTTPFields = [.accept: "application/json"]
        headers[try Self.name("X-Forwarded-For")] = address
        if method != .get {
            headers[.origin] = APIHarness.origin
            if csrf, let csrfToken { headers[try Self.name("X-CSRF-Token")] = csrfToken }
        }
        if let cookie { headers[.cookie] = "\(Self.cookieName)=\(cookie)" }
        var body: ByteBuffer?
        if let json {
            headers[.contentType] = "application/json"
            body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
        }
        for field in extra { headers[field.name] = field.value }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
        for line in response.headers[values: .setCookie] where line.hasPrefix(Self.cookieName + "=") {
            let value = line.dropFirst(Self.cookieName.count + 1).prefix { $0 != ";" }
            cookie = value.isEmpty ? nil : String(value)
        }
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        harness.recorder.record(
            Exchange(
                method: method.rawValue, path: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : "",
                requestHeaders: headers.map { [$0.name.rawName, $0.value] }, status: Int(response.status.code),
                headers: response.headers.map { [$0.name.rawName, $0.value] },
                body: Data(
                    response.body.getBytes(at: response.body.readerIndex, length: response.body.readableBytes) ?? []
                )
                .base64EncodedString()))
        return APIResult(response: response)
    }

    /// Password, then the demo authenticator's code, through the API; keeps the CSRF token.
    mutating func signIn(_ client: some TestClientProtocol, as login: String) async throws -> APIResult {
        let first = try await send(
            client, .post, "/api/session", json: ["login": login, "password": APIHarness.password])
        guard first.status == .ok else { return first }
        csrfToken = first.object["csrfToken"] as? String
        guard first.object["state"] as? String == "awaiting-second-factor" else { return first }
        let code = try await harness.portal.demoCode(loginName: login)
        let second = try await send(client, .post, "/api/session/second-factor", json: ["code": code])
        if let token = second.object["csrfToken"] as? String { csrfToken = token }
        return second
    }

    static func name(_ text: String) throws -> HTTPField.Name {
        guard let name = HTTPField.Name(text) else { throw HarnessError.badHeaderName }
        return name
    }
}

/// A response with its JSON body parsed.
struct APIResult {
    let response: TestResponse

    var status: HTTPResponse.Status { response.status }
    var text: String { String(buffer: response.body) }
    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }
    func header(_ name: String) -> String? {
        HTTPField.Name(name).flatMap { response.headers[$0] }
    }
    /// The problem body without its per-request reference: what must be equal for "missing" and "denied".
    var problemShape: [String: String] {
        var shape = object.compactMapValues { "\($0)" }
        shape["instance"] = nil
        shape["http-status"] = "\(status.code)"
        shape["content-type"] = header("Content-Type")
        return shape
    }
}

enum HarnessError: Error {
    case badHeaderName
}
