internal import Hummingbird
internal import PHIGuardAuthentication
internal import PHIGuardHummingbird
internal import PHIGuardTOTP
internal import PHIGuardTOTPQRCode
internal import PortalCore

/// A TOTP enrolment waiting for its confirmation code, and the login name it is for.
struct PendingEnrollment: Sendable {
    let enrollment: TOTPEnrollment
    let loginName: String
}

struct RegisterNameForm: Decodable {
    let login: String?
}

struct RegisterCompleteForm: Decodable {
    let password: String?
    let code: String?
}

extension WebPortalApp {
    /// `/register` (start), `/register/name`, `/register/enrol` (QR code), `/register/complete`.
    /// A registration session has no principal: every PHI page refuses it (and audits the attempt).
    func addRegistrationRoutes(to group: RouterGroup<BasicPHIGuardRequestContext>) {
        group.get("/register") { _, context in
            var registering = false
            if case .registering = context.phiGuard.session?.current { registering = true }
            return try pages.page("register", anonymousPage("Register", context, ["registering": registering]))
        }
        group.post("/register") { _, context in
            _ = try await context.phiGuard.requireSession().beginRegistration(clientLabel: "WebPortal registration")
            return PageRenderer.seeOther("/register")
        }
        group.post("/register/name") { request, context in
            let handle = try registrationHandle(context)
            let form = try await URLEncodedFormDecoder().decode(RegisterNameForm.self, from: request, context: context)
            guard let name = try? LoginName(try Self.required(form.login, "login")) else {
                throw WebPortalError.invalidForm("login")
            }
            enrollments[handle] = PendingEnrollment(
                enrollment: try portal.newEnrollment(loginName: name.value), loginName: name.value)
            return PageRenderer.seeOther("/register/enrol")
        }
        group.get("/register/enrol") { _, context in
            let handle = try registrationHandle(context)
            guard let enrollment = enrollments[handle]?.enrollment else {
                return PageRenderer.seeOther("/register")
            }
            let uri = try enrollment.uri.revealString()
            let qr = QRCodeSVG.svg(try TerminalQRCode(encoding: uri))
            return try pages.page(
                "register-enrol",
                anonymousPage(
                    "Add your authenticator", context, ["qr": qr, "key": enrollment.totp.secret.revealBase32()]))
        }
        group.post("/register/complete") { request, context in
            let handle = try registrationHandle(context)
            guard let pending = enrollments[handle], let token = token(request) else {
                return PageRenderer.seeOther("/register")
            }
            let form = try await URLEncodedFormDecoder().decode(
                RegisterCompleteForm.self, from: request, context: context)
            try await portal.completeRegistration(
                token: token, loginName: pending.loginName, password: try Self.required(form.password, "password"),
                enrollment: pending.enrollment, code: try Self.required(form.code, "code"),
                clientAddress: context.phiGuard.clientAddress)
            enrollments[handle] = nil
            try await context.phiGuard.requireSession().signOut()
            return try pages.page("register-done", anonymousPage("Registration received", context))
        }
    }

    /// The handle of the request's registration session, or the 401 page.
    func registrationHandle(_ context: BasicPHIGuardRequestContext) throws -> String {
        guard case .registering(let session) = context.phiGuard.session?.current else {
            throw PHIGuardWebError.wrongSessionState
        }
        return session.record.handle
    }
}
