import InMemoryLogging
import Logging
import PHIGuardAccess
import PHIGuardAuthentication
import PHIGuardErrors
import PHIGuardRateLimit
import Testing

@Suite("Response headers on public errors")
struct HeadersTests {
    @Test(
        "the 429 from tryLater carries Retry-After in whole seconds, rounded up",
        arguments: [
            (Duration.seconds(30), "30"), (.milliseconds(1_500), "2"), (.nanoseconds(1), "1"), (.zero, "0"),
            (.seconds(-5), "0"), (.seconds(3_600), "3600"),
        ])
    func retryAfter(delay: Duration, expected: String) {
        let capture = CapturingReporter()
        let failure = capture.reporter.report(AuthenticationError.tryLater(retryAfter: delay))
        #expect(failure.status == 429)
        #expect(failure.problem == .rateLimited)
        #expect(failure.headers == [.retryAfter(delay)])
        #expect(failure.headers.map(\.name) == ["Retry-After"])
        #expect(failure.headers.map(\.value) == [expected])
    }

    @Test("a refused rate-limit decision is a 429 with Retry-After")
    func rateLimitExceeded() {
        let capture = CapturingReporter()
        let failure = capture.reporter.report(RateLimitExceeded(retryAfter: .milliseconds(200), refusedBy: ["api"]))
        #expect(failure.status == 429)
        #expect(failure.headers.map(\.description) == ["Retry-After: 1"])
    }

    @Test("a 401 carries WWW-Authenticate with the configured, neutral challenge")
    func wwwAuthenticate() {
        let capture = CapturingReporter()
        for failure in [
            capture.reporter.report(AuthenticationError.rejected),
            capture.reporter.report(AuthenticationError.sessionEnded),
            capture.reporter.reportAuthenticationFailure(AuthenticationError.tryLater(retryAfter: .seconds(9))),
            capture.reporter.reportAuthenticationFailure(ResourceNotFound(resourceType: "Account")),
        ] {
            #expect(failure.status == 401)
            // During sign-in the throttle's Retry-After is dropped: every failure is byte-identical.
            #expect(failure.headers.map(\.description) == [#"WWW-Authenticate: Session realm="phiguard""#])
        }
        #expect(capture.reporter.report(AccessDenial(action: "export")).headers.isEmpty)
        #expect(capture.reporter.report(ResourceNotFound(resourceType: "Note")).headers.isEmpty)
    }

    @Test("the challenge is configurable, can be turned off, and cannot split the header block")
    func challengeConfiguration() {
        let bearer = CapturingReporter(configuration: .init(authenticationChallenge: #"Bearer realm="api""#))
        #expect(bearer.reporter.report(AuthenticationError.rejected).headers.map(\.value) == [#"Bearer realm="api""#])
        let none = CapturingReporter(configuration: .init(authenticationChallenge: nil))
        #expect(none.reporter.report(AuthenticationError.rejected).headers.isEmpty)
        let injected = CapturingReporter(
            configuration: .init(authenticationChallenge: "Session\r\nSet-Cookie: x=1\u{0}é"))
        let value = injected.reporter.report(AuthenticationError.rejected).headers.first?.value
        #expect(value == "SessionSet-Cookie: x=1")
    }

    @Test("a re-reported public error keeps its headers")
    func reReport() {
        let capture = CapturingReporter()
        let first = capture.reporter.report(AuthenticationError.tryLater(retryAfter: .seconds(4)))
        #expect(capture.reporter.report(first).headers == first.headers)
    }
}

@Suite("PHIGuardAccess errors")
struct AccessErrorMappingTests {
    @Test("break-glass refusals are fixed 403 / 422 / 400 problems")
    func breakGlass() {
        let capture = CapturingReporter()
        #expect(capture.reporter.report(BreakGlassError.notPermitted).problem == .breakGlassRefused)
        #expect(capture.reporter.report(BreakGlassError.notPermitted).status == 403)
        #expect(capture.reporter.report(BreakGlassError.missingJustification).problem == .justificationRequired)
        #expect(capture.reporter.report(BreakGlassError.justificationTooLong).status == 422)
        #expect(capture.reporter.report(BreakGlassError.invalidDuration).problem == .invalidRequest)
        #expect(
            capture.reporter.report(AccessRequestDocument.Problem.breakGlass(.notPermitted)).problem
                == .breakGlassRefused)
    }

    @Test("a policy that does not load is a bare 500; the log has its issues")
    func policyLoad() throws {
        let capture = CapturingReporter()
        let id = CorrelationID()
        let yaml = "version: 1\nroles:\n  - name: nurse\nrules:\n  - id: r\n    effect: allow\n    roles: [ghost]\n"
        var thrown: PolicyValidationError?
        do { _ = try CompiledPolicy(yaml: yaml) } catch { thrown = error }
        let error = try #require(thrown)
        let failure = capture.reporter.report(error, correlationID: id)
        #expect(failure.problem == .internalError)
        #expect(!failure.problemJSON.contains("ghost"))
        #expect(!failure.problemJSON.contains("nurse"))
        let entry = try #require(capture.entries(for: id).first)
        #expect(entry.metadata["error.internal_code"] == "access.policy_invalid")
        let logText = try #require(capture.logText(for: id))
        #expect(logText.contains("issue_count=\(error.issues.count)"))
        #expect(logText.contains(try #require(error.issues.first).description))
    }
}
