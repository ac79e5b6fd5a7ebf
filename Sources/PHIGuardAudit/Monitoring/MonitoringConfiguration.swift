internal import Foundation
internal import Yams

/// The settings of ``SecurityMonitor``'s rules. ``defaults`` is safe for a clinic out of the box; a
/// YAML file (``load(yaml:)``) changes only what it names.
///
/// ```yaml
/// bulk-access: {max-patients: 50, window-minutes: 60}
/// off-hours-access:
///   time-zone: America/New_York
///   roles: {nurse: "06:00-23:00", receptionist: ["07:00-12:00", "13:00-19:00"]}
/// break-glass-unreviewed: {after-hours: 24}
/// denial-probing: {max-patients: 10, window-minutes: 15}
/// lockout-spike: {max-lockouts: 5, window-minutes: 10}
/// credential-stuffing: {max-accounts: 10, window-minutes: 10, address-attribute: client-address}
/// restricted-patient-access: {patients: [MRN-000001], exempt-actors: ["user:privacy-officer"]}
/// limits: {max-tracked-keys: 10000, max-pending-break-glass: 100000}
/// ```
///
/// Every section also takes `enabled: false`, except `break-glass-invoked` and
/// `audit-verification-failed`, which cannot be turned off. Counts are "more than": with
/// `max-patients: 50` the 51st distinct patient raises the alert.
public struct MonitoringConfiguration: Sendable, Hashable {
    /// A "more than `maximum` distinct things within `windowSeconds`" rule.
    public struct WindowRule: Sendable, Hashable {
        /// Whether the rule runs.
        public var enabled: Bool
        /// The most distinct things (patients, accounts, lockouts) allowed in one window.
        public var maximum: Int
        /// The sliding window, in seconds.
        public var windowSeconds: Int64

        /// A window rule.
        public init(enabled: Bool = true, maximum: Int, windowSeconds: Int64) {
            self.enabled = enabled
            self.maximum = maximum
            self.windowSeconds = windowSeconds
        }
    }

    /// A daily window of usual hours, in minutes after local midnight; `end` before `start` wraps past midnight.
    public struct HoursWindow: Sendable, Hashable {
        /// The first minute of the window (0–1439).
        public var start: Int
        /// The minute the window ends (exclusive, 1–1440).
        public var end: Int

        /// A window from `start` to `end` minutes after midnight.
        public init(start: Int, end: Int) {
            self.start = start
            self.end = end
        }

        /// Whether `minute` (minutes after local midnight) is inside the window.
        public func contains(minute: Int) -> Bool {
            start <= end ? (minute >= start && minute < end) : (minute >= start || minute < end)
        }
    }

    /// Usual hours per role.
    public struct OffHoursRule: Sendable, Hashable {
        /// Whether the rule runs.
        public var enabled: Bool
        /// The IANA time zone the hours are in.
        public var timeZone: String
        /// Each role's usual-hours windows. Roles not listed have no usual hours (never alerted).
        public var roles: [String: [HoursWindow]]
        /// After an alert, further off-hours accesses by the same principal are not alerted for this long.
        public var quietSeconds: Int64

        /// An off-hours rule.
        public init(
            enabled: Bool = true, timeZone: String = "UTC", roles: [String: [HoursWindow]] = [:],
            quietSeconds: Int64 = 3600
        ) {
            self.enabled = enabled
            self.timeZone = timeZone
            self.roles = roles
            self.quietSeconds = quietSeconds
        }
    }

