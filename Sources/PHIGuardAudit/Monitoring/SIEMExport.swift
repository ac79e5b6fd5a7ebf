internal import Foundation
internal import PHIGuardCrypto

/// Renders records as RFC 5424 syslog lines with structured data, for a SIEM's syslog input.
///
/// ```
/// <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [phiguard@32473 seq="…" kind="…" …] kind outcome
/// ```
///
/// - `PRI` is `facility × 8 + severity`: facility 13 (log audit) by default; severity 1 (alert) for
///   a ``AuditEventKind/securityAlert``, 4 (warning) for a denial or failure, 5 (notice) for
///   break-glass, else 6 (informational).
/// - `TIMESTAMP` is UTC with microseconds (`2026-11-29T08:15:00.000000Z`); `MSGID` is the event kind.
/// - One SD-ELEMENT with SD-ID `phiguard@<enterprise number>` holds every event field present
///   (`seq`, `kind`, `outcome`, `actor`, `role`, `session`, `action`, `resourceType`, `resourceID`,
///   `patient`, `fields`, `reason`, `rules`, `breakGlass`, `breakGlassReason`, `related`, `chain`,
///   and `attr.<name>` for each attribute). Lists are comma-joined. In PARAM-VALUEs `"`, `\` and
///   `]` are escaped with a backslash (RFC 5424 §6.3.3).
/// - Header fields are reduced to printable US-ASCII and cut to their RFC lengths (`-` when empty).
public struct SyslogAuditExporter: Sendable {
    /// The private enterprise number in the SD-ID. 32473 is the number RFC 5612 reserves for
    /// documentation; use your organisation's own.
    public let enterpriseNumber: Int
    /// The HOSTNAME field.
    public let hostname: String
    /// The APP-NAME field.
    public let appName: String
    /// The syslog facility (0–23).
    public let facility: Int

    /// An exporter. `facility` is clamped to 0–23.
    public init(hostname: String, appName: String = "phiguard", facility: Int = 13, enterpriseNumber: Int = 32473) {
        self.hostname = Self.headerField(hostname, maximum: 255)
        self.appName = Self.headerField(appName, maximum: 48)
        self.facility = min(max(facility, 0), 23)
        self.enterpriseNumber = max(enterpriseNumber, 0)
    }

    /// The syslog severity (0–7) of `event`.
    public static func severity(of event: AuditEvent) -> Int {
        if event.kind == .securityAlert { return 1 }
        if !event.outcome.isPositive { return 4 }
        if event.breakGlass { return 5 }
        return 6
    }

    /// One syslog message (no trailing newline; frame it as your transport requires).
    public func line(for record: AuditRecord) -> String {
        let event = record.event
        let pri = facility * 8 + Self.severity(of: event)
        var parameters: [(String, String)] = [
            ("seq", String(record.sequence)), ("kind", event.kind.rawValue), ("outcome", event.outcome.rawValue),
        ]
        func add(_ name: String, _ value: String?) { if let value { parameters.append((name, value)) } }
        add("actor", event.actorID)
        add("role", event.actorRole)
        add("session", event.sessionID)
        add("action", event.action)
        add("resourceType", event.resourceType)
        add("resourceID", event.resourceID)
        add("patient", event.patientID)
        if !event.fields.isEmpty { add("fields", event.fields.joined(separator: ",")) }
        add("reason", event.reason)
        if !event.ruleIDs.isEmpty { add("rules", event.ruleIDs.joined(separator: ",")) }
        if event.breakGlass { add("breakGlass", "true") }
        add("breakGlassReason", event.breakGlassReason)
        add("related", event.relatedSequence.map(String.init))
        add("chain", Hex.encode(record.chain))
        for (key, value) in event.attributes.sorted(by: { $0.key < $1.key }) {
            add(Self.parameterName("attr." + key), value)
        }
        var structured = "[phiguard@\(enterpriseNumber)"
        for (name, value) in parameters {
            structured += " \(name)=\"\(Self.escapeParameterValue(value))\""
        }
        structured += "]"
        let msgid = Self.headerField(event.kind.rawValue, maximum: 32)
        let timestamp = FHIRAuditEventExporter.instant(event.timestamp)
        let message = Self.headerField("\(event.kind.rawValue) \(event.outcome.rawValue)", maximum: 200)
        return "<\(pri)>1 \(timestamp) \(hostname) \(appName) - \(msgid) \(structured) \(message)"
    }

