public import Hummingbird
internal import PHIGuardAuthentication
internal import PHIGuardCrypto
public import PHIGuardHummingbird
internal import PHIGuardTOTP
internal import PortalAPI
public import PortalCore

/// The patient portal as a server-rendered web app over a ``PortalCore/Portal``: sign-in with a
/// password then TOTP, my chart, the staff patient list and search, chart updates, break-glass with
/// a banner while active, the auditor's break-glass review and audit verification, sessions,
/// sign-out, self-registration, password change, authenticator enrolment, clinical notes and
/// messages. No JavaScript; every error is PHIGuardHummingbird's HTML problem
/// page (one generic line and a reference); every page is `no-store`.
///
/// ```swift
/// let app = try WebPortalApp(portal: portal)
/// let server = Application(router: app.router(), configuration: .init(address: .hostname("127.0.0.1", port: 8080)))
/// try await server.runService()
/// ```
public struct WebPortalApp: Sendable {
    /// The service layer.
    public let portal: Portal
    /// PHIGuard's middleware stack (security headers, client address, session cookie, problems, CSRF).
    public let web: PHIGuardWeb
    let pages: PageRenderer
    /// Account id → login name, learned at the password step (the account directory does not give
    /// names back); a session whose name is unknown here shows its account id.
    let loginNames = BoundedMap<String>(capacity: 10_000)
    /// Registration session handle → the TOTP enrolment it is confirming.
    let enrollments = BoundedMap<PendingEnrollment>(capacity: 1_000)
    /// Signed-in session handle → the new authenticator it is confirming (`/mfa`).
    let authenticatorEnrollments = BoundedMap<TOTPEnrollment>(capacity: 1_000)

    /// The app over `portal`; `web` is PHIGuard's stack over the portal's login flow by default.
    public init(portal: Portal, web: PHIGuardWeb? = nil) throws {
        self.portal = portal
        self.web = try web ?? PHIGuardWeb(flow: portal.flow)
        self.pages = try PageRenderer()
    }

    /// The router: PHIGuard's middleware, then the pages (errors rendered as HTML).
    public func router() -> Router<BasicPHIGuardRequestContext> {
        let router = Router(context: BasicPHIGuardRequestContext.self)
        web.install(on: router)
        // The same operations as JSON under /api (problem+json errors; see Examples/PortalAPI/openapi.yaml).
        PortalAPI.register(on: router.group("api"), portal: portal, web: web)
        let group = router.group().add(middleware: ProblemMiddleware(responder: web.problems, format: .html))
            .add(middleware: SignInRedirectMiddleware())
        addSignInRoutes(to: group)
        addRecordRoutes(to: group)
        addOversightRoutes(to: group)
        addRegistrationRoutes(to: group)
        addAccountRoutes(to: group)
        addMessageRoutes(to: group)
        return router
    }
}

/// A small map that forgets everything when full (so no client can grow it without bound).
final class BoundedMap<Value: Sendable>: Sendable {
    private let entries = Locked<[String: Value]>([:])
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    subscript(key: String) -> Value? {
        get { entries.withLock { $0[key] } }
        set {
            entries.withLock { entries in
                if newValue != nil, entries[key] == nil, entries.count >= capacity { entries.removeAll() }
                entries[key] = newValue
            }
        }
    }
}
