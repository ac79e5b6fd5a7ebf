import Foundation
import MetricsTestKit
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardRateLimit
import PHIGuardTesting
import Synchronization
import Testing

/// The security counters, read through a test metrics backend after real events: a failed
/// sign-in and a lockout (the login flow), a denied decision and a break-glass grant (the access
/// engine), an append to a sink that throws and a broken verification (the audit log).
@Suite("Security counters are incremented where the events happen")
struct SecurityMetricsTests {
    static let breakGlassPolicy = """
        version: 1
        resourceTypes:
          - name: chart
            fields: [demographics, medications]
            actions: [read]
        roles:
          - name: patient
          - name: physician
        rules:
          - id: patient-reads-own-chart
            effect: allow
            roles: [patient]
            actions: [read]
            resourceTypes: [chart]
            when: { relationship: self }
        breakGlass:
          roles: [physician]
          maxDuration: 4h
          grants:
            - actions: [read]
              resourceTypes: [chart]
        """

    @Test("failed sign-ins are counted by reason, and a lockout once")
    func failedSignIns() async throws {
        let metrics = TestMetrics()
        let harness = try Harness(
            lockout: try LockoutPolicy(freeFailures: 2, maximumConsecutiveFailures: 3, lockoutDuration: .seconds(600)),
            rateLimits: LoginFlow.RateLimits(perAddress: nil, global: nil), metrics: metrics)
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        _ = try await harness.signIn("pat@example.org", account)
        #expect(metrics.counterTotal(label: LoginMetricLabel.failedSignIns) == 0)

        await #expect(throws: AuthenticationError.rejected) {
            _ = try await harness.flow.signIn(
                loginName: "nobody@example.org", password: "x", clientAddress: "198.51.100.7")
        }
        for _ in 0..<3 {
            await #expect(throws: AuthenticationError.rejected) {
                _ = try await harness.flow.signIn(
                    loginName: "pat@example.org", password: "wrong", clientAddress: "203.0.113.5")
            }
        }

        let failures = LoginMetricLabel.failedSignIns
        #expect(try metrics.expectCounter(failures, [("reason", "unknown-account")]).totalValue == 1)
        #expect(try metrics.expectCounter(failures, [("reason", "wrong-password")]).totalValue == 3)
        #expect(metrics.counterTotal(label: failures) == 4)
        #expect(try metrics.expectCounter(LoginMetricLabel.lockouts).totalValue == 1)
        // Bounded: one series per AuthenticationFailureReason, nothing else (no name, id or address).
        let reasons = metrics.counters(label: failures).flatMap { $0.dimensions.map { "\($0.0)=\($0.1)" } }
        #expect(Set(reasons) == Set(AuthenticationFailureReason.allCases.map { "reason=\($0.rawValue)" }))
    }

    @Test("a denied decision is counted by reason; an allowed one is not")
    func deniedDecision() async throws {
        let metrics = TestMetrics()
        let harness = try Harness(metrics: metrics)
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat", patientID: "p-7")
        let session = try await harness.signIn("pat@example.org", account)

        let own = harness.engine.decide(session.principal, .read, Resource(type: "chart", id: "c-7", patientID: "p-7"))
        #expect(own.isAllowed)
        #expect(metrics.counterTotal(label: AccessMetricLabel.deniedDecisions) == 0)

        let other = harness.engine.decide(
            session.principal, .read, Resource(type: "chart", id: "c-8", patientID: "p-8"))
        #expect(!other.isAllowed)
        #expect(
            try metrics.expectCounter(AccessMetricLabel.deniedDecisions, [("reason", other.reason.rawValue)])
                .totalValue == 1)
        #expect(metrics.counterTotal(label: AccessMetricLabel.deniedDecisions) == 1)
    }

    @Test("a break-glass grant is counted by category; a refused one is not")
    func breakGlassGrant() async throws {
        let metrics = TestMetrics()
        let harness = try Harness(metrics: metrics)
        let engine = AccessEngine(
            policy: try CompiledPolicy(yaml: Self.breakGlassPolicy), clock: harness.clock, metrics: metrics)
        let doctor = try await harness.addAccount("dr@example.org", id: "acct-dr", roles: ["physician"], patientID: nil)
        let patient = try await harness.addAccount("pat@example.org", id: "acct-pat", patientID: "p-7")
        let doctorSession = try await harness.signIn("dr@example.org", doctor)
        let patientSession = try await harness.signIn("pat@example.org", patient)
        let reason = BreakGlassReason(category: .emergencyTreatment, justification: "unresponsive in ED")

        #expect(throws: BreakGlassError.notPermitted) {
            _ = try engine.breakGlass(
                for: patientSession.principal, scope: BreakGlassScope(patient: "p-9"), reason: reason)
        }
        #expect(metrics.counterTotal(label: AccessMetricLabel.breakGlassGrants) == 0)

        let grant = try engine.breakGlass(
            for: doctorSession.principal, scope: BreakGlassScope(patient: "p-9"), reason: reason)
        #expect(
            try metrics.expectCounter(AccessMetricLabel.breakGlassGrants, [("category", "ETREAT")])
                .totalValue == 1)
        let decision = engine.decide(
            doctorSession.principal, .read, Resource(type: "chart", id: "c-9", patientID: "p-9"), breakGlass: grant)
        #expect(decision.reason == .allowedByBreakGlass)
        #expect(metrics.counterTotal(label: AccessMetricLabel.deniedDecisions) == 0)
    }

    @Test("an append to a sink that throws is counted, directly and through a refused sign-in")
    func auditAppendFailure() async throws {
        let metrics = TestMetrics()
        let sink = RecordingAuditSink()
        sink.refuseAppends()
        let log = try await AuditLog(
            sink: sink, chainKey: try AuditChainKey.generate(), signingKey: try AuditSigningKey.generate(),
            configuration: .init(retryInterval: .milliseconds(5)), metrics: metrics)
        await #expect(throws: AuditError.sinkFailed) {
            try await log.append(
                try .login(succeeded: false, userID: "acct-1", sessionID: nil, reason: "wrong-password", at: Date()))
        }
        #expect(
            try metrics.expectCounter(AuditMetricLabel.appendFailures, [("reason", "sink-failed")]).totalValue == 1)

        // The login flow's required event cannot be recorded: the sign-in is refused, and counted.
        let harness = try Harness(audit: log, metrics: metrics)
        let account = try await harness.addAccount("pat@example.org", id: "acct-pat")
        await #expect(throws: AuthenticationError.unavailable) {
            _ = try await harness.signIn("pat@example.org", account)
        }
        #expect(metrics.counterTotal(label: AuditMetricLabel.appendFailures) >= 2)
        let reasons = Set(metrics.counters(label: AuditMetricLabel.appendFailures).flatMap { $0.dimensions.map(\.1) })
        #expect(reasons == ["sink-unavailable", "sink-failed", "closed", "other"])
        try? await log.close()
    }

    @Test("a broken verification is counted by kind; an intact one is not")
    func verificationFailure() async throws {
        let metrics = TestMetrics()
        let sink = InMemoryAuditSink()
        let chainKey = try AuditChainKey.generate()
        let signingKey = try AuditSigningKey.generate()
        let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey, metrics: metrics)
        try await log.append(
            try .login(succeeded: false, userID: "acct-1", sessionID: nil, reason: "wrong-password", at: Date()))
        try await log.close()

        let intact = AuditVerifier(chainKey: chainKey, checkpointKey: signingKey.publicKey, metrics: metrics)
        #expect(try await intact.verify(sink).isIntact)
        #expect(metrics.counterTotal(label: AuditMetricLabel.verificationFailures) == 0)

        let keyless = AuditVerifier(chainKey: chainKey, checkpointKey: nil, metrics: metrics)
        let report = try await keyless.verify(sink)
        #expect(report.chainBreak?.kind == .checkpointForged)
        #expect(
            try metrics.expectCounter(AuditMetricLabel.verificationFailures, [("kind", "checkpointForged")])
                .totalValue == 1)
        #expect(metrics.counterTotal(label: AuditMetricLabel.appendFailures) == 0)
    }
}
