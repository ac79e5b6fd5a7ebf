internal import Hummingbird
internal import PHIGuardAuthentication
internal import PHIGuardErrors
internal import PHIGuardHummingbird
internal import PHIGuardPasswords
internal import PortalCore

struct PasswordChangeForm: Decodable {
    let current: String?
    let new: String?
}

extension WebPortalApp {
    /// `/password`: the signed-in user's password change, the one page a session with a temporary
    /// password (`staff add`) reaches.
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
    }

    /// The password page's values (a notice while the temporary password must be replaced).
    func passwordPage(_ viewer: Viewer, _ values: [String: Any] = [:]) -> [String: Any] {
        var page = viewer.page("Change password", ["required": viewer.mustChangePassword])
        page.merge(values) { _, new in new }
        return page
    }

}
