public import Foundation
internal import PHIGuardCrypto

/// The periodic review an auditor reads: who accessed which patients, every break-glass access
/// (reviewed or not), and the alerts ``SecurityMonitor`` raises, for records from `since` on.
///
/// Build it with ``build(from:since:until:configuration:chunkSize:)``; render it with ``text()``,
/// ``jsonData()`` or ``html()`` (one self-contained page with inline SVG charts, no scripts and no
/// external resources, every value HTML-escaped).
public struct AuditReviewReport: Sendable, Hashable, Encodable {
    /// One principal's activity.
    public struct UserSummary: Sendable, Hashable, Encodable {
        /// The principal.
        public let actor: String
        /// The roles it acted in (sorted).
        public let roles: [String]
        /// Allowed accesses.
        public let allowed: Int
        /// Denied accesses.
        public let denied: Int
        /// Distinct patients accessed (allowed).
        public let distinctPatients: Int
        /// Break-glass accesses.
        public let breakGlass: Int
    }

    /// One patient's record activity.
    public struct PatientSummary: Sendable, Hashable, Encodable {
        /// The patient.
        public let patient: String
        /// Allowed accesses.
        public let allowed: Int
        /// Denied accesses.
        public let denied: Int
        /// Distinct principals that accessed it (allowed).
        public let distinctUsers: Int
        /// Break-glass accesses.
        public let breakGlass: Int
    }

    /// One break-glass invocation (a `break-glass.invoked` record, or the first access under a
    /// grant the period never saw invoked, or an access naming no grant) and its review.
    public struct BreakGlassEntry: Sendable, Hashable, Encodable {
        /// The invocation's (or first access's) sequence.
        public let sequence: UInt64
        /// The grant id, if the log names one.
        public let grant: String?
        /// Whether the invocation was refused (nothing to review).
        public let refused: Bool
        /// The accesses made under it within the period.
        public let accesses: Int
        /// When (RFC 3339, UTC).
        public let recorded: String
        /// Who.
        public let actor: String?
        /// Which patient.
        public let patient: String?
        /// The reason code.
        public let reason: String?
        /// Who reviewed it (`nil`: unreviewed).
        public let reviewer: String?
        /// The review outcome code.
        public let reviewOutcome: String?
    }

    /// Accesses in one time bucket.
    public struct Bucket: Sendable, Hashable, Encodable {
        /// The bucket's start (RFC 3339, UTC).
        public let start: String
        /// Allowed accesses.
        public let allowed: Int
        /// Denied accesses.
        public let denied: Int
    }

    /// The first instant covered (RFC 3339, UTC).
    public let since: String
    /// The instant the report ends (exclusive), or the last record's time.
    public let until: String
    /// Records in the period.
    public let records: Int
    /// Access decisions in the period.
    public let accessDecisions: Int
    /// Failed sign-ins in the period.
    public let failedLogins: Int
    /// Entries that could not be read (anywhere in the log).
    public let unreadableEntries: Int
    /// Per principal, most accesses first.
    public let users: [UserSummary]
    /// Per patient, most accesses first.
    public let patients: [PatientSummary]
    /// Every break-glass access in the period, in log order.
    public let breakGlass: [BreakGlassEntry]
    /// The alerts raised by records in the period (the detector replays the whole log).
    public let alerts: [SecurityAlert]
    /// Alerts already recorded in the log in the period (``AuditEventKind/securityAlert`` events).
    public let recordedAlerts: Int
    /// Accesses over time (hourly buckets for up to three days, else daily).
    public let timeline: [Bucket]
    /// The bucket length in seconds.
    public let bucketSeconds: Int64

    private struct UserTally {
        var roles: Set<String> = []
        var allowed = 0
        var denied = 0
        var patients: Set<String> = []
        var breakGlass = 0
    }

    private struct PatientTally {
        var allowed = 0
        var denied = 0
        var users: Set<String> = []
        var breakGlass = 0
    }