    /// Escapes `"`, `\` and `]` with a backslash (RFC 5424 §6.3.3); control characters become `?`.
    public static func escapeParameterValue(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"", "\\", "]": out += "\\" + String(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += "?"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A SD-NAME: printable US-ASCII except `=`, space, `]`, `"` (others become `_`), at most 32 characters.
    static func parameterName(_ name: String) -> String {
        let cleaned = name.unicodeScalars.map { scalar -> String in
            let value = scalar.value
            return (33...126).contains(value) && !"=]\"".unicodeScalars.contains(scalar) ? String(scalar) : "_"
        }.joined()
        return String(cleaned.prefix(32))
    }

    /// A header field: printable US-ASCII (others become `_`), at most `maximum` characters, `-` when empty.
    static func headerField(_ text: String, maximum: Int) -> String {
        let cleaned = text.unicodeScalars.map { (33...126).contains($0.value) ? String($0) : "_" }.joined()
        let cut = String(cleaned.prefix(maximum))
        return cut.isEmpty ? "-" : cut
    }
}

/// Renders records as JSON lines with Elastic Common Schema (ECS 8.x) field names, for Elasticsearch,
/// OpenSearch or any SIEM that reads ECS.
///
/// | Record | ECS field |
/// | --- | --- |
/// | timestamp | `@timestamp` |
/// | kind | `event.action`; `event.category` / `event.type` from the kind, action and outcome |
/// | outcome | `event.outcome` (`success` / `failure`) |
/// | sequence, chain | `event.sequence`, `event.id` (`phiguard-<sequence>`), `labels.chain` |
/// | reason | `event.reason` |
/// | actorID, actorRole | `user.id`, `user.roles` |
/// | ruleIDs | `rule.id` (alerts: the alert rule) |
/// | client-address attribute | `source.address` |
/// | patient, session, resource, fields, break-glass, related, other attributes | `labels.*` (dots and other characters become `_`) |
///
/// `event.kind` is `alert` for a ``AuditEventKind/securityAlert`` and `event` otherwise;
/// `event.dataset` is `phiguard.audit`, `event.module` `phiguard`, `ecs.version` ``ecsVersion``.
public struct ECSAuditExporter: Sendable {
    /// The ECS version named in `ecs.version`.
    public static let ecsVersion = "8.11.0"
    /// `service.name`.
    public let serviceName: String
    /// `host.name`, if given.
    public let hostName: String?

    /// An exporter.
    public init(serviceName: String = "phiguard", hostName: String? = nil) {
        self.serviceName = serviceName
        self.hostName = hostName
    }

    /// The ECS document for `record`.
    public func document(for record: AuditRecord) -> [String: any Sendable] {
        let event = record.event
        let (category, type) = Self.categorization(event)
        var ecsEvent: [String: any Sendable] = [
            "kind": event.kind == .securityAlert ? "alert" : "event",
            "category": category,
            "type": type,
            "action": event.kind.rawValue,
            "outcome": event.outcome.isPositive ? "success" : "failure",
            "sequence": Int64(truncatingIfNeeded: record.sequence),
            "id": "phiguard-\(record.sequence)",
            "dataset": "phiguard.audit",
            "module": "phiguard",
            "severity": SyslogAuditExporter.severity(of: event),
        ]
        if let reason = event.reason { ecsEvent["reason"] = reason }
        var document: [String: any Sendable] = [
            "@timestamp": FHIRAuditEventExporter.instant(event.timestamp),
            "ecs": ["version": Self.ecsVersion] as [String: any Sendable],
            "event": ecsEvent,
            "service": ["name": serviceName] as [String: any Sendable],
            "message": "\(event.kind.rawValue) \(event.outcome.rawValue)",
        ]
        if let hostName { document["host"] = ["name": hostName] as [String: any Sendable] }
        if event.actorID != nil || event.actorRole != nil {
            var user: [String: any Sendable] = [:]
            if let actor = event.actorID { user["id"] = actor }
            if let role = event.actorRole { user["roles"] = role.split(separator: "/").map(String.init) }
            document["user"] = user
        }
        if event.kind == .securityAlert, let rule = event.reason {
            document["rule"] = ["id": [rule]] as [String: any Sendable]
        } else if !event.ruleIDs.isEmpty {
            document["rule"] = ["id": event.ruleIDs] as [String: any Sendable]
        }
        if let address = event.attributes["client-address"] {
            document["source"] = ["address": address] as [String: any Sendable]
        }
        var labels: [String: any Sendable] = ["chain": Hex.encode(record.chain)]
        func label(_ name: String, _ value: String?) { if let value { labels[Self.labelName(name)] = value } }
        label("patient_id", event.patientID)
        label("session_id", event.sessionID)
        label("action", event.action)
        label("resource_type", event.resourceType)
        label("resource_id", event.resourceID)
        if !event.fields.isEmpty { label("fields_returned", event.fields.joined(separator: ",")) }
        if event.breakGlass { label("break_glass", "true") }
        label("break_glass_reason", event.breakGlassReason)
        label("related_sequence", event.relatedSequence.map(String.init))
        for (key, value) in event.attributes where key != "client-address" { label("attr_" + key, value) }
        document["labels"] = labels
        return document
    }

    /// The document as one line of sorted-key JSON.
    public func jsonLine(for record: AuditRecord) throws(AuditError) -> String {
        do {
            let data = try JSONSerialization.data(
                withJSONObject: document(for: record), options: [.sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self)
        } catch {
            throw .invalidEvent("record could not be rendered as JSON")
        }
    }

    /// ECS label keys hold no dots: letters, digits and `_` only.
    static func labelName(_ name: String) -> String {
        String(name.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) && $0.isASCII ? Character($0) : "_" })
    }

    /// `event.category` and `event.type` from the ECS allowed values.
    static func categorization(_ event: AuditEvent) -> (category: [String], type: [String]) {
        switch event.kind {
        case .loginSucceeded, .loginFailed: return (["authentication"], ["start"])
        case .mfaEnrolled, .mfaDisabled: return (["authentication", "iam"], ["change"])
        case .mfaVerified, .mfaFailed, .mfaRecoveryCodeUsed: return (["authentication"], ["info"])
        case .sessionCreated: return (["session"], ["start"])
        case .sessionRefreshed: return (["session"], ["info"])
        case .sessionRevoked, .sessionExpired: return (["session"], ["end"])
        case .accessDecision:
            let verdict = event.outcome == .allow ? "allowed" : "denied"
            switch event.action {
            case "create": return (["database"], ["creation", verdict])
            case "update", "patch": return (["database"], ["change", verdict])
            case "delete": return (["database"], ["deletion", verdict])
            default: return (["database"], ["access", verdict])
            }
        case .keyRotated, .policyReloaded: return (["configuration"], ["change"])
        case .breakGlassReviewed: return (["iam"], ["info"])
        case .breakGlassInvoked: return (["iam"], ["creation"])
        case .breakGlassRevoked: return (["iam"], ["deletion"])
        case .breakGlassExpired: return (["iam"], ["change"])
        case .securityAlert, .tamperDetected: return (["intrusion_detection"], ["info"])
        }
    }
}
