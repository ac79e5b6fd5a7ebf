internal import Foundation

/// A streaming detector over audit records: feed it records in log order with
/// ``process(_:)`` and it returns the ``SecurityAlert``s they complete.
///
/// It is deterministic: time comes from the events (never the wall clock), so replaying a log
/// raises the same alerts. Memory is bounded: each window rule keeps at most
/// ``MonitoringConfiguration/maximumTrackedKeys`` principals or addresses with at most
/// `maximum + 1` entries each, and at most ``MonitoringConfiguration/maximumPendingBreakGlass``
/// break-glass grants await review (and as many grant ids are remembered). A window rule that fires
/// stays quiet for that key for one window, so one burst raises one alert. Alert events
/// (``AuditEventKind/securityAlert``) are ignored.
///
/// Break-glass: each `break-glass.invoked` record raises `break-glass-invoked` once (issued or
/// refused); accesses made under that grant (attribute `break-glass-grant`) raise nothing more. An
/// issued grant without a `break-glass.reviewed` record naming it (attribute `break-glass-grant`,
/// or its invocation's sequence as ``AuditEvent/relatedSequence``) within the review period raises
/// `break-glass-unreviewed` once. A break-glass access whose grant was never seen invoked (the log
/// was cut, or the app audits accesses only) counts as the invocation of its grant; one naming no
/// grant at all is its own invocation.
///
/// ```swift
/// var monitor = SecurityMonitor(configuration: try .load(path: "monitoring.yaml"))
/// for record in records { for alert in monitor.process(record) { print(alert.jsonLine()) } }
/// ```
public struct SecurityMonitor: Sendable {
    /// The rules' settings.
    public let configuration: MonitoringConfiguration

    private var bulk = DistinctWindows()
    private var probing = DistinctWindows()
    private var stuffing = DistinctWindows()
    private var lockouts = DistinctWindows()
    private var offHoursQuietUntil: [String: Int64] = [:]
    private var pendingBreakGlass:
        [(grantID: String?, sequence: UInt64, timestamp: Int64, actorID: String?, patientID: String?)] = []
    private var pendingHead = 0
    private var reviewed: Set<UInt64> = []
    private var reviewedGrants: Set<String> = []
    private var knownGrants: Set<String> = []
    private var knownGrantOrder: [String] = []
    private var knownGrantHead = 0
    private var latest: Int64 = .min
    private let calendar: Calendar

