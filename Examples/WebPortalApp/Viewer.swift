internal import Foundation
internal import Hummingbird
internal import PHIGuardAccess
internal import PHIGuardAuthentication
internal import PHIGuardErrors
internal import PHIGuardHummingbird
internal import PortalCore

/// The signed-in user of one request, with what every page's header shows.
struct Viewer {
    /// The session cookie's value (what the portal's operations take).
    let token: String?
    let session: AuthenticatedSession
    let loginName: String
    let csrf: String?
    let grants: [PortalGrant]
    /// Whether the session still has the account's temporary password: it reaches `/password` only.
    var mustChangePassword: Bool { WebPortalApp.mustChangePassword(session) }

    var roles: [String] { session.principal.subject.roles.sorted() }
    var patientID: String? { session.principal.subject.patientID }
    var isStaff: Bool { PortalRoles.isStaff(roles) }

    /// The links the roles may use (the server decides every request again).
    var navigation: [[String: String]] {
        var links: [[String: String]] = []
        // A temporary password reaches nothing but its change: no other link.
        guard !mustChangePassword else { return links }
        let roles = Set(roles)
        if roles.contains("patient") { links.append(["id": "chart", "href": "/chart", "label": "My chart"]) }
        if !roles.isDisjoint(with: WebPortalApp.patientListRoles) {
            links.append(["id": "patients", "href": "/patients", "label": "Patients"])
        }
        if !roles.isDisjoint(with: PortalRoles.breakGlassReviewers) {
            links.append(["id": "review", "href": "/review", "label": "Break-glass review"])
            links.append(["id": "audit", "href": "/audit", "label": "Audit verification"])
        }
        if roles.contains("patient") {
            links.append(["id": "messages", "href": "/messages", "label": "Messages"])
        }
        links.append(["id": "sessions", "href": "/sessions", "label": "Sessions"])
        links.append(["id": "password", "href": "/password", "label": "Change password"])
        links.append(["id": "mfa", "href": "/mfa", "label": "Authenticator"])
        return links
    }

    /// The header's values for a page titled `title`, merged with `values`.
    func page(_ title: String, _ values: [String: Any] = [:]) -> [String: Any] {
        var page: [String: Any] = [
            "title": title, "signedIn": true, "nav": navigation, "hasGrants": !grants.isEmpty,
            "grants": grants.map { grant in
                [
                    "id": grant.id, "patients": grant.patientIDs.joined(separator: ", "),
                    "expires": PageRenderer.time(grant.expiresAt),
                ]
            },
        ]
        if let csrf { page["csrf"] = csrf }
        page.merge(values) { _, new in new }
        return page
    }
}

/// Thrown to send the browser to another page instead of an error (anonymous → sign-in).
struct SignInRedirect: Error {
    let location: String
}

/// Turns ``SignInRedirect`` into `303 See Other`.
struct SignInRedirectMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let redirect as SignInRedirect {
            return PageRenderer.seeOther(redirect.location)
        }
    }
}

/// The web portal's own failures (each a fixed public problem; the detail is logged only).
enum WebPortalError: Error, Sendable, Hashable, PublicErrorMappable {
    /// A page template is missing (a build mistake).
    case missingTemplate
    /// A form value is missing or not acceptable.
    case invalidForm(String)

    var errorMapping: MappedError {
        switch self {
        case .missingTemplate:
            MappedError(.internalError, internalCode: "web_portal.template", logMessage: "page template missing")
        case .invalidForm(let what):
            MappedError(
                .invalidRequest, internalCode: "web_portal.form", logMessage: "form value refused",
                context: ["what": .value(what)])
        }
    }
}

extension WebPortalApp {
    /// Roles whose nav shows the patient list (the policy decides what each may list).
    static let patientListRoles: Set<String> = ["physician", "nurse", "charge-nurse", "front-desk", "billing-clerk"]

    /// Whether `session`'s account still had its temporary password when the session was issued
    /// (`Portal.passwordChangeAttribute`, which sign-in copies into the session): then every page but
    /// `/password` leads there.
    static func mustChangePassword(_ session: AuthenticatedSession) -> Bool {
        session.principal.subject.attributes[Portal.passwordChangeAttribute] != nil
    }

    /// The session cookie's value of `request`.
    func token(_ request: Request) -> String? { web.cookie.value(in: request) }

    /// The signed-in user, or: anonymous → `303 /sign-in`; waiting for the second factor →
    /// `303 /second-factor`; any other session without a principal (registering, recovering) →
    /// the 401 page, and a PHI `attempt` from it is audited as denied. A session that still has the
    /// account's temporary password → `303 /password` (its `attempt` audited as denied by the
    /// portal, reason `password-change-required`), unless `allowingPasswordChange` (the password page).
    func viewer(
        _ request: Request, _ context: BasicPHIGuardRequestContext, attempt: PortalAttempt? = nil,
        allowingPasswordChange: Bool = false
    ) async throws -> Viewer {
        let token = token(request)
        let current = context.phiGuard.session?.current ?? .anonymous
        guard case .authenticated(let session) = current else {
            if case .anonymous = current { throw SignInRedirect(location: "/sign-in") }
            if let attempt {
                // A PHI request from a session without a principal: audited as denied.
                do { _ = try await portal.session(token, attempt: attempt) } catch PortalError.notSignedIn {}
            }
            if case .awaitingSecondFactor = current { throw SignInRedirect(location: "/second-factor") }
            throw PortalError.notSignedIn
        }
        let subject = session.principal.subject
        if !allowingPasswordChange, Self.mustChangePassword(session) {
            if let attempt {
                // The portal refuses and audits the attempt (reason `password-change-required`).
                do { _ = try await portal.session(token, attempt: attempt) } catch PortalError.notPermitted {}
            }
            throw SignInRedirect(location: "/password")
        }
        return Viewer(
            token: token, session: session, loginName: loginNames[subject.id] ?? subject.id,
            csrf: web.csrfToken(for: context), grants: try await portal.activeGrants(in: session))
    }

    /// The header values of a page for a visitor who is not signed in.
    func anonymousPage(_ title: String, _ context: BasicPHIGuardRequestContext, _ values: [String: Any] = [:])
        -> [String: Any]
    {
        var page: [String: Any] = ["title": title]
        if let csrf = web.csrfToken(for: context) { page["csrf"] = csrf }
        page.merge(values) { _, new in new }
        return page
    }

    /// A form field, trimmed; missing or empty is ``WebPortalError/invalidForm(_:)``.
    static func required(_ value: String?, _ name: String) throws -> String {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
            throw WebPortalError.invalidForm(name)
        }
        return value
    }
}