    /// Reads `source` from its start (the detector needs the history), summarising the records
    /// timestamped in `since..<until` (microseconds; `until` `nil`: to the end).
    public static func build(
        from source: some AuditRecordSource, since: Int64, until: Int64? = nil,
        configuration: MonitoringConfiguration = .defaults, chunkSize: Int = 10_000
    ) async throws(AuditError) -> AuditReviewReport {
        var monitor = SecurityMonitor(configuration: configuration)
        var users: [String: UserTally] = [:]
        var patients: [String: PatientTally] = [:]
        var breakGlass: [String: BreakGlassEntry] = [:]
        var breakGlassOrder: [String] = []
        var reviews: [UInt64: (String?, String?)] = [:]
        var grantReviews: [String: (String?, String?)] = [:]
        func noteBreakGlass(_ record: AuditRecord, invocation: Bool) {
            let event = record.event
            let grant = event.attributes["break-glass-grant"] ?? (invocation ? event.resourceID : nil)
            let key = grant ?? "#\(record.sequence)"
            if let entry = breakGlass[key] {
                if !invocation {
                    breakGlass[key] = BreakGlassEntry(
                        sequence: entry.sequence, grant: entry.grant, refused: entry.refused,
                        accesses: entry.accesses + 1, recorded: entry.recorded, actor: entry.actor,
                        patient: entry.patient, reason: entry.reason, reviewer: nil, reviewOutcome: nil)
                }
                return
            }
            breakGlassOrder.append(key)
            breakGlass[key] = BreakGlassEntry(
                sequence: record.sequence, grant: grant, refused: invocation && event.outcome == .failure,
                accesses: invocation ? 0 : 1, recorded: FHIRAuditEventExporter.instant(event.timestamp),
                actor: event.actorID, patient: event.patientID, reason: event.breakGlassReason, reviewer: nil,
                reviewOutcome: nil)
        }
        var alerts: [SecurityAlert] = []
        var times: [(Int64, Bool)] = []
        var records = 0
        var decisions = 0
        var failedLogins = 0
        var unreadable = 0
        var recordedAlerts = 0
        var last = since
        var position = 0
        let end = until ?? .max
        func inPeriod(_ time: Int64) -> Bool { time >= since && time < end }
        while true {
            let chunk: [AuditLogEntry]
            do {
                chunk = try await source.entries(from: position, limit: chunkSize)
            } catch {
                throw .storageFailure("could not read entries")
            }
            position += chunk.count
            for entry in chunk {
                guard case .record(let record) = entry else {
                    unreadable += 1
                    continue
                }
                let event = record.event
                alerts += monitor.process(record).filter { inPeriod($0.timestamp) }
                if event.kind == .breakGlassReviewed {
                    if let related = event.relatedSequence { reviews[related] = (event.actorID, event.reason) }
                    if let grant = event.attributes["break-glass-grant"] {
                        grantReviews[grant] = (event.actorID, event.reason)
                    }
                }
                guard inPeriod(event.timestamp) else { continue }
                records += 1
                last = max(last, event.timestamp)
                switch event.kind {
                case .loginFailed: failedLogins += 1
                case .securityAlert: recordedAlerts += 1
                case .breakGlassInvoked: noteBreakGlass(record, invocation: true)
                case .accessDecision:
                    decisions += 1
                    let allowed = event.outcome == .allow
                    times.append((event.timestamp, allowed))
                    let actor = event.actorID ?? "-"
                    var user = users[actor] ?? UserTally()
                    if let role = event.actorRole { user.roles.formUnion(role.split(separator: "/").map(String.init)) }
                    if allowed { user.allowed += 1 } else { user.denied += 1 }
                    if event.breakGlass { user.breakGlass += 1 }
                    if let patient = event.patientID {
                        if allowed { user.patients.insert(patient) }
                        var tally = patients[patient] ?? PatientTally()
                        if allowed {
                            tally.allowed += 1
                            tally.users.insert(actor)
                        } else {
                            tally.denied += 1
                        }
                        if event.breakGlass { tally.breakGlass += 1 }
                        patients[patient] = tally
                    }
                    users[actor] = user
                    if event.breakGlass { noteBreakGlass(record, invocation: false) }
                default: break
                }
            }
            if chunk.count < chunkSize { break }
        }
        let stop = until ?? last
        alerts += monitor.advance(to: stop).filter { inPeriod($0.timestamp) }
        let span = max(stop - since, 0)
        let bucket: Int64 = span <= 3 * 86_400 * 1_000_000 ? 3600 : 86_400
        var buckets: [Int64: (Int, Int)] = [:]
        for (time, allowed) in times {
            let start = (time - since) / (bucket * 1_000_000)
            var counts = buckets[start] ?? (0, 0)
            if allowed { counts.0 += 1 } else { counts.1 += 1 }
            buckets[start] = counts
        }
        let bucketLength = bucket * 1_000_000
        let bucketCount = Int(min(max((span + bucketLength - 1) / bucketLength, 1), 2000))
        let timeline = (0..<Int64(bucketCount)).map { index in
            Bucket(
                start: FHIRAuditEventExporter.instant(since + index * bucket * 1_000_000),
                allowed: buckets[index]?.0 ?? 0, denied: buckets[index]?.1 ?? 0)
        }
        return AuditReviewReport(
            since: FHIRAuditEventExporter.instant(since), until: FHIRAuditEventExporter.instant(stop),
            records: records, accessDecisions: decisions, failedLogins: failedLogins, unreadableEntries: unreadable,
            users: users.map { actor, tally in
                UserSummary(
                    actor: actor, roles: tally.roles.sorted(), allowed: tally.allowed, denied: tally.denied,
                    distinctPatients: tally.patients.count, breakGlass: tally.breakGlass)
            }.sorted { ($0.allowed + $0.denied, $1.actor) > ($1.allowed + $1.denied, $0.actor) },
            patients: patients.map { patient, tally in
                PatientSummary(
                    patient: patient, allowed: tally.allowed, denied: tally.denied, distinctUsers: tally.users.count,
                    breakGlass: tally.breakGlass)
            }.sorted { ($0.allowed + $0.denied, $1.patient) > ($1.allowed + $1.denied, $0.patient) },
            breakGlass: breakGlassOrder.compactMap { key in
                guard let entry = breakGlass[key] else { return nil }
                let review = entry.grant.flatMap { grantReviews[$0] } ?? reviews[entry.sequence]
                return BreakGlassEntry(
                    sequence: entry.sequence, grant: entry.grant, refused: entry.refused, accesses: entry.accesses,
                    recorded: entry.recorded, actor: entry.actor, patient: entry.patient, reason: entry.reason,
                    reviewer: review?.0, reviewOutcome: review?.1)
            },
            alerts: alerts, recordedAlerts: recordedAlerts, timeline: timeline, bucketSeconds: bucket)
    }