    /// A detector with `configuration` (the safe defaults when omitted).
    public init(configuration: MonitoringConfiguration = .defaults) {
        self.configuration = configuration
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: configuration.offHoursAccess.timeZone) ?? TimeZone(secondsFromGMT: 0)!
        self.calendar = calendar
    }

    /// How many keys (principals, addresses) the window rules currently track, and how many
    /// break-glass accesses await review: what bounds the detector's memory.
    public var trackedCount: Int {
        bulk.keyCount + probing.keyCount + stuffing.keyCount + lockouts.keyCount + offHoursQuietUntil.count
            + (pendingBreakGlass.count - pendingHead) + knownGrants.count
    }

    /// Processes one record; returns the alerts it completes (and any break-glass review that fell
    /// overdue by the record's time), in a fixed order.
    public mutating func process(_ record: AuditRecord) -> [SecurityAlert] {
        let event = record.event
        var alerts = advance(to: event.timestamp)
        switch event.kind {
        case .accessDecision: accessDecision(record, into: &alerts)
        case .loginFailed: failedLogin(record, into: &alerts)
        case .breakGlassInvoked: breakGlassInvoked(record, into: &alerts)
        case .breakGlassReviewed:
            if let grant = event.attributes[Self.grantAttribute] { reviewedGrants.insert(grant) }
            if let related = event.relatedSequence { reviewed.insert(related) }
        default: break
        }
        return alerts
    }

    /// Advances the detector's time to `timestamp` (microseconds) without an event, returning the
    /// break-glass accesses whose review fell overdue by then. A watcher calls it while the log is quiet.
    public mutating func advance(to timestamp: Int64) -> [SecurityAlert] {
        latest = max(latest, timestamp)
        guard configuration.breakGlassUnreviewedEnabled else { return [] }
        let limit = configuration.breakGlassReviewSeconds * 1_000_000
        var alerts: [SecurityAlert] = []
        while pendingHead < pendingBreakGlass.count {
            let pending = pendingBreakGlass[pendingHead]
            let grantReviewed = pending.grantID.map { reviewedGrants.remove($0) != nil } ?? false
            if reviewed.remove(pending.sequence) != nil || grantReviewed {
                pendingHead += 1
                continue
            }
            guard pending.timestamp <= latest - limit else { break }
            pendingHead += 1
            alerts.append(
                SecurityAlert(
                    rule: .breakGlassUnreviewed, timestamp: pending.timestamp + limit, sequence: pending.sequence,
                    actorID: pending.actorID, patientID: pending.patientID,
                    windowSeconds: configuration.breakGlassReviewSeconds, relatedSequences: [pending.sequence],
                    grantID: pending.grantID))
        }
        compactPending()
        return alerts
    }

    /// An alert for a verification that found the log broken (`nil` when `report` is intact).
    /// `timestamp` is when the verification ran.
    public func alert(for report: AuditVerificationReport, at timestamp: Int64) -> SecurityAlert? {
        guard let first = report.chainBreak else { return nil }
        return SecurityAlert(
            rule: .auditVerificationFailed, timestamp: timestamp, sequence: first.expectedSequence,
            count: report.breakCount)
    }

    // MARK: - Rules

    private mutating func accessDecision(_ record: AuditRecord, into alerts: inout [SecurityAlert]) {
        let event = record.event
        let actor = event.actorID
        let time = event.timestamp
        if event.breakGlass {
            // An access under a grant whose invocation was seen raises nothing more.
            let grant = event.attributes[Self.grantAttribute]
            if grant.map({ !knownGrants.contains($0) }) ?? true {
                alerts.append(
                    SecurityAlert(
                        rule: .breakGlassInvoked, timestamp: time, sequence: record.sequence, actorID: actor,
                        patientID: event.patientID, relatedSequences: [record.sequence], grantID: grant))
                remember(grant)
                trackBreakGlass(record, grant: grant)
            }
        }
        if let patient = event.patientID, configuration.isEnabled(.restrictedPatientAccess),
            configuration.restrictedPatients.contains(patient),
            !(actor.map { configuration.restrictedExemptActors.contains($0) } ?? false)
        {
            alerts.append(
                SecurityAlert(
                    rule: .restrictedPatientAccess, timestamp: time, sequence: record.sequence, actorID: actor,
                    patientID: patient, relatedSequences: [record.sequence]))
        }
        if configuration.isEnabled(.offHoursAccess), let actor, let roles = event.actorRole,
            isOffHours(roles: roles, at: time), (offHoursQuietUntil[actor] ?? .min) <= time
        {
            offHoursQuietUntil[actor] = time + configuration.offHoursAccess.quietSeconds * 1_000_000
            if offHoursQuietUntil.count > configuration.maximumTrackedKeys {
                offHoursQuietUntil = offHoursQuietUntil.filter { $0.value > time }
                if offHoursQuietUntil.count > configuration.maximumTrackedKeys { offHoursQuietUntil = [actor: time] }
            }
            alerts.append(
                SecurityAlert(
                    rule: .offHoursAccess, timestamp: time, sequence: record.sequence, actorID: actor,
                    patientID: event.patientID, relatedSequences: [record.sequence]))
        }
        guard let actor, let patient = event.patientID else { return }
        if event.outcome == .allow, configuration.bulkAccess.enabled,
            let fired = bulk.insert(
                key: actor, value: patient, sequence: record.sequence, at: time, rule: configuration.bulkAccess,
                maximumKeys: configuration.maximumTrackedKeys)
        {
            alerts.append(
                SecurityAlert(
                    rule: .bulkAccess, timestamp: time, sequence: record.sequence, actorID: actor, count: fired.count,
                    windowSeconds: configuration.bulkAccess.windowSeconds, relatedSequences: fired.sequences))
        }
        if event.outcome == .deny, configuration.denialProbing.enabled,
            let fired = probing.insert(
                key: actor, value: patient, sequence: record.sequence, at: time, rule: configuration.denialProbing,
                maximumKeys: configuration.maximumTrackedKeys)
        {
            alerts.append(
                SecurityAlert(
                    rule: .denialProbing, timestamp: time, sequence: record.sequence, actorID: actor,
                    count: fired.count, windowSeconds: configuration.denialProbing.windowSeconds,
                    relatedSequences: fired.sequences))
        }
    }

    /// `break-glass.invoked`: one alert, issued or refused; an issued grant awaits its review.
    private mutating func breakGlassInvoked(_ record: AuditRecord, into alerts: inout [SecurityAlert]) {
        let event = record.event
        let grant = event.attributes[Self.grantAttribute] ?? event.resourceID
        alerts.append(
            SecurityAlert(
                rule: .breakGlassInvoked, timestamp: event.timestamp, sequence: record.sequence,
                actorID: event.actorID, patientID: event.patientID, relatedSequences: [record.sequence],
                grantID: grant))
        guard event.outcome == .success, let grant else { return }
        remember(grant)
        trackBreakGlass(record, grant: grant)
    }

    /// The attribute naming a break-glass grant (on invocations, accesses under it, reviews, revocations).
    static let grantAttribute = "break-glass-grant"

    /// Remembers that `grant` was seen invoked (bounded: the oldest is forgotten first).
    private mutating func remember(_ grant: String?) {
        guard let grant, knownGrants.insert(grant).inserted else { return }
        knownGrantOrder.append(grant)
        if knownGrants.count > configuration.maximumPendingBreakGlass {
            knownGrants.remove(knownGrantOrder[knownGrantHead])
            knownGrantHead += 1
        }
        if knownGrantHead > 1024, knownGrantHead * 2 > knownGrantOrder.count {
            knownGrantOrder.removeFirst(knownGrantHead)
            knownGrantHead = 0
        }
    }

    private mutating func failedLogin(_ record: AuditRecord, into alerts: inout [SecurityAlert]) {
        let event = record.event
        let time = event.timestamp
        if event.reason == "locked-out", configuration.lockoutSpike.enabled,
            let fired = lockouts.insert(
                key: "*", value: "\(record.sequence)", sequence: record.sequence, at: time,
                rule: configuration.lockoutSpike, maximumKeys: 1)
        {
            alerts.append(
                SecurityAlert(
                    rule: .lockoutSpike, timestamp: time, sequence: record.sequence, count: fired.count,
                    windowSeconds: configuration.lockoutSpike.windowSeconds, relatedSequences: fired.sequences))
        }
        if configuration.credentialStuffing.enabled, let address = event.attributes[configuration.addressAttribute],
            let fired = stuffing.insert(
                key: address, value: event.actorID ?? "#\(record.sequence)", sequence: record.sequence, at: time,
                rule: configuration.credentialStuffing, maximumKeys: configuration.maximumTrackedKeys)
        {
            alerts.append(
                SecurityAlert(
                    rule: .credentialStuffing, timestamp: time, sequence: record.sequence, address: address,
                    count: fired.count, windowSeconds: configuration.credentialStuffing.windowSeconds,
                    relatedSequences: fired.sequences))
        }
    }

    /// Whether no usual-hours window of any configured role among `roles` (joined with `/`) covers
    /// `timestamp`; `false` when none of the roles has usual hours.
    private func isOffHours(roles: String, at timestamp: Int64) -> Bool {
        var configured = false
        let seconds = timestamp.quotientAndRemainder(dividingBy: 1_000_000).quotient
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        for role in roles.split(separator: "/") {
            guard let windows = configuration.offHoursAccess.roles[String(role)] else { continue }
            configured = true
            if windows.contains(where: { $0.contains(minute: minute) }) { return false }
        }
        return configured
    }

    private mutating func trackBreakGlass(_ record: AuditRecord, grant: String?) {
        guard configuration.breakGlassUnreviewedEnabled else { return }
        pendingBreakGlass.append(
            (grant, record.sequence, record.event.timestamp, record.event.actorID, record.event.patientID))
        if pendingBreakGlass.count - pendingHead > configuration.maximumPendingBreakGlass {
            // Forget the oldest (bounded memory); its review is no longer tracked.
            reviewed.remove(pendingBreakGlass[pendingHead].sequence)
            if let grant = pendingBreakGlass[pendingHead].grantID { reviewedGrants.remove(grant) }
            pendingHead += 1
        }
        compactPending()
    }

    private mutating func compactPending() {
        if pendingHead > 1024, pendingHead * 2 > pendingBreakGlass.count {
            pendingBreakGlass.removeFirst(pendingHead)
            pendingHead = 0
        }
        // Reviews of accesses not tracked (or already alerted) must not pile up.
        if reviewed.count > configuration.maximumPendingBreakGlass {
            let tracked = Set(pendingBreakGlass[pendingHead...].map(\.sequence))
            reviewed = reviewed.intersection(tracked)
        }
        if reviewedGrants.count > configuration.maximumPendingBreakGlass {
            let tracked = Set(pendingBreakGlass[pendingHead...].compactMap(\.grantID))
            reviewedGrants = reviewedGrants.intersection(tracked)
        }
    }
}

