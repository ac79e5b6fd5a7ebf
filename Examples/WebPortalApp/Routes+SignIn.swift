internal import HTTPTypes
internal import Hummingbird
internal import Logging
internal import PHIGuardAccess
internal import PHIGuardAuthentication
internal import PHIGuardErrors
internal import PHIGuardHummingbird
internal import PortalCore

struct SignInForm: Decodable {
    let login: String?
    let password: String?
}

struct CodeForm: Decodable {
    let code: String?
}

extension WebPortalApp {
    /// `/`, `/sign-in`, `/second-factor`, `/home`, `/sign-out`.
    func addSignInRoutes(to group: RouterGroup<BasicPHIGuardRequestContext>) {
        group.get("/") { _, context in
            PageRenderer.seeOther(context.phiGuard.principal == nil ? "/sign-in" : "/home")
        }
        group.get("/sign-in") { _, context in
            try pages.page("sign-in", anonymousPage("Sign in", context))
        }
        group.post("/sign-in") { request, context in
            let session = try context.phiGuard.requireSession()
            do {
                let form = try await URLEncodedFormDecoder().decode(SignInForm.self, from: request, context: context)
                let login = try Self.required(form.login, "login")
                let progress = try await session.signIn(
                    loginName: login, password: form.password ?? "", clientLabel: "WebPortal")
                switch progress {
                case .awaitingSecondFactor(let pending):
                    if let accountID = pending.record.accountID { loginNames[accountID] = login }
                    return PageRenderer.seeOther("/second-factor")
                case .authenticated(let signedIn):
                    loginNames[signedIn.principal.subject.id] = login
                    return PageRenderer.seeOther(Self.landing(signedIn))
                }
            } catch {
                return try failedSignIn(error, "sign-in", "Sign in", context)
            }
        }
        group.get("/second-factor") { _, context in
            guard case .awaitingSecondFactor = context.phiGuard.session?.current else {
                return PageRenderer.seeOther(context.phiGuard.principal == nil ? "/sign-in" : "/home")
            }
            return try pages.page("second-factor", anonymousPage("Authenticator code", context))
        }
        group.post("/second-factor") { request, context in
            let session = try context.phiGuard.requireSession()
            do {
                let form = try await URLEncodedFormDecoder().decode(CodeForm.self, from: request, context: context)
                let code = try Self.required(form.code, "code")
                let factor: SecondFactor =
                    code.allSatisfy { $0.isASCII && $0.isNumber } ? .totp(code) : .recoveryCode(code)
                let signedIn = try await session.verifySecondFactor(factor)
                return PageRenderer.seeOther(Self.landing(signedIn))
            } catch {
                return try failedSignIn(error, "second-factor", "Authenticator code", context)
            }
        }
        group.get("/home") { request, context in
            let viewer = try await viewer(request, context)
            let principal = viewer.session.principal
            return try pages.page(
                "home",
                viewer.page(
                    "Home",
                    [
                        "login": viewer.loginName,
                        "roles": viewer.roles.isEmpty ? "none" : viewer.roles.joined(separator: ", "),
                        "handle": viewer.session.record.handle, "strength": principal.strength.rawValue,
                        "expires": PageRenderer.time(principal.validUntil),
                    ]))
        }
        group.post("/sign-out") { _, context in
            try await context.phiGuard.requireSession().signOut()
            return PageRenderer.seeOther("/sign-in")
        }
    }

    /// Where a new session goes first: `/password` while the account has its temporary password,
    /// else `/home`.
    static func landing(_ session: AuthenticatedSession) -> String {
        mustChangePassword(session) ? "/password" : "/home"
    }

    /// The sign-in page again with one generic line and a reference, whatever went wrong (the log
    /// has the reason; nothing tells whether the account exists).
    func failedSignIn(
        _ error: any Error, _ template: String, _ title: String, _ context: BasicPHIGuardRequestContext
    ) throws -> Response {
        try failedForm(error, template, anonymousPage(title, context), context)
    }

    /// The form page `template` (its header `values`) again with the authentication failure's one
    /// generic line, its reference, status and headers (`Retry-After` when throttled).
    func failedForm(
        _ error: any Error, _ template: String, _ values: [String: Any], _ context: BasicPHIGuardRequestContext
    ) throws -> Response {
        let correlationID =
            context.logger[metadataKey: "hb.request.id"].flatMap { CorrelationID($0.description) } ?? CorrelationID()
        let failure = web.problems.reporter.reportAuthenticationFailure(
            error, correlationID: correlationID, logger: context.logger)
        var page = values
        page["error"] = failure.problem.detail
        page["reference"] = failure.correlationID.rawValue
        var response = try pages.page(template, page, status: HTTPResponse.Status(code: failure.status))
        for header in failure.headers {
            if let name = HTTPField.Name(header.name) { response.headers[name] = header.value }
        }
        return response
    }
}
