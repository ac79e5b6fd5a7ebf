// The code sample of the article "Watching the audit log" (Sources/PHIGuardAudit/PHIGuardAudit.docc/
// WatchingTheAuditLog.md), compiled and run here: keep the two in step.
import Foundation
import NIOHTTP1
import PHIGuardAudit
import Testing

// MARK: Article sample (begin)

func watch(
    source: any AuditRecordSource, log: AuditLog, chainKey: AuditChainKey, rulesYAML: String,
    webhook: URL
) async throws {
    let configuration = try MonitoringConfiguration.load(yaml: rulesYAML)
    var watcher = AuditWatcher(
        source: source, monitor: SecurityMonitor(configuration: configuration), chainKey: chainKey)
    let dispatcher = SecurityAlertDispatcher(
        sinks: [StandardOutputAlertSink(), try WebhookAlertSink(url: webhook)], log: log)
    _ = try await watcher.poll()  // catch up on history; its alerts were raised when it was written
    while !Task.isCancelled {
        for alert in try await watcher.poll() { await dispatcher.dispatch(alert) }
        let now = AuditEvent.timestamp(for: Date())
        for alert in watcher.advance(to: now) { await dispatcher.dispatch(alert) }  // overdue reviews
        try await Task.sleep(for: .seconds(1))
    }
}

// MARK: Article sample (end)

@Suite("Doc sample: Watching the audit log", .serialized)
struct WatchingDocSampleTests {
    static let articleYAML = """
        bulk-access: {max-patients: 40, window-minutes: 60}
        off-hours-access:
          time-zone: America/Chicago
          roles:
            nurse: "06:30-19:30"
            nurse-night: "18:30-07:30"
            receptionist: ["07:30-12:30", "13:00-18:00"]
        break-glass-unreviewed: {after-hours: 24}
        restricted-patient-access:
          patients: [MRN-000017, MRN-004242]
          exempt-actors: ["user:privacy-officer"]
        """

    @Test("the article's watch loop delivers a break-glass alert to the webhook and chains it into the log")
    func sampleRuns() async throws {
        let server = try await LoopbackWebhook(status: .ok)
        let sink = InMemoryAuditSink()
        let chainKey = try AuditFixtures.chainKey()
        let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: try AuditFixtures.signingKey())
        let task = Task {
            try await watch(
                source: sink, log: log, chainKey: chainKey, rulesYAML: Self.articleYAML, webhook: server.url)
        }
        try await Task.sleep(for: .milliseconds(300))
        try await log.append(
            try .accessDecision(
                actorID: "user:dr-1", role: "physician", action: "read", resourceType: "Observation",
                patientID: "MRN-000017", allowed: true, breakGlass: "ETREAT", at: Date()))
        let deadline = ContinuousClock.now + .seconds(30)
        while server.received.count < 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        task.cancel()
        _ = try? await task.value
        try await log.close()
        try await server.shutdown()
        let rules = server.received.compactMap { request in
            (try? JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any])?["rule"] as? String
        }
        #expect(rules.sorted() == ["break-glass-invoked", "restricted-patient-access"])
        let alertEvents = sink.allEntries.records.filter { $0.event.kind == .securityAlert }
        #expect(alertEvents.count == 2)
    }
}
