internal import Foundation

/// The detection rules of ``SecurityMonitor``. The raw values are stable ids: they name the rule in
/// the YAML configuration, in alert JSON, in the `rule` dimension of
/// ``AuditMetricLabel/securityAlerts`` and in the alert audit events.
public enum SecurityAlertRule: String, Sendable, Hashable, Codable, CaseIterable {
    /// One principal was allowed into more than N distinct patients' records within M minutes.
    case bulkAccess = "bulk-access"
    /// An access outside every usual-hours window configured for the actor's roles.
    case offHoursAccess = "off-hours-access"
    /// Someone invoked break-glass (emergency) access: one alert per `break-glass.invoked` record,
    /// issued or refused (not one per access made under the grant). Always on.
    case breakGlassInvoked = "break-glass-invoked"
    /// A break-glass grant still has no review N hours after it was issued (keyed on the grant id).
    case breakGlassUnreviewed = "break-glass-unreviewed"
    /// One principal was denied access to more than N distinct patients within M minutes (IDOR probing).
    case denialProbing = "denial-probing"
    /// More than N accounts were locked out within M minutes.
    case lockoutSpike = "lockout-spike"
    /// Failed sign-ins for more than N distinct accounts from one client address within M minutes.
    case credentialStuffing = "credential-stuffing"
    /// An access (allowed or denied) to a patient on the restricted list (VIP, employee-patient).
    case restrictedPatientAccess = "restricted-patient-access"
    /// The audit log failed verification (a broken chain or an unreadable entry). Always on.
    case auditVerificationFailed = "audit-verification-failed"

    /// The severity alerts of this rule carry.
    public var severity: SecurityAlertSeverity {
        switch self {
        case .offHoursAccess, .breakGlassInvoked: .medium
        case .bulkAccess, .breakGlassUnreviewed, .denialProbing, .lockoutSpike, .credentialStuffing,
            .restrictedPatientAccess:
            .high
        case .auditVerificationFailed: .critical
        }
    }
}

/// How urgent an alert is.
public enum SecurityAlertSeverity: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Worth a look in the next review.
    case low
    /// Look at it today.
    case medium
    /// Look at it now.
    case high
    /// The audit trail itself is in doubt.
    case critical

    private var rank: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .high: 2
        case .critical: 3
        }
    }

    /// Orders by urgency, `low` first.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}

/// One alert raised by ``SecurityMonitor``: identifiers and counts only, like the audit events it
/// was derived from.
public struct SecurityAlert: Sendable, Hashable, Encodable {
    /// The rule that fired.
    public let rule: SecurityAlertRule
    /// When, in microseconds since 1970 (the time of the event that completed the pattern, never
    /// the wall clock, so a replay raises the same alerts).
    public let timestamp: Int64
    /// The sequence number of the record that completed the pattern (`nil` for a verification failure
    /// found outside any record).
    public let sequence: UInt64?
    /// The principal concerned, if any.
    public let actorID: String?
    /// The patient concerned, if any.
    public let patientID: String?
    /// The client address concerned (credential stuffing), if any.
    public let address: String?
    /// How many distinct patients, accounts, lockouts or breaks made up the pattern (1 for single events).
    public let count: Int
    /// The sliding window the count was taken over, in seconds (`nil` for single-event rules).
    public let windowSeconds: Int64?
    /// The break-glass grant concerned (the break-glass rules), if the log names one.
    public let grantID: String?
    /// The sequence numbers of the records that made up the pattern, ascending (at most 20).
    public let relatedSequences: [UInt64]

    /// The most related sequence numbers an alert lists.
    public static let maximumRelatedSequences = 20

    /// An alert. `relatedSequences` is sorted and cut to ``maximumRelatedSequences``.
    public init(
        rule: SecurityAlertRule, timestamp: Int64, sequence: UInt64?, actorID: String? = nil,
        patientID: String? = nil, address: String? = nil, count: Int = 1, windowSeconds: Int64? = nil,
        relatedSequences: [UInt64] = [], grantID: String? = nil
    ) {
        self.grantID = grantID
        self.rule = rule
        self.timestamp = timestamp
        self.sequence = sequence
        self.actorID = actorID
        self.patientID = patientID
        self.address = address
        self.count = count
        self.windowSeconds = windowSeconds
        self.relatedSequences = Array(relatedSequences.sorted().prefix(Self.maximumRelatedSequences))
    }

