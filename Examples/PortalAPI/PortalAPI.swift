internal import Foundation
public import Hummingbird
internal import PHIGuardAccess
internal import PHIGuardAuthentication
internal import PHIGuardErrors
public import PHIGuardHummingbird
internal import PHIGuardRecords
public import PortalCore

/// The portal's JSON API: the operations of the web portal's pages over ``Portal``, for scripts and
/// single-page clients. Documented in `Examples/PortalAPI/openapi.yaml` (OpenAPI 3.1); the tests
/// validate every response against it.
///
/// Mount it on a router that has PHIGuard's middleware installed (`PHIGuardWeb.install`):
///
/// ```swift
/// let web = try PHIGuardWeb(flow: portal.flow)
/// web.install(on: router)
/// PortalAPI.register(on: router.group("api"), portal: portal, web: web)
/// ```
///
/// - Sessions are the adapter's: the `__Host-` cookie, rotated on every sign-in step, deleted only
///   when the session is gone. PHI operations pass the cookie's token to ``Portal`` (decided,
///   audited; a session without a principal is refused and audited).
/// - Every state-changing request from a client that holds a session must carry the session's
///   `X-CSRF-Token` (``APICSRFMiddleware``), whatever its content type; the adapter's origin checks
///   run first.
/// - Every error is `application/problem+json` (one fixed title per problem, the request's
///   reference, nothing internal); a chart that is missing and one that is denied answer alike.
/// - Every answer is `Cache-Control: no-store`.
public enum PortalAPI {
    /// Adds the API's routes (paths relative to `group`, such as `/api`) and its middleware to `group`.
    public static func register<Context: PHIGuardRequestContext>(
        on group: RouterGroup<Context>, portal: Portal, web: PHIGuardWeb
    ) {
        let routes = PortalAPIRoutes<Context>(portal: portal, web: web)
        group.add(middleware: ProblemMiddleware(responder: web.problems, format: .problemJSON))
        group.add(middleware: APICSRFMiddleware(protection: web.csrf))
        routes.register(on: group)
    }
}

/// The handlers of ``PortalAPI``.
struct PortalAPIRoutes<Context: PHIGuardRequestContext>: Sendable {
    let portal: Portal
    let web: PHIGuardWeb

    func register(on group: RouterGroup<Context>) {
        // Sessions.
        group.get("session") { _, context in try self.sessionState(context) }
        group.post("session") { request, context in try await self.signIn(request, context) }
        group.post("session/second-factor") { request, context in try await self.secondFactor(request, context) }
        group.delete("session") { _, context in
            try await context.phiGuard.requireSession().signOut()
            return APIResponse.empty()
        }
        group.get("me") { _, context in try APIResponse.json(IdentityBody(try Self.authenticated(context))) }
        group.get("sessions") { request, context in
            let sessions = try await portal.sessions(token: token(request))
            return try APIResponse.json(SessionListBody(sessions: sessions.map(SessionBody.init)))
        }
        group.delete("sessions/{handle}") { request, context in
            let handle = try context.parameters.require("handle")
            guard try await portal.endSession(token: token(request), handle: handle) else {
                throw ResourceNotFound(resourceType: "session")
            }
            return APIResponse.empty()
        }
        // Patients and charts.
        group.get("patients") { request, _ in try await self.listPatients(request) }
        group.get("patients/{id}/chart") { request, context in
            let chart = try await portal.chart(token: token(request), patientID: try context.parameters.require("id"))
            return try APIResponse.json(ChartBody(chart))
        }
        group.get("chart") { request, _ in
            // A session without a principal is refused and audited here, as for any chart.
            let session = try await portal.session(
                token(request), attempt: PortalAttempt(action: "read", resourceType: "chart", patientID: nil))
            // An account that is no patient has no chart of its own: the same answer as a missing one.
            guard let patientID = session.principal.subject.patientID else {
                throw ResourceNotFound(resourceType: "chart")
            }
            return try APIResponse.json(ChartBody(try await portal.chart(token: token(request), patientID: patientID)))
        }
        group.patch("patients/{id}/chart") { request, context in
            let id = try context.parameters.require("id")
            let body = try await Self.decode(ChartUpdateRequest.self, request, context)
            let sequence = try await portal.updateChart(
                token: token(request), patientID: id, field: body.field, value: body.value)
            return try APIResponse.json(ChartUpdateBody(patientID: id, field: body.field, auditSequence: sequence))
        }
        // Break-glass.
        group.post("break-glass") { request, context in
            let body = try await Self.decode(BreakGlassRequestBody.self, request, context)
            let grant = try await portal.breakGlass(
                token: token(request), patientID: body.patient, reasonCode: body.reason,
                justification: body.justification)
            return try APIResponse.json(GrantBody(grant), status: .created)
        }
        group.get("break-glass/reviews") { request, _ in
            let all = request.uri.queryParameters["all"] == "true"
            let queue = try await portal.breakGlassReviewQueue(token: token(request), includeReviewed: all)
            return try APIResponse.json(ReviewQueueBody(grants: queue.map(ReviewItemBody.init)))
        }
        group.post("break-glass/reviews/{grant}") { request, context in
            let grant = try context.parameters.require("grant")
            let body = try await Self.decode(ReviewRequest.self, request, context)
            guard ReviewRequest.outcomes.contains(body.outcome) else { throw PortalError.invalidInput("outcome") }
            try await portal.reviewBreakGlass(token: token(request), grantID: grant, outcome: body.outcome)
            return APIResponse.empty()
        }
        // Password change, clinical notes, messages.
        registerAccountAndRecords(on: group)
    }

