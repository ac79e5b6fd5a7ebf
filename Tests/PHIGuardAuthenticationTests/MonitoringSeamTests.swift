import Foundation
import PHIGuardAudit
import PHIGuardAuthentication
import PHIGuardTesting
import Testing

@Suite("The login flow's audit events feed the security monitor")
struct MonitoringSeamTests {
    @Test(
        "failed sign-ins across 12 accounts from one address raise credential-stuffing; from 12 addresses they do not")
    func credentialStuffingFromRealSignIns() async throws {
        for spread in [false, true] {
            let sink = RecordingAuditSink()
            let log = try await AuditLog(sink: sink, chainKey: try .generate(), signingKey: try .generate())
            // No per-address rate limit here: the monitor is what must notice.
            let harness = try Harness(rateLimits: LoginFlow.RateLimits(perAddress: nil, global: nil), audit: log)
            for index in 0..<12 {
                try await harness.addAccount("user\(index)@example.org", id: "acct-\(index)")
                await #expect(throws: AuthenticationError.rejected) {
                    _ = try await harness.flow.signIn(
                        loginName: "user\(index)@example.org", password: "not the password",
                        clientAddress: spread ? "198.51.100.\(index)" : "198.51.100.7")
                }
            }
            try await log.flush()
            let failures = sink.events(.loginFailed)
            #expect(failures.count == 12)
            #expect(failures.allSatisfy { $0.attributes["client-address"]?.hasPrefix("198.51.100.") == true })
            var monitor = SecurityMonitor()
            var alerts: [SecurityAlert] = []
            for entry in try await sink.entries(from: 0, limit: 1_000) {
                if case .record(let record) = entry { alerts += monitor.process(record) }
            }
            let stuffing = alerts.filter { $0.rule == .credentialStuffing }
            #expect(stuffing.count == (spread ? 0 : 1), "spread over addresses: \(spread)")
        }
    }

    @Test("an address that is not an audit identifier is left out; the failure is still recorded")
    func oddAddressIsDropped() async throws {
        let sink = RecordingAuditSink()
        let log = try await AuditLog(sink: sink, chainKey: try .generate(), signingKey: try .generate())
        let harness = try Harness(audit: log)
        try await harness.addAccount("pat@example.org", id: "acct-pat")
        await #expect(throws: AuthenticationError.rejected) {
            _ = try await harness.flow.signIn(
                loginName: "pat@example.org", password: "wrong", clientAddress: "[2001:db8::1]:443 (proxy)")
        }
        try await log.flush()
        let failure = try #require(sink.events(.loginFailed).first)
        #expect(failure.attributes["client-address"] == nil)
    }
}