    /// The rule's severity.
    public var severity: SecurityAlertSeverity { rule.severity }

    /// A stable id: the rule and the triggering sequence number (`audit-verification-failed@0` when none).
    public var id: String { "\(rule.rawValue)@\(sequence ?? 0)" }

    /// One sentence for a person: the rule, the counts and the identifiers involved.
    public var summary: String {
        let who = actorID ?? "an unknown principal"
        let minutes = (windowSeconds ?? 0) / 60
        switch rule {
        case .bulkAccess: return "\(who) opened \(count) distinct patients' records within \(minutes) minutes"
        case .offHoursAccess: return "\(who) accessed patient \(patientID ?? "-") outside the usual hours of its roles"
        case .breakGlassInvoked:
            return "\(who) invoked break-glass access (grant \(grantID ?? "-"), patient \(patientID ?? "-"))"
        case .breakGlassUnreviewed:
            return
                "the break-glass grant \(grantID ?? "-") of \(who) (patient \(patientID ?? "-")) is unreviewed after "
                + "\(minutes / 60) hours"
        case .denialProbing: return "\(who) was denied access to \(count) distinct patients within \(minutes) minutes"
        case .lockoutSpike: return "\(count) sign-in lockouts within \(minutes) minutes"
        case .credentialStuffing:
            return "failed sign-ins for \(count) distinct accounts from \(address ?? "-") within \(minutes) minutes"
        case .restrictedPatientAccess: return "\(who) accessed restricted patient \(patientID ?? "-")"
        case .auditVerificationFailed: return "the audit log failed verification (\(count) breaks)"
        }
    }

    /// The alert as an audit event (kind ``AuditEventKind/securityAlert``), so alerts are chained
    /// into the log they watch: action `alert`, resource type `security-alert` with the rule id as
    /// resource id and reason, the triggering sequence as ``AuditEvent/relatedSequence``, and
    /// attributes `severity`, `count`, `window-seconds`, `address` and `break-glass-grant`.
    public func auditEvent() throws(AuditError) -> AuditEvent {
        var attributes = ["severity": severity.rawValue, "count": String(count)]
        if let windowSeconds { attributes["window-seconds"] = String(windowSeconds) }
        if let address { attributes["address"] = address }
        if let grantID { attributes["break-glass-grant"] = grantID }
        return try AuditEvent(
            kind: .securityAlert, timestamp: timestamp, actorID: actorID, action: "alert",
            resourceType: "security-alert", resourceID: rule.rawValue, patientID: patientID, outcome: .failure,
            reason: rule.rawValue, relatedSequence: sequence, attributes: attributes)
    }

    private enum CodingKeys: String, CodingKey {
        case id, rule, severity, recorded, ts, sequence, actor, patient, address, count, windowSeconds, related,
            grant, summary
    }

    /// Encodes the alert as one JSON object (`id`, `rule`, `severity`, `recorded`, `ts`, `sequence`,
    /// `actor`, `patient`, `address`, `count`, `windowSeconds`, `related`, `grant`, `summary`; absent values
    /// omitted).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(rule, forKey: .rule)
        try container.encode(severity, forKey: .severity)
        try container.encode(FHIRAuditEventExporter.instant(timestamp), forKey: .recorded)
        try container.encode(timestamp, forKey: .ts)
        try container.encodeIfPresent(sequence, forKey: .sequence)
        try container.encodeIfPresent(actorID, forKey: .actor)
        try container.encodeIfPresent(patientID, forKey: .patient)
        try container.encodeIfPresent(address, forKey: .address)
        try container.encode(count, forKey: .count)
        try container.encodeIfPresent(windowSeconds, forKey: .windowSeconds)
        if !relatedSequences.isEmpty { try container.encode(relatedSequences, forKey: .related) }
        try container.encodeIfPresent(grantID, forKey: .grant)
        try container.encode(summary, forKey: .summary)
    }

    /// The alert as one line of sorted-key JSON (no trailing newline).
    public func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings, integers and enums cannot fail.
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