    /// The session token the request's cookie carries (what ``Portal`` decides and audits under).
    func token(_ request: Request) -> String? { web.cookie.value(in: request) }

    func sessionState(_ context: Context) throws -> Response {
        let session = try context.phiGuard.requireSession()
        return try APIResponse.json(
            SessionStateBody(
                state: session.current.state?.rawValue ?? "anonymous", csrfToken: web.csrf.token(for: session)))
    }

    func signIn(_ request: Request, _ context: Context) async throws -> Response {
        let body = try await Self.decode(SignInRequest.self, request, context)
        let session = try context.phiGuard.requireSession()
        _ = try await session.signIn(loginName: body.login, password: body.password, clientLabel: "PortalAPI")
        return try signInState(session)
    }

    func secondFactor(_ request: Request, _ context: Context) async throws -> Response {
        let body = try await Self.decode(SecondFactorRequest.self, request, context)
        let session = try context.phiGuard.requireSession()
        let code = body.code.trimmingCharacters(in: .whitespaces)
        // Digits are an authenticator code; anything else a recovery code (as ``Portal`` decides).
        let factor: SecondFactor =
            !code.isEmpty && code.allSatisfy { $0.isASCII && $0.isNumber } ? .totp(code) : .recoveryCode(code)
        _ = try await session.verifySecondFactor(factor)
        return try signInState(session)
    }

    /// The answer to a sign-in step: the state reached, the session's CSRF token and, once signed
    /// in, who the session belongs to.
    func signInState(_ session: PHIGuardSession) throws -> Response {
        let identity: IdentityBody? =
            if case .authenticated(let authenticated) = session.current { IdentityBody(authenticated) } else { nil }
        return try APIResponse.json(
            SignInBody(
                state: session.current.state?.rawValue ?? "anonymous", csrfToken: web.csrf.token(for: session),
                identity: identity))
    }

    func listPatients(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        func value(_ name: String) -> String? {
            query[Substring(name)].flatMap { $0.isEmpty ? nil : String($0) }
        }
        var limit = 20
        if let text = value("limit") {
            guard let parsed = Int(text), (1...Portal.maximumPageSize).contains(parsed) else {
                throw PortalError.invalidInput("limit")
            }
            limit = parsed
        }
        let search = PatientSearch(mrn: value("mrn"), name: value("name"), birthDate: value("dob"))
        let page = try await portal.listPatients(
            token: token(request), search: search, cursor: value("after"), limit: limit)
        return try APIResponse.json(PatientPageBody(page))
    }

    /// The signed-in session of the request, or 401 (the cookie is left alone).
    static func authenticated(_ context: Context) throws -> AuthenticatedSession {
        guard case .authenticated(let session) = try context.phiGuard.requireSession().current else {
            throw PHIGuardWebError.signInRequired
        }
        return session
    }

    /// The request's JSON body as `type`; anything unreadable is 400 `invalid_request`.
    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: Context) async throws -> T {
        do {
            let buffer = try await request.body.collect(upTo: context.maxUploadSize)
            let bytes = buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? []
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw PHIGuardWebError.invalidRequest
        }
    }
}

/// JSON answers of the API: always `Cache-Control: no-store`.
enum APIResponse {
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func empty() -> Response {
        var headers = HTTPFields()
        headers[.cacheControl] = "no-store"
        return Response(status: .noContent, headers: headers)
    }
}