    /// Break-glass invocations without a review (a refused invocation needs none).
    public var unreviewedBreakGlass: Int { breakGlass.filter { $0.reviewer == nil && !$0.refused }.count }

    /// The report as pretty-printed, sorted-key JSON.
    public func jsonData() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }

    /// The report as plain text for a terminal (the 20 busiest users and patients).
    public func text() -> String {
        var lines: [String] = []
        lines.append("PHIGuard audit review \(since) to \(until)")
        lines.append(
            "\(records) records, \(accessDecisions) access decisions, \(failedLogins) failed sign-ins, "
                + "\(breakGlass.count) break-glass (\(unreviewedBreakGlass) unreviewed), \(alerts.count) alerts"
                + (unreadableEntries > 0 ? ", \(unreadableEntries) UNREADABLE entries" : ""))
        lines.append("")
        lines.append("Alerts")
        if alerts.isEmpty { lines.append("  none") }
        for alert in alerts {
            lines.append(
                "  \(FHIRAuditEventExporter.instant(alert.timestamp))  \(alert.severity.rawValue)  \(alert.rule.rawValue)  \(alert.summary)"
            )
        }
        lines.append("")
        lines.append("Break-glass invocations")
        if breakGlass.isEmpty { lines.append("  none") }
        for entry in breakGlass {
            let review =
                entry.refused
                ? "refused" : entry.reviewer.map { "reviewed by \($0) (\(entry.reviewOutcome ?? "-"))" } ?? "UNREVIEWED"
            lines.append(
                "  #\(entry.sequence)  \(entry.recorded)  \(entry.actor ?? "-")  grant \(entry.grant ?? "-")  "
                    + "patient \(entry.patient ?? "-")  \(entry.reason ?? "-")  \(entry.accesses) accesses  \(review)")
        }
        lines.append("")
        lines.append("Users (allowed / denied / distinct patients / break-glass)")
        for user in users.prefix(20) {
            lines.append(
                "  \(user.actor)  [\(user.roles.joined(separator: ","))]  \(user.allowed) / \(user.denied) / \(user.distinctPatients) / \(user.breakGlass)"
            )
        }
        lines.append("")
        lines.append("Patients (allowed / denied / distinct users / break-glass)")
        for patient in patients.prefix(20) {
            lines.append(
                "  \(patient.patient)  \(patient.allowed) / \(patient.denied) / \(patient.distinctUsers) / \(patient.breakGlass)"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// The report as one self-contained HTML page: inline CSS, inline SVG charts (accesses over
    /// time, top users), no scripts, no external resources; every value escaped with ``escapeHTML(_:)``.
    public func html() -> String {
        let e = Self.escapeHTML
        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <title>PHIGuard audit review</title>
            <style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
            td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f3f3f3}
            .bad{color:#a00;font-weight:bold}svg{background:#fafafa;border:1px solid #ddd}</style>
            </head><body>

            """
        page += "<h1>PHIGuard audit review</h1>\n<p>\(e(since)) to \(e(until))</p>\n"
        page += "<p>\(records) records, \(accessDecisions) access decisions, \(failedLogins) failed sign-ins, "
        page +=
            "\(breakGlass.count) break-glass invocations (\(unreviewedBreakGlass) unreviewed), \(alerts.count) alerts"
        if unreadableEntries > 0 { page += ", <span class=\"bad\">\(unreadableEntries) unreadable entries</span>" }
        page += ".</p>\n<h2>Accesses over time</h2>\n" + timelineChart() + "\n<h2>Top users</h2>\n" + topUsersChart()
        page += "\n<h2>Alerts</h2>\n<table><tr><th>Time</th><th>Severity</th><th>Rule</th><th>Summary</th></tr>\n"
        for alert in alerts {
            page +=
                "<tr><td>\(e(FHIRAuditEventExporter.instant(alert.timestamp)))</td><td>\(e(alert.severity.rawValue))</td>"
            page += "<td>\(e(alert.rule.rawValue))</td><td>\(e(alert.summary))</td></tr>\n"
        }
        page += "</table>\n<h2>Break-glass invocations</h2>\n<table><tr><th>Sequence</th><th>Time</th><th>User</th>"
        page += "<th>Grant</th><th>Patient</th><th>Reason</th><th>Accesses</th><th>Review</th></tr>\n"
        for entry in breakGlass {
            let review =
                entry.refused
                ? "refused"
                : entry.reviewer.map { e("\($0) (\(entry.reviewOutcome ?? "-"))") }
                    ?? "<span class=\"bad\">unreviewed</span>"
            page += "<tr><td>\(entry.sequence)</td><td>\(e(entry.recorded))</td><td>\(e(entry.actor ?? "-"))</td>"
            page +=
                "<td>\(e(entry.grant ?? "-"))</td><td>\(e(entry.patient ?? "-"))</td><td>\(e(entry.reason ?? "-"))</td>"
            page += "<td>\(entry.accesses)</td><td>\(review)</td></tr>\n"
        }
        page += "</table>\n<h2>Users</h2>\n<table><tr><th>User</th><th>Roles</th><th>Allowed</th><th>Denied</th>"
        page += "<th>Distinct patients</th><th>Break-glass</th></tr>\n"
        for user in users {
            page +=
                "<tr><td>\(e(user.actor))</td><td>\(e(user.roles.joined(separator: ", ")))</td><td>\(user.allowed)</td>"
            page += "<td>\(user.denied)</td><td>\(user.distinctPatients)</td><td>\(user.breakGlass)</td></tr>\n"
        }
        page += "</table>\n<h2>Patients</h2>\n<table><tr><th>Patient</th><th>Allowed</th><th>Denied</th>"
        page += "<th>Distinct users</th><th>Break-glass</th></tr>\n"
        for patient in patients {
            page += "<tr><td>\(e(patient.patient))</td><td>\(patient.allowed)</td><td>\(patient.denied)</td>"
            page += "<td>\(patient.distinctUsers)</td><td>\(patient.breakGlass)</td></tr>\n"
        }
        page += "</table>\n</body></html>\n"
        return page
    }

    /// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values (PHIGuard's one escaper).
    public static func escapeHTML(_ text: String) -> String { HTMLEscaping.escape(text) }

    private func timelineChart() -> String {
        let width = 800
        let height = 200
        let peak = max(timeline.map { $0.allowed + $0.denied }.max() ?? 0, 1)
        let barWidth = max(Double(width - 40) / Double(max(timeline.count, 1)), 1)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height + 30)\" role=\"img\" "
        svg += "aria-label=\"Accesses over time\">\n"
        svg +=
            "<text x=\"4\" y=\"14\" font-size=\"11\">peak \(peak) per \(bucketSeconds == 3600 ? "hour" : "day")</text>\n"
        for (index, bucket) in timeline.enumerated() {
            let x = 30 + Double(index) * barWidth
            let allowedHeight = Double(bucket.allowed) / Double(peak) * Double(height - 20)
            let deniedHeight = Double(bucket.denied) / Double(peak) * Double(height - 20)
            let y = Double(height) - allowedHeight - deniedHeight
            svg +=
                "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(y + deniedHeight))\" width=\"\(Self.number(barWidth * 0.9))\" "
            svg += "height=\"\(Self.number(allowedHeight))\" fill=\"#4a7\"><title>\(Self.escapeHTML(bucket.start)): "
            svg += "\(bucket.allowed) allowed, \(bucket.denied) denied</title></rect>\n"
            if bucket.denied > 0 {
                svg += "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" width=\"\(Self.number(barWidth * 0.9))\" "
                svg += "height=\"\(Self.number(deniedHeight))\" fill=\"#c44\"/>\n"
            }
        }
        svg += "<text x=\"30\" y=\"\(height + 20)\" font-size=\"11\">\(Self.escapeHTML(since))</text>\n"
        svg +=
            "<text x=\"\(width - 200)\" y=\"\(height + 20)\" font-size=\"11\">\(Self.escapeHTML(until))</text>\n</svg>"
        return svg
    }

    private func topUsersChart() -> String {
        let top = Array(users.prefix(10))
        let peak = max(top.map { $0.allowed + $0.denied }.max() ?? 0, 1)
        let rowHeight = 22
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"\(max(top.count, 1) * rowHeight + 10)\" "
        svg += "role=\"img\" aria-label=\"Top users\">\n"
        for (index, user) in top.enumerated() {
            let y = 5 + index * rowHeight
            let total = user.allowed + user.denied
            let length = Double(total) / Double(peak) * 500
            svg += "<text x=\"4\" y=\"\(y + 15)\" font-size=\"12\">\(Self.escapeHTML(user.actor))</text>\n"
            svg += "<rect x=\"220\" y=\"\(y + 3)\" width=\"\(Self.number(length))\" height=\"16\" fill=\"#47a\"/>\n"
            svg += "<text x=\"\(Self.number(225 + length))\" y=\"\(y + 15)\" font-size=\"11\">\(total)</text>\n"
        }
        return svg + "</svg>"
    }

    private static func number(_ value: Double) -> String { String(format: "%.1f", value) }
}
