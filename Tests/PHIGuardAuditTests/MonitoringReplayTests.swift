import Foundation
import PHIGuardAudit
import Testing

@Suite("Security monitoring: replayed audit streams")
struct MonitoringReplayTests {
    static func rules(_ alerts: [SecurityAlert]) -> [String] { alerts.map(\.rule.rawValue).sorted() }

    @Test("a normal week of a 300-patient clinic raises no alert")
    func normalWeekIsQuiet() throws {
        let events = try ClinicStream.normalWeek()
        let records = ClinicStream.records(events)
        #expect(records.count > 10_000, "the generated week is realistic in size (\(records.count) records)")
        let patients = Set(events.compactMap(\.patientID))
        #expect(patients.count == 300)
        let alerts = ClinicStream.replay(records, configuration: try ClinicStream.configuration())
        #expect(alerts.isEmpty, "\(alerts.map(\.summary))")
    }

    @Test(
        "each planted incident raises exactly its alerts",
        arguments: [
            ("bulk", ["bulk-access"]),
            ("off-hours", ["off-hours-access"]),
            ("break-glass reviewed", ["break-glass-invoked"]),
            ("break-glass unreviewed", ["break-glass-invoked", "break-glass-unreviewed"]),
            ("denial probing", ["denial-probing"]),
            ("lockout spike", ["lockout-spike"]),
            ("credential stuffing", ["credential-stuffing"]),
            ("restricted patient", ["restricted-patient-access"]),
        ])
    func plantedIncident(name: String, expected: [String]) throws {
        var events = try ClinicStream.normalWeek()
        switch name {
        case "bulk": events += try ClinicStream.bulkAccess()
        case "off-hours": events += try ClinicStream.offHours()
        case "break-glass reviewed":
            events += try ClinicStream.breakGlass() + [ClinicStream.breakGlassReview(after: 2 * ClinicStream.hour)]
        case "break-glass unreviewed": events += try ClinicStream.breakGlass()
        case "denial probing": events += try ClinicStream.denialProbing()
        case "lockout spike": events += try ClinicStream.lockoutSpike()
        case "credential stuffing": events += try ClinicStream.credentialStuffing()
        case "restricted patient": events += try ClinicStream.restrictedPatient()
        default: Issue.record("unknown incident \(name)")
        }
        let records = ClinicStream.records(events)
        let alerts = ClinicStream.replay(records, configuration: try ClinicStream.configuration())
        #expect(Self.rules(alerts) == expected.sorted(), "\(alerts.map(\.summary))")
        for alert in alerts {
            #expect(alert.timestamp >= ClinicStream.wednesday, "an alert is raised at the incident, not before")
        }
    }

