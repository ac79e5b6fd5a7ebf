internal import Hummingbird
internal import PHIGuardAuthentication
internal import PHIGuardErrors
internal import PHIGuardHummingbird
internal import PHIGuardPasswords
internal import PHIGuardTOTP
internal import PHIGuardTOTPQRCode
internal import PortalCore

struct PasswordChangeForm: Decodable {
    let current: String?
    let new: String?
}

extension WebPortalApp {
    /// `/password`: the signed-in user's password change, the one page a session with a temporary
    /// password (`staff add`) reaches. `/mfa`: a new TOTP authenticator (QR code, then a code from it).
    func addAccountRoutes(to group: RouterGroup<BasicPHIGuardRequestContext>) {
        group.get("/password") { request, context in
            let viewer = try await viewer(request, context, allowingPasswordChange: true)
            return try pages.page("password", passwordPage(viewer))
        }
        group.post("/password") { request, context in
            let viewer = try await viewer(request, context, allowingPasswordChange: true)
            let session = try context.phiGuard.requireSession()
            do {
                let form = try await URLEncodedFormDecoder().decode(
                    PasswordChangeForm.self, from: request, context: context)
                // Copied once into guarded memory (wiped when released).
                let current = try PasswordSecret(form.current ?? "")
                let new = try PasswordSecret(try Self.required(form.new, "new password"))
                let token = try await portal.changePassword(
                    token: viewer.token, current: current, new: new, clientAddress: context.phiGuard.clientAddress)
                // The portal rotated the session: send its new token as the cookie.
                guard case .authenticated(let rotated) = try await portal.flow.resume(token) else {
                    throw AuthenticationError.sessionEnded
                }
                session.adopt(rotated)
                return PageRenderer.seeOther("/home")
            } catch AuthenticationError.sessionEnded {
                session.ended()
                throw AuthenticationError.sessionEnded
            } catch {
                // One generic line and a reference (the log has the reason: a wrong current
                // password, a new one the policy refuses, a throttled account).
                return try failedForm(error, "password", passwordPage(viewer), context)
            }
        }
        group.get("/mfa") { request, context in
            let viewer = try await viewer(request, context)
            let handle = viewer.session.record.handle
            // The same pending authenticator on every visit until it is confirmed (a reload after
            // scanning must not change the secret).
            let enrollment: TOTPEnrollment
            if let pending = authenticatorEnrollments[handle] {
                enrollment = pending
            } else {
                enrollment = try await portal.beginSecondFactorEnrollment(token: viewer.token)
                authenticatorEnrollments[handle] = enrollment
            }
            return try pages.page("mfa", try mfaPage(viewer, enrollment))
        }
        group.post("/mfa") { request, context in
            let viewer = try await viewer(request, context)
            let handle = viewer.session.record.handle
            guard let pending = authenticatorEnrollments[handle] else { return PageRenderer.seeOther("/mfa") }
            do {
                let form = try await URLEncodedFormDecoder().decode(CodeForm.self, from: request, context: context)
                try await portal.confirmSecondFactorEnrollment(
                    token: viewer.token, pending: pending, code: try Self.required(form.code, "code"))
                authenticatorEnrollments[handle] = nil
                return try pages.page("mfa-done", viewer.page("Authenticator added"))
            } catch {
                return try failedForm(error, "mfa", try mfaPage(viewer, pending), context)
            }
        }
    }

    /// The enrolment page's values: the QR code as inline SVG and the key for typing by hand.
    func mfaPage(_ viewer: Viewer, _ enrollment: TOTPEnrollment) throws -> [String: Any] {
        let qr = QRCodeSVG.svg(try TerminalQRCode(encoding: try enrollment.uri.revealString()))
        return viewer.page("Add an authenticator", ["qr": qr, "key": enrollment.totp.secret.revealBase32()])
    }

    /// The password page's values (a notice while the temporary password must be replaced).
    func passwordPage(_ viewer: Viewer, _ values: [String: Any] = [:]) -> [String: Any] {
        var page = viewer.page("Change password", ["required": viewer.mustChangePassword])
        page.merge(values) { _, new in new }
        return page
    }
}