/// Per key (a principal, an address), the distinct values (patients, accounts) seen within a
/// sliding window, each with the time and sequence it was last seen.
struct DistinctWindows: Sendable {
    private struct Seen: Sendable {
        var timestamp: Int64
        var sequence: UInt64
    }
    private var keys: [String: (newest: Int64, values: [String: Seen])] = [:]
    /// Keys that fired, quiet until the time given (one alert per burst and window).
    private var quietUntil: [String: Int64] = [:]

    var keyCount: Int { keys.count + quietUntil.count }

    /// Records `value` for `key` at `time`; when that makes more than `rule.maximum` distinct values
    /// within the window, returns their count and sequences, clears the key's window and keeps the
    /// key quiet for one window (a burst raises one alert).
    mutating func insert(
        key: String, value: String, sequence: UInt64, at time: Int64, rule: MonitoringConfiguration.WindowRule,
        maximumKeys: Int
    ) -> (count: Int, sequences: [UInt64])? {
        let window = rule.windowSeconds * 1_000_000
        if let quiet = quietUntil[key] {
            if time < quiet { return nil }
            quietUntil[key] = nil
        }
        var entry = keys[key] ?? (newest: time, values: [:])
        entry.newest = max(entry.newest, time)
        entry.values = entry.values.filter { time - $0.value.timestamp < window }
        entry.values[value] = Seen(timestamp: time, sequence: sequence)
        if entry.values.count > rule.maximum {
            let sequences = entry.values.values.map(\.sequence).sorted()
            let count = entry.values.count
            keys[key] = nil
            quietUntil[key] = time + window
            if quietUntil.count > maximumKeys {
                quietUntil = quietUntil.filter { $0.value > time }
                if quietUntil.count > maximumKeys { quietUntil = [key: time + window] }
            }
            return (count, sequences)
        }
        keys[key] = entry
        if keys.count > maximumKeys { evict(before: time - window, keeping: maximumKeys) }
        return nil
    }

    /// Drops keys with nothing newer than `cutoff`; if still too many, the least recently seen
    /// (down to 90% of `keeping`, so the sweep is rare).
    private mutating func evict(before cutoff: Int64, keeping maximum: Int) {
        keys = keys.filter { $0.value.newest > cutoff }
        guard keys.count > maximum else { return }
        let target = max(1, maximum * 9 / 10)
        let ordered = keys.sorted { ($0.value.newest, $0.key) > ($1.value.newest, $1.key) }
        keys = Dictionary(uniqueKeysWithValues: ordered.prefix(target).map { ($0.key, $0.value) })
    }
}