    /// More than `maximum` distinct patients read by one principal within the window.
    public var bulkAccess = WindowRule(maximum: 50, windowSeconds: 3600)
    /// Usual hours per role (none configured by default: the rule then never fires).
    public var offHoursAccess = OffHoursRule()
    /// Whether unreviewed break-glass accesses are alerted.
    public var breakGlassUnreviewedEnabled = true
    /// How long a break-glass access may stay unreviewed.
    public var breakGlassReviewSeconds: Int64 = 24 * 3600
    /// More than `maximum` distinct patients denied to one principal within the window.
    public var denialProbing = WindowRule(maximum: 10, windowSeconds: 900)
    /// More than `maximum` lockouts (failed sign-ins with reason `locked-out`) within the window.
    public var lockoutSpike = WindowRule(maximum: 5, windowSeconds: 600)
    /// Failed sign-ins for more than `maximum` distinct accounts from one address within the window.
    public var credentialStuffing = WindowRule(maximum: 10, windowSeconds: 600)
    /// The event attribute that holds the client address of a sign-in.
    public var addressAttribute = "client-address"
    /// Whether accesses to ``restrictedPatients`` are alerted.
    public var restrictedPatientAccessEnabled = true
    /// Restricted patient ids (VIP, employee-patients).
    public var restrictedPatients: Set<String> = []
    /// Principals whose accesses to restricted patients are not alerted (a privacy officer).
    public var restrictedExemptActors: Set<String> = []
    /// The most principals, addresses or patients tracked per rule; beyond it the least recently
    /// seen are forgotten (bounded memory).
    public var maximumTrackedKeys = 10_000
    /// The most break-glass accesses awaiting review that are tracked; beyond it the oldest are forgotten.
    public var maximumPendingBreakGlass = 100_000

    /// The safe defaults.
    public static let defaults = MonitoringConfiguration()

    /// The defaults.
    public init() {}

    /// Whether `rule` runs under this configuration.
    public func isEnabled(_ rule: SecurityAlertRule) -> Bool {
        switch rule {
        case .bulkAccess: bulkAccess.enabled
        case .offHoursAccess: offHoursAccess.enabled && !offHoursAccess.roles.isEmpty
        case .breakGlassInvoked, .auditVerificationFailed: true
        case .breakGlassUnreviewed: breakGlassUnreviewedEnabled
        case .denialProbing: denialProbing.enabled
        case .lockoutSpike: lockoutSpike.enabled
        case .credentialStuffing: credentialStuffing.enabled
        case .restrictedPatientAccess: restrictedPatientAccessEnabled && !restrictedPatients.isEmpty
        }
    }

    /// Reads the YAML file at `path` (at most 1 MiB).
    public static func load(path: String) throws(MonitoringConfigurationError) -> MonitoringConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MonitoringConfigurationError("cannot read the monitoring configuration file", line: nil, column: nil)
        }
        guard data.count <= 1 << 20 else {
            throw MonitoringConfigurationError(
                "the monitoring configuration is larger than 1 MiB", line: nil, column: nil)
        }
        return try load(yaml: String(decoding: data, as: UTF8.self))
    }

    /// Parses a YAML configuration over ``defaults``. Unknown keys, wrong types and out-of-range
    /// values are errors with their line and column; nothing is silently ignored.
    public static func load(yaml: String) throws(MonitoringConfigurationError) -> MonitoringConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw MonitoringConfigurationError(yaml: error)
        } catch {
            throw MonitoringConfigurationError("unreadable YAML", line: nil, column: nil)
        }
        var configuration = MonitoringConfiguration()
        guard let root else { return configuration }
        var reader = MonitoringYAMLReader()
        try reader.read(root, into: &configuration)
        return configuration
    }
}

/// A problem in a monitoring configuration, with its 1-based line and column when known.
public struct MonitoringConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public let message: String
    /// The line (1-based), when known.
    public let line: Int?
    /// The column (1-based), when known.
    public let column: Int?

    /// An error at `line`:`column`.
    public init(_ message: String, line: Int?, column: Int?) {
        self.message = message
        self.line = line
        self.column = column
    }

    init(yaml error: YamlError) {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            self.init(problem, line: mark.line, column: mark.column)
        case .duplicatedKeysInMapping(let duplicates, let context):
            self.init(
                "duplicate key(s): \(duplicates.joined(separator: ", "))", line: context.mark.line,
                column: context.mark.column)
        default:
            self.init("unreadable YAML", line: nil, column: nil)
        }
    }

    /// `line:column: message` (or just the message).
    public var description: String {
        if let line, let column { return "\(line):\(column): \(message)" }
        return message
    }
}

