import MetricsTestKit
import PHIGuardErrors
import Testing

@Suite("Security metrics")
struct SecurityMetricsTests {
    @Test("each call increments exactly its counter")
    func increments() throws {
        let testMetrics = TestMetrics()
        let metrics = SecurityMetrics(factory: testMetrics)

        metrics.recordDeniedDecision()
        metrics.recordDeniedDecision()
        metrics.recordFailedLogin(.wrongPassword)
        metrics.recordFailedLogin(.wrongPassword)
        metrics.recordFailedLogin(.unknownAccount)
        metrics.recordLockout()
        metrics.recordBreakGlassGrant()
        metrics.recordBreakGlassGrant()
        metrics.recordBreakGlassGrant()

        #expect(try testMetrics.expectCounter(SecurityMetrics.Label.deniedDecisions).totalValue == 2)
        #expect(
            try testMetrics.expectCounter(SecurityMetrics.Label.failedLogins, [("reason", "wrong_password")]).totalValue
                == 2)
        #expect(
            try testMetrics.expectCounter(SecurityMetrics.Label.failedLogins, [("reason", "unknown_account")])
                .totalValue == 1)
        #expect(
            try testMetrics.expectCounter(SecurityMetrics.Label.failedLogins, [("reason", "account_locked")])
                .totalValue == 0)
        #expect(testMetrics.counterTotal(label: SecurityMetrics.Label.failedLogins) == 3)
        #expect(try testMetrics.expectCounter(SecurityMetrics.Label.lockouts).totalValue == 1)
        #expect(try testMetrics.expectCounter(SecurityMetrics.Label.breakGlassGrants).totalValue == 3)
    }

    @Test("the labels are stable")
    func labels() {
        #expect(SecurityMetrics.Label.deniedDecisions == "phiguard_access_denied_total")
        #expect(SecurityMetrics.Label.failedLogins == "phiguard_login_failures_total")
        #expect(SecurityMetrics.Label.lockouts == "phiguard_account_lockouts_total")
        #expect(SecurityMetrics.Label.breakGlassGrants == "phiguard_break_glass_grants_total")
    }

    @Test("failed-login dimensions are the closed reason set only")
    func boundedDimensions() {
        let testMetrics = TestMetrics()
        _ = SecurityMetrics(factory: testMetrics)
        let reasons = Set(
            testMetrics.counters(label: SecurityMetrics.Label.failedLogins).flatMap { $0.dimensions.map(\.1) })
        #expect(reasons == Set(AuthenticationFailure.Reason.allCases.map(\.rawValue)))
    }
}