    @Test("all incidents planted in one week: exactly the eight rules fire, with the right subjects")
    func everyIncidentAtOnce() throws {
        let events =
            try ClinicStream.normalWeek() + ClinicStream.bulkAccess() + ClinicStream.offHours()
            + ClinicStream.breakGlass() + ClinicStream.denialProbing() + ClinicStream.lockoutSpike()
            + ClinicStream.credentialStuffing() + ClinicStream.restrictedPatient()
        let alerts = ClinicStream.replay(ClinicStream.records(events), configuration: try ClinicStream.configuration())
        #expect(
            Self.rules(alerts)
                == [
                    "break-glass-invoked", "break-glass-unreviewed", "bulk-access", "credential-stuffing",
                    "denial-probing", "lockout-spike", "off-hours-access", "restricted-patient-access",
                ])
        let byRule = Dictionary(grouping: alerts, by: \.rule)
        #expect(byRule[.bulkAccess]?.first?.actorID == "user:rn-2")
        #expect((byRule[.bulkAccess]?.first?.count ?? 0) == 51)
        #expect(byRule[.offHoursAccess]?.first?.actorID == "user:desk-1")
        #expect(byRule[.denialProbing]?.first?.actorID == "patient:MRN-000042")
        #expect(byRule[.credentialStuffing]?.first?.address == "203.0.113.9")
        #expect(byRule[.restrictedPatientAccess]?.first?.patientID == "MRN-VIP-001")
        #expect(byRule[.breakGlassUnreviewed]?.first?.timestamp == ClinicStream.wednesday + 34 * ClinicStream.hour)
        // One alert per invocation (not one per access under the grant), the unreviewed one keyed on the grant.
        #expect(byRule[.breakGlassInvoked]?.count == 1)
        #expect(byRule[.breakGlassInvoked]?.first?.grantID == ClinicStream.breakGlassGrant)
        #expect(byRule[.breakGlassUnreviewed]?.map(\.grantID) == [ClinicStream.breakGlassGrant])
    }

    @Test("break-glass: one alert per invocation (issued or refused), none per access; reviews keyed on the grant id")
    func breakGlassPerInvocation() throws {
        let start = ClinicStream.wednesday
        let minute = ClinicStream.minute
        func invoked(_ grant: String?, _ actor: String, at time: Int64) throws -> AuditEvent {
            try AuditEvent(
                kind: .breakGlassInvoked, timestamp: time, actorID: actor, actorRole: "physician",
                action: "break-glass", resourceType: "break-glass-grant", resourceID: grant, patientID: "MRN-1",
                outcome: grant == nil ? .failure : .success, reason: grant == nil ? "not-permitted" : nil,
                breakGlass: true, breakGlassReason: "ETREAT",
                attributes: grant.map { ["break-glass-grant": $0] } ?? [:])
        }
        func access(_ grant: String?, _ actor: String, patient: String, at time: Int64) throws -> AuditEvent {
            try AuditEvent(
                kind: .accessDecision, timestamp: time, actorID: actor, actorRole: "physician", action: "read",
                resourceType: "Observation", patientID: patient, outcome: .allow, breakGlass: true,
                breakGlassReason: "ETREAT", attributes: grant.map { ["break-glass-grant": $0] } ?? [:])
        }
        func review(_ grant: String, at time: Int64) throws -> AuditEvent {
            try AuditEvent(
                kind: .breakGlassReviewed, timestamp: time, actorID: "user:privacy", action: "review",
                resourceType: "break-glass-grant", resourceID: grant, outcome: .success, reason: "justified",
                attributes: ["break-glass-grant": grant])
        }
        let events: [AuditEvent] = [
            try invoked("g-1", "user:a", at: start),  // 1: alert
            try access("g-1", "user:a", patient: "MRN-1", at: start + minute),  // 2-6: no alert
            try access("g-1", "user:a", patient: "MRN-1", at: start + 2 * minute),
            try access("g-1", "user:a", patient: "MRN-2", at: start + 3 * minute),
            try access("g-1", "user:a", patient: "MRN-2", at: start + 4 * minute),
            try access("g-1", "user:a", patient: "MRN-1", at: start + 5 * minute),
            try invoked(nil, "user:b", at: start + 6 * minute),  // 7: refused, alert, nothing to review
            try invoked("g-2", "user:c", at: start + 7 * minute),  // 8: alert
            try access("g-2", "user:c", patient: "MRN-3", at: start + 8 * minute),  // 9: no alert
            try access("g-9", "user:d", patient: "MRN-4", at: start + 9 * minute),  // 10: unseen grant: alert
            try access("g-9", "user:d", patient: "MRN-4", at: start + 10 * minute),  // 11: no alert
            try access(nil, "user:e", patient: "MRN-5", at: start + 11 * minute),  // 12: names no grant: alert
            try review("g-2", at: start + 60 * minute),  // 13: g-2 reviewed in time
            try review("g-other", at: start + 61 * minute),  // 14: another grant's review clears nothing
        ]
        var monitor = SecurityMonitor()
        var alerts: [SecurityAlert] = []
        for record in ClinicStream.records(events) { alerts += monitor.process(record) }
        alerts += monitor.advance(to: start + 30 * ClinicStream.hour)
        let invokedAlerts = alerts.filter { $0.rule == .breakGlassInvoked }
        #expect(invokedAlerts.map(\.sequence) == [1, 7, 8, 10, 12])
        #expect(invokedAlerts.map(\.grantID) == ["g-1", nil, "g-2", "g-9", nil])
        let unreviewed = alerts.filter { $0.rule == .breakGlassUnreviewed }
        #expect(unreviewed.map(\.grantID) == ["g-1", "g-9", nil])
        #expect(unreviewed.map(\.sequence) == [1, 10, 12])
        #expect(unreviewed.first?.timestamp == start + 24 * ClinicStream.hour)
        #expect(alerts.count == invokedAlerts.count + unreviewed.count)
    }

    @Test("replaying the same stream twice raises the same alerts (time comes from the events)")
    func deterministic() throws {
        let events = try ClinicStream.normalWeek(seed: 7) + ClinicStream.bulkAccess() + ClinicStream.breakGlass()
        let configuration = try ClinicStream.configuration()
        let first = ClinicStream.replay(ClinicStream.records(events), configuration: configuration)
        let second = ClinicStream.replay(ClinicStream.records(events), configuration: configuration)
        #expect(!first.isEmpty)
        #expect(first == second)
    }

    @Test("thresholds are 'more than N': N distinct patients is quiet, N + 1 alerts")
    func thresholdBoundary() throws {
        var configuration = MonitoringConfiguration()
        configuration.bulkAccess = .init(maximum: 5, windowSeconds: 600)
        func run(_ count: Int, spacing: Int64 = 1_000_000) throws -> [SecurityAlert] {
            var monitor = SecurityMonitor(configuration: configuration)
            var alerts: [SecurityAlert] = []
            for index in 0..<count {
                let event = try AuditEvent.accessDecision(
                    actorID: "user:1", role: "nurse", action: "read", resourceType: "Observation",
                    patientID: "MRN-\(index)", allowed: true,
                    at: Date(timeIntervalSince1970: 1_800_000_000 + Double(Int64(index) * spacing) / 1e6))
                alerts += monitor.process(AuditRecord(sequence: UInt64(index + 1), event: event, chain: []))
            }
            return alerts
        }
        #expect(try run(5).isEmpty)
        #expect(try run(6).map(\.rule) == [.bulkAccess])
        // The same six spread wider than the window never fill it.
        #expect(try run(6, spacing: 200_000_000).isEmpty)
    }

    @Test("memory stays bounded: 50,000 principals and 50,000 break-glass accesses")
    func boundedMemory() throws {
        var configuration = MonitoringConfiguration()
        configuration.maximumTrackedKeys = 1000
        configuration.maximumPendingBreakGlass = 500
        var monitor = SecurityMonitor(configuration: configuration)
        var peak = 0
        for index in 0..<50_000 {
            let event = try AuditEvent.accessDecision(
                actorID: "user:\(index)", role: "nurse", action: "read", resourceType: "Observation",
                patientID: "MRN-\(index)", allowed: index % 2 == 0, breakGlass: index % 5 == 0 ? "ETREAT" : nil,
                at: Date(timeIntervalSince1970: 1_800_000_000 + Double(index)))
            _ = monitor.process(AuditRecord(sequence: UInt64(index + 1), event: event, chain: []))
            peak = max(peak, monitor.trackedCount)
        }
        // Bulk and probing windows at most 1000 keys each, plus at most 500 pending accesses.
        #expect(peak <= 2 * 1000 + 500 + 1)
        #expect(peak > 1000, "the test really fills the tables")
    }

    @Test("a record that breaks the chain, and an unreadable entry, raise audit-verification-failed")
    func verificationFailure() async throws {
        let sink = InMemoryAuditSink()
        let log = try await AuditLog(
            sink: sink, chainKey: try AuditFixtures.chainKey(), signingKey: try AuditFixtures.signingKey())
        for event in try AuditFixtures.everyKind() { try await log.append(event) }
        try await log.close()
        let entries = sink.allEntries
        var intact = AuditWatcher(
            source: StaticSource(entries: entries), monitor: SecurityMonitor(), chainKey: try AuditFixtures.chainKey())
        #expect(try await intact.poll().filter { $0.rule == .auditVerificationFailed }.isEmpty)

        var tampered = entries
        if case .record(let record) = tampered[4] {
            let edited = try AuditEvent.login(succeeded: true, userID: "user:mallory", at: AuditFixtures.fixedDate)
            tampered[4] = .record(record.replacingEvent(edited))
        }
        var watcher = AuditWatcher(
            source: StaticSource(entries: tampered), monitor: SecurityMonitor(), chainKey: try AuditFixtures.chainKey())
        let alerts = try await watcher.poll().filter { $0.rule == .auditVerificationFailed }
        #expect(alerts.count == 1)
        #expect(alerts.first?.sequence == 5)

        var torn = entries
        torn.insert(.unreadable, at: 3)
        var unkeyed = AuditWatcher(source: StaticSource(entries: torn), monitor: SecurityMonitor())
        #expect(try await unkeyed.poll().map(\.rule).contains(.auditVerificationFailed))
        // And a verifier's broken report maps to the alert too.
        let report = AuditVerificationReport.broken(
            [AuditChainBreak(kind: .modified, position: 4, expectedSequence: 5, foundSequence: 5)], total: 1)
        #expect(SecurityMonitor().alert(for: report, at: 1)?.rule == .auditVerificationFailed)
        #expect(SecurityMonitor().alert(for: .intact(records: 3, lastSequence: 3, checkpointsChecked: 0), at: 1) == nil)
    }

    @Test("the watcher reads only what is new on each poll")
    func watcherIsIncremental() async throws {
        let sink = InMemoryAuditSink()
        let log = try await AuditLog(
            sink: sink, chainKey: try AuditFixtures.chainKey(), signingKey: try AuditFixtures.signingKey())
        var watcher = AuditWatcher(source: sink, monitor: SecurityMonitor(), chainKey: try AuditFixtures.chainKey())
        try await log.append(try .login(succeeded: true, userID: "user:1", at: AuditFixtures.fixedDate))
        #expect(try await watcher.poll().isEmpty)
        try await log.append(
            try .accessDecision(
                actorID: "user:1", role: "physician", action: "read", resourceType: "Observation", patientID: "MRN-1",
                allowed: true, breakGlass: "ETREAT", at: AuditFixtures.fixedDate))
        #expect(try await watcher.poll().map(\.rule) == [.breakGlassInvoked])
        #expect(try await watcher.poll().isEmpty)
        #expect(watcher.lastSequence == 2)
        try await log.close()
    }
}

/// A fixed list of entries as a source.
struct StaticSource: AuditRecordSource {
    let entries: [AuditLogEntry]
    func entries(from position: Int, limit: Int) async throws -> [AuditLogEntry] {
        guard position < entries.count else { return [] }
        return Array(entries[position..<min(entries.count, position + limit)])
    }
    func checkpoints() async throws -> [AuditCheckpoint] { [] }
}
