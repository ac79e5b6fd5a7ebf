public import PHIGuardAccess
public import PHIGuardAuthentication
internal import PHIGuardCrypto

/// The session of one request: its typed state, the principal, and the sign-in steps.
///
/// ``SessionMiddleware`` makes one per request from the session cookie (through
/// `LoginFlow.resume`) and, after the handler, writes what the steps decided: the rotated token on
/// every change of state, a deleted cookie only when the session is really gone (signed out,
/// ended, or the cookie's token no longer names a session). A refusal such as "sign in first" or a
/// wrong code leaves the cookie alone: a session waiting for its second factor stays usable for
/// the next attempt.
///
/// ```swift
/// router.post("/login") { request, context in
///     let form = try await request.decode(as: LoginForm.self, context: context)
///     switch try await context.phiGuard.session!.signIn(loginName: form.name, password: form.password) {
///     case .awaitingSecondFactor: return Response.redirect(to: "/login/code", type: .found)
///     case .authenticated: return Response.redirect(to: "/", type: .found)
///     }
/// }
/// ```
public final class PHIGuardSession: Sendable {
    /// What the middleware does with the cookie after the handler.
    enum CookieAction: Sendable {
        /// Leave it.
        case keep
        /// Send this token (a new state, a rotated token).
        case set(String)
        /// Delete it: the session is gone.
        case clear
    }

    struct State: Sendable {
        var resumed: ResumedSession
        var cookie: CookieAction
    }

    let flow: LoginFlow
    /// The address the flow's rate limits and lockout count under.
    public let clientAddress: String
    /// Whether the request's method may change state (not GET, HEAD, OPTIONS or TRACE).
    let mayChangeState: Bool
    private let state: Locked<State>

    init(flow: LoginFlow, resumed: ResumedSession, clientAddress: String, mayChangeState: Bool, cookie: CookieAction) {
        self.flow = flow
        self.clientAddress = clientAddress
        self.mayChangeState = mayChangeState
        state = Locked(State(resumed: resumed, cookie: cookie))
    }

    /// The session as it stands now (after any step taken in this request).
    public var current: ResumedSession { state.withLock { $0.resumed } }

    /// The signed-in principal, or `nil` in every other state.
    public var principal: AuthenticatedPrincipal? { current.principal }

    /// The stable public handle of the session (`s-…`), or `nil` when anonymous. It names the session in
    /// audit records and binds the form token (``CSRFProtection``).
    public var handle: String? {
        switch current {
        case .anonymous: nil
        case .registering(let session): session.record.handle
        case .recovering(let session): session.record.handle
        case .awaitingSecondFactor(let session): session.record.handle
        case .authenticated(let session): session.record.handle
        }
    }

    var cookieAction: CookieAction { state.withLock { $0.cookie } }

    private func requireStateChange() throws(PHIGuardWebError) {
        guard mayChangeState else { throw .stateChangeOnSafeMethod }
    }

    /// The password step: replaces whatever session the request had (session fixation dies here)
    /// and sends the new token. Errors are the flow's (`AuthenticationError`); the cookie is kept on
    /// failure.
    public func signIn(loginName: String, password: String, clientLabel: String? = nil) async throws -> SignInProgress {
        try requireStateChange()
        let progress = try await flow.signIn(
            loginName: loginName, password: password, clientAddress: clientAddress, clientLabel: clientLabel,
            replacing: current)
        switch progress {
        case .awaitingSecondFactor(let pending): adopt(.awaitingSecondFactor(pending), token: pending.token)
        case .authenticated(let session): adopt(.authenticated(session), token: session.token)
        }
        return progress
    }

    /// The second-factor step, only from a session waiting for one (otherwise
    /// ``PHIGuardWebError/wrongSessionState``, cookie kept). A wrong code keeps the pending session and
    /// its cookie; a pending session that expired or was used already (`sessionEnded`) is gone, and
    /// its cookie is deleted.
    public func verifySecondFactor(_ factor: SecondFactor) async throws -> AuthenticatedSession {
        try requireStateChange()
        guard case .awaitingSecondFactor(let pending) = current else { throw PHIGuardWebError.wrongSessionState }
        do {
            let session = try await flow.verifySecondFactor(pending, factor, clientAddress: clientAddress)
            adopt(.authenticated(session), token: session.token)
            return session
        } catch .sessionEnded {
            ended()
            throw AuthenticationError.sessionEnded
        }
    }

    /// Starts a self-registration: replaces whatever session the request had with a registration
    /// session (no principal, so it reaches no guarded route) and sends its token. Complete it with
    /// `LoginFlow.completeRegistration`, then call ``ended()``.
    public func beginRegistration(clientLabel: String? = nil) async throws -> RegistrationSession {
        try requireStateChange()
        let session = try await flow.beginRegistration(clientLabel: clientLabel, replacing: current)
        adopt(.registering(session), token: session.token)
        return session
    }

    /// Signs out (or abandons a registration or recovery): the stored session is removed and the
    /// cookie deleted. Without a session, only the cookie is deleted.
    public func signOut() async throws {
        try requireStateChange()
        try await flow.end(current)
        ended()
    }

    /// Records a session your code obtained from the flow in this request (`stepUp`,
    /// `changePassword`, `accountPrivilegesChanged`): its new token is sent.
    public func adopt(_ session: AuthenticatedSession) {
        adopt(.authenticated(session), token: session.token)
    }

    /// Records that the session is gone (your code ended it through the flow): the cookie is deleted.
    public func ended() {
        state.withLock {
            $0.resumed = .anonymous
            $0.cookie = .clear
        }
    }

    private func adopt(_ resumed: ResumedSession, token: SessionToken) {
        let value = token.cookieValue
        state.withLock {
            $0.resumed = resumed
            $0.cookie = .set(value)
        }
    }
}