/// Walks the YAML node tree into a configuration; the first problem throws with its location.
private struct MonitoringYAMLReader {
    typealias Failure = MonitoringConfigurationError

    func error(_ message: String, _ node: Node) -> Failure {
        Failure(message, line: node.mark?.line, column: node.mark?.column)
    }

    func mapping(_ node: Node, _ what: String, allowed: Set<String>) throws(Failure) -> [(String, Node, Node)] {
        guard case .mapping(let mapping) = node else { throw error("\(what) must be a mapping", node) }
        var entries: [(String, Node, Node)] = []
        for (key, value) in mapping {
            guard let name = key.scalar?.string else { throw error("a key in \(what) must be a plain name", key) }
            guard allowed.contains(name) else {
                throw error(
                    "unknown key '\(name)' in \(what) (allowed: \(allowed.sorted().joined(separator: ", ")))", key)
            }
            entries.append((name, key, value))
        }
        return entries
    }

    func string(_ node: Node, _ what: String) throws(Failure) -> String {
        guard let scalar = node.scalar else { throw error("\(what) must be a single value", node) }
        return scalar.string
    }

    func integer(_ node: Node, _ what: String, _ range: ClosedRange<Int>) throws(Failure) -> Int {
        guard let value = Int(try string(node, what)), range.contains(value) else {
            throw error("\(what) must be a whole number from \(range.lowerBound) to \(range.upperBound)", node)
        }
        return value
    }

    func bool(_ node: Node, _ what: String) throws(Failure) -> Bool {
        switch try string(node, what) {
        case "true": return true
        case "false": return false
        default: throw error("\(what) must be true or false", node)
        }
    }

    func identifiers(_ node: Node, _ what: String) throws(Failure) -> [String] {
        guard case .sequence(let sequence) = node else { throw error("\(what) must be a list", node) }
        var values: [String] = []
        for item in sequence {
            let value = try string(item, what)
            guard AuditIdentifier.isValid(value) else { throw error("\(what) entries must be audit identifiers", item) }
            values.append(value)
        }
        return values
    }

    func window(
        _ node: Node, _ section: String, countKey: String, into rule: inout MonitoringConfiguration.WindowRule,
        extra: Set<String> = []
    ) throws(Failure) {
        for (key, _, value) in try mapping(
            node, section, allowed: extra.union(["enabled", countKey, "window-minutes"]))
        where !extra.contains(key) {
            switch key {
            case "enabled": rule.enabled = try bool(value, "\(section).enabled")
            case "window-minutes":
                rule.windowSeconds = Int64(try integer(value, "\(section).window-minutes", 1...10_080)) * 60
            default: rule.maximum = try integer(value, "\(section).\(countKey)", 1...1_000_000)
            }
        }
    }

    func hours(_ node: Node, _ what: String) throws(Failure) -> [MonitoringConfiguration.HoursWindow] {
        let items: [Node]
        if case .sequence(let sequence) = node { items = Array(sequence) } else { items = [node] }
        var windows: [MonitoringConfiguration.HoursWindow] = []
        for item in items {
            let text = try string(item, what)
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, let start = Self.minute(parts[0]), let end = Self.minute(parts[1]), start != end
            else { throw error("\(what) must be \"HH:MM-HH:MM\" (or a list of them)", item) }
            windows.append(.init(start: start, end: end == 0 ? 1440 : end))
        }
        return windows
    }

