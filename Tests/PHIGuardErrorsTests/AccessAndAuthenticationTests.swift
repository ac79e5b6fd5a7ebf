import InMemoryLogging
import Logging
import PHIGuardAuthentication
import PHIGuardErrors
import PHIGuardPasswords
import PHIGuardRateLimit
import Testing

@Suite("Uniform authentication failure and the 403/404 switch")
struct AccessAndAuthenticationTests {
    @Test("every authentication failure renders identically; the log tells them apart")
    func uniformAuthentication() throws {
        let capture = CapturingReporter()
        let id = try #require(CorrelationID("fixed-id"))
        let expected = capture.reporter.report(AuthenticationError.rejected, correlationID: id)
        #expect(expected.status == 401)
        #expect(expected.problem == .authenticationFailed)

        var rendered: [PublicError] = [AuthenticationError.rejected, .sessionEnded].map {
            capture.reporter.report($0, correlationID: id)
        }
        // Errors thrown while signing in, whatever their own mapping says.
        let duringSignIn: [any Error] = [
            AuthenticationError.rejected, AuthenticationError.tryLater(retryAfter: .seconds(30)),
            AuthenticationError.unavailable, PasswordHashingError.emptyPassword,
            PasswordHashingError.passwordTooLong(maximumUTF8Bytes: 1024),
            PasswordHashingError.malformedHash(.structure), PasswordHashingError.unknownPepper(id: "old"),
            PasswordHashingError.overloaded, ResourceNotFound(resourceType: "Account", id: "alice"),
            AccessDenial(action: "login"), PlantedError(),
        ]
        rendered += duringSignIn.map { capture.reporter.reportAuthenticationFailure($0, correlationID: id) }
        for failure in rendered {
            #expect(failure == expected)
            #expect(failure.problemJSON == expected.problemJSON)
            #expect(failure.cliMessage == expected.cliMessage)
            #expect(failure.headers == expected.headers)
        }

        let internalCodes = capture.entries(for: id).compactMap { $0.metadata["error.internal_code"] }
        #expect(internalCodes.contains("auth.rejected"))
        #expect(internalCodes.contains("auth.session_ended"))
        #expect(internalCodes.contains("auth.try_later"))
        #expect(internalCodes.contains("auth.unavailable"))
        #expect(internalCodes.contains("password.malformed_hash"))
        #expect(internalCodes.contains("resource.not_found"))
        #expect(internalCodes.contains("unmapped"))
        // A server fault during sign-in is shown as 401 but logged as an error.
        let malformed = try #require(
            capture.entries(for: id).first { $0.metadata["error.internal_code"] == "password.malformed_hash" })
        #expect(malformed.level == .error)
        #expect(malformed.metadata["error.code"] == "authentication_failed")
        let rejected = try #require(
            capture.entries(for: id).first { $0.metadata["error.internal_code"] == "auth.rejected" })
        #expect(rejected.level == .notice)
    }

    @Test("outside sign-in, password input errors are 422 and overload is 503")
    func passwordMappingOutsideSignIn() {
        let capture = CapturingReporter()
        #expect(capture.reporter.report(PasswordHashingError.emptyPassword).problem == .passwordNotAccepted)
        #expect(capture.reporter.report(PasswordHashingError.overloaded).status == 503)
        #expect(capture.reporter.report(PasswordHashingError.cancelled).status == 503)
        #expect(capture.reporter.report(PasswordHashingError.argon2Failure(code: -1, message: "x")).status == 500)
    }

    @Test("a rate-limit store outage is 503; bad limits are 500")
    func rateLimitMapping() {
        let capture = CapturingReporter()
        #expect(capture.reporter.report(RateLimitError.storeUnavailable("down")).problem == .serviceUnavailable)
        #expect(capture.reporter.report(RateLimitError.invalidLimit("x")).problem == .internalError)
        #expect(capture.reporter.report(RateLimitError.invalidCheck("x")).problem == .internalError)
    }

    @Test("under .notFound a denied resource is byte-identical to a missing one")
    func hiddenDenial() throws {
        let capture = CapturingReporter(configuration: .init(resourceDenial: .notFound))
        let id = try #require(CorrelationID("same"))
        let denied = capture.reporter.report(
            AccessDenial(resourceType: "Patient", id: "p-7", decidingRules: ["care-team-only"]), correlationID: id)
        let missing = capture.reporter.report(ResourceNotFound(resourceType: "Patient", id: "p-8"), correlationID: id)
        #expect(denied.status == 404)
        #expect(denied == missing)
        #expect(denied.problemJSON == missing.problemJSON)
        #expect(denied.cliMessage == missing.cliMessage)
        // The log keeps the truth.
        let entries = capture.entries(for: id)
        #expect(entries.map { $0.metadata["error.internal_code"] } == ["access.denied_resource", "resource.not_found"])
        let context = try #require(entries.first?.metadata["error.context"])
        #expect(
            context
                == .dictionary(["resource_type": "Patient", "resource_id": "p-7", "deciding_rules": "care-team-only"]))
    }

    @Test("under .forbidden a denied resource is 403 and a missing one 404")
    func honestDenial() {
        let capture = CapturingReporter(configuration: .init(resourceDenial: .forbidden))
        let denied = capture.reporter.report(AccessDenial(resourceType: "Patient", id: "p-7"))
        let missing = capture.reporter.report(ResourceNotFound(resourceType: "Patient", id: "p-8"))
        #expect(denied.problem == .accessDenied)
        #expect(denied.status == 403)
        #expect(missing.problem == .notFound)
        #expect(missing.status == 404)
    }

    @Test("a denied action is 403 under either policy", arguments: [ResourceDenialPolicy.forbidden, .notFound])
    func deniedAction(policy: ResourceDenialPolicy) {
        let capture = CapturingReporter(configuration: .init(resourceDenial: policy))
        #expect(capture.reporter.report(AccessDenial(action: "policy.reload")).problem == .accessDenied)
    }

    @Test("the default policy hides existence")
    func defaultPolicy() {
        #expect(ErrorReporter.Configuration().resourceDenial == .notFound)
    }
}
