import Hummingbird
import PHIGuardAuthentication
import PHIGuardHummingbird
import PHIGuardRateLimit
import PHIGuardRecords

// The guarded app: PHIGuard's middleware stack, sign-in with password then TOTP, sign-out, and the
// charts through `GuardedRecordRoutes`. The PHIGuardHummingbird article "A complete app" shows this file.

struct LoginForm: Decodable {
    let name: String
    let password: String
}

struct CodeForm: Decodable {
    let code: String
}

/// The router of the guarded app.
func guardedRouter(
    services: QuickstartServices, perAccountLimit: RateLimit
) throws -> Router<BasicPHIGuardRequestContext> {
    let web = try PHIGuardWeb(flow: services.flow)
    let router = Router(context: BasicPHIGuardRequestContext.self)
    web.install(on: router)

    // Browser pages: errors are HTML pages.
    let pages = router.group().add(middleware: ProblemMiddleware(format: .html))
    pages.get("/") { _, context in
        Page.html(Page.home(session: context.phiGuard.session, token: web.csrfToken(for: context)))
    }
    pages.post("/login") { request, context in
        let form = try await URLEncodedFormDecoder().decode(LoginForm.self, from: request, context: context)
        let session = try context.phiGuard.requireSession()
        switch try await session.signIn(loginName: form.name, password: form.password) {
        case .awaitingSecondFactor: return Response.redirect(to: "/login/code", type: .found)
        case .authenticated: return Response.redirect(to: "/", type: .found)
        }
    }
    pages.get("/login/code") { _, context in
        Page.html(Page.codeForm(token: web.csrfToken(for: context)))
    }
    pages.post("/login/code") { request, context in
        let form = try await URLEncodedFormDecoder().decode(CodeForm.self, from: request, context: context)
        _ = try await context.phiGuard.requireSession().verifySecondFactor(.totp(form.code))
        return Response.redirect(to: "/", type: .found)
    }
    pages.post("/logout") { _, context in
        try await context.phiGuard.requireSession().signOut()
        return Response.redirect(to: "/", type: .found)
    }

    // The JSON API: GET /api/charts, GET /api/charts/{id}, PATCH /api/charts/{id}; rate-limited per account.
    let api = router.group("api/charts").add(
        middleware: RateLimitMiddleware(
            limiter: RateLimiter(store: try InMemoryRateLimitStore()), perAddress: nil, perAccount: perAccountLimit,
            global: nil))
    GuardedRecordRoutes(records: services.charts, emergency: services.emergency).register(on: api)
    return router
}