    static func minute(_ text: Substring) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hour = Int(parts[0]),
            let minute = Int(parts[1]), (0...24).contains(hour), (0...59).contains(minute), hour * 60 + minute <= 1440
        else { return nil }
        return hour * 60 + minute
    }

    mutating func read(_ root: Node, into configuration: inout MonitoringConfiguration) throws(Failure) {
        let sections: Set<String> = Set(SecurityAlertRule.allCases.map(\.rawValue)).union(["limits"])
        for (section, key, value) in try mapping(root, "the configuration", allowed: sections) {
            switch section {
            case "bulk-access":
                try window(value, section, countKey: "max-patients", into: &configuration.bulkAccess)
            case "denial-probing":
                try window(value, section, countKey: "max-patients", into: &configuration.denialProbing)
            case "lockout-spike":
                try window(value, section, countKey: "max-lockouts", into: &configuration.lockoutSpike)
            case "credential-stuffing":
                try window(
                    value, section, countKey: "max-accounts", into: &configuration.credentialStuffing,
                    extra: ["address-attribute"])
                for (name, _, item) in try mapping(
                    value, section, allowed: ["enabled", "max-accounts", "window-minutes", "address-attribute"])
                where name == "address-attribute" {
                    let attribute = try string(item, "credential-stuffing.address-attribute")
                    guard AuditIdentifier.isValid(attribute) else {
                        throw error("credential-stuffing.address-attribute must be an audit identifier", item)
                    }
                    configuration.addressAttribute = attribute
                }
            case "off-hours-access":
                for (name, _, item) in try mapping(
                    value, section, allowed: ["enabled", "time-zone", "roles", "quiet-minutes"])
                {
                    switch name {
                    case "enabled": configuration.offHoursAccess.enabled = try bool(item, "off-hours-access.enabled")
                    case "time-zone":
                        let zone = try string(item, "off-hours-access.time-zone")
                        guard TimeZone(identifier: zone) != nil else {
                            throw error("off-hours-access.time-zone is not a known IANA time zone", item)
                        }
                        configuration.offHoursAccess.timeZone = zone
                    case "quiet-minutes":
                        configuration.offHoursAccess.quietSeconds =
                            Int64(try integer(item, "off-hours-access.quiet-minutes", 0...10_080)) * 60
                    default:
                        guard case .mapping(let roles) = item else {
                            throw error("off-hours-access.roles must map role names to hours", item)
                        }
                        var table: [String: [MonitoringConfiguration.HoursWindow]] = [:]
                        for (roleKey, hoursNode) in roles {
                            let role = try string(roleKey, "a role name")
                            guard AuditIdentifier.isValid(role) else {
                                throw error("a role name must be an identifier", roleKey)
                            }
                            table[role] = try hours(hoursNode, "the hours of role '\(role)'")
                        }
                        configuration.offHoursAccess.roles = table
                    }
                }
            case "break-glass-unreviewed":
                for (name, _, item) in try mapping(value, section, allowed: ["enabled", "after-hours"]) {
                    if name == "enabled" {
                        configuration.breakGlassUnreviewedEnabled = try bool(item, "break-glass-unreviewed.enabled")
                    } else {
                        configuration.breakGlassReviewSeconds =
                            Int64(try integer(item, "break-glass-unreviewed.after-hours", 1...8760)) * 3600
                    }
                }
            case "restricted-patient-access":
                for (name, _, item) in try mapping(
                    value, section, allowed: ["enabled", "patients", "exempt-actors"])
                {
                    switch name {
                    case "enabled":
                        configuration.restrictedPatientAccessEnabled = try bool(
                            item, "restricted-patient-access.enabled")
                    case "patients":
                        configuration.restrictedPatients = Set(
                            try identifiers(item, "restricted-patient-access.patients"))
                    default:
                        configuration.restrictedExemptActors = Set(
                            try identifiers(item, "restricted-patient-access.exempt-actors"))
                    }
                }
            case "break-glass-invoked", "audit-verification-failed":
                for (_, _, item) in try mapping(value, section, allowed: ["enabled"])
                where try bool(item, "\(section).enabled") == false {
                    throw error("\(section) cannot be disabled", item)
                }
            case "limits":
                for (name, _, item) in try mapping(
                    value, section, allowed: ["max-tracked-keys", "max-pending-break-glass"])
                {
                    if name == "max-tracked-keys" {
                        configuration.maximumTrackedKeys = try integer(item, "limits.max-tracked-keys", 10...10_000_000)
                    } else {
                        configuration.maximumPendingBreakGlass = try integer(
                            item, "limits.max-pending-break-glass", 10...10_000_000)
                    }
                }
            default:
                throw error("unknown section '\(section)'", key)
            }
        }
    }
}
