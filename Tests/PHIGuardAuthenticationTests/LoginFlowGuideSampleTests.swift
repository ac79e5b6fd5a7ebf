// The "Wiring a portal" sample of the guide "The login flow" (Sources/PHIGuardAuthentication/
// PHIGuardAuthentication.docc/TheLoginFlow.md), compiled and run here: keep the two in step. The
// sample is framework-neutral: a handler gets the session cookie's value (or nil) and returns the
// cookie value to set, `nil` for "leave the cookie alone". PHIGuardHummingbird does this for Hummingbird.
import PHIGuardAccess
import PHIGuardAuthentication
import Testing

// MARK: Guide sample (begin)

/// What a handler answers besides its body: the session cookie to set (nil: leave it as it is).
struct LoginStep {
    var setCookie: String?
    var next: String
}

/// POST /login: password first. Resume the cookie's session so a new sign-in replaces it.
func postLogin(flow: LoginFlow, cookie: String?, name: String, password: String, address: String)
    async throws -> LoginStep
{
    let resumed = try await flow.resume(cookie)
    switch try await flow.signIn(loginName: name, password: password, clientAddress: address, replacing: resumed) {
    case .awaitingSecondFactor(let pending): return LoginStep(setCookie: pending.token.cookieValue, next: "code form")
    case .authenticated(let session): return LoginStep(setCookie: session.token.cookieValue, next: "home")
    }
}

/// POST /login/code: the second factor, only from a session that is waiting for one.
func postLoginCode(flow: LoginFlow, cookie: String?, code: String, address: String) async throws -> LoginStep {
    guard case .awaitingSecondFactor(let pending) = try await flow.resume(cookie) else {
        return LoginStep(setCookie: nil, next: "sign-in form")  // keep the cookie: clearing it is not our call here
    }
    let session = try await flow.verifySecondFactor(pending, .totp(code), clientAddress: address)
    return LoginStep(setCookie: session.token.cookieValue, next: "home")
}

/// GET /chart/{id}: the only way in is a principal from a live, fully signed-in session.
func getChart(flow: LoginFlow, engine: AccessEngine, cookie: String?, chartID: String, patientID: String)
    async throws -> Bool
{
    guard let principal = try await flow.resume(cookie).principal else { return false }  // answer 401
    let decision = engine.decide(principal, .read, Resource(type: "chart", id: chartID, patientID: patientID))
    return decision.isAllowed  // on false, answer as for a missing chart (PHIGuardErrors' AccessDenial)
}

// MARK: Guide sample (end)

@Suite("The login-flow guide's sample")
struct LoginFlowGuideSampleTests {
    @Test("password, then code, then a chart: the sample runs, and a pending session reads nothing")
    func sampleRuns() async throws {
        let harness = try Harness()
        let account = try await harness.addAccount("ada", id: "u-1", patientID: "p-7")
        let first = try await postLogin(
            flow: harness.flow, cookie: nil, name: "ada", password: Harness.password, address: "192.0.2.1")
        #expect(first.next == "code form")
        let pending = try #require(first.setCookie)
        #expect(
            try await getChart(
                flow: harness.flow, engine: harness.engine, cookie: pending, chartID: "c", patientID: "p-7")
                == false)
        let second = try await postLoginCode(
            flow: harness.flow, cookie: pending, code: try harness.code(for: account), address: "192.0.2.1")
        let cookie = try #require(second.setCookie)
        #expect(second.next == "home" && cookie != pending)
        #expect(
            try await getChart(
                flow: harness.flow, engine: harness.engine, cookie: cookie, chartID: "c", patientID: "p-7"))
        #expect(
            try await getChart(
                flow: harness.flow, engine: harness.engine, cookie: cookie, chartID: "c", patientID: "p-8")
                == false)
        #expect(
            try await postLoginCode(flow: harness.flow, cookie: nil, code: "000000", address: "192.0.2.1").next
                == "sign-in form")
    }
}
