public import CoreMetrics
public import Foundation
public import Logging

#if canImport(FoundationNetworking)
    internal import FoundationNetworking
#endif

/// Where ``SecurityAlertDispatcher`` delivers alerts. PHIGuard ships ``StandardOutputAlertSink``,
/// ``FileAlertSink`` and ``WebhookAlertSink``; implement it for a pager or a ticket system.
public protocol AlertSink: Sendable {
    /// Delivers one alert; throws ``AlertDeliveryError`` when it could not.
    func deliver(_ alert: SecurityAlert) async throws(AlertDeliveryError)
}

/// An alert could not be delivered. The text never holds the alert or a URL's credentials.
public struct AlertDeliveryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why.
    public let reason: String

    /// An error for `reason`.
    public init(_ reason: String) { self.reason = reason }

    /// `alert delivery failed: <reason>`.
    public var description: String { "alert delivery failed: \(reason)" }
}

/// Writes each alert as one line of JSON (``SecurityAlert/jsonLine()``) to standard output.
public struct StandardOutputAlertSink: AlertSink {
    /// A sink writing to standard output.
    public init() {}

    /// Writes the alert's JSON line and a newline.
    public func deliver(_ alert: SecurityAlert) async throws(AlertDeliveryError) {
        let bytes = Data((alert.jsonLine() + "\n").utf8)
        do {
            try FileHandle.standardOutput.write(contentsOf: bytes)
        } catch {
            throw AlertDeliveryError("standard output is not writable")
        }
    }
}

/// Appends each alert as one line of JSON to a file (created with mode 0600 if missing).
public struct FileAlertSink: AlertSink {
    /// The file.
    public let path: String

    /// A sink appending to `path`.
    public init(path: String) { self.path = path }

    /// Appends the alert's JSON line with one `write` on a descriptor opened `O_APPEND`, so
    /// concurrent writers never interleave within a line.
    public func deliver(_ alert: SecurityAlert) async throws(AlertDeliveryError) {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw AlertDeliveryError("the alert file cannot be opened") }
        defer { close(descriptor) }
        let bytes = Array((alert.jsonLine() + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw AlertDeliveryError("the alert file could not be written") }
    }
}

/// POSTs each alert as a JSON object (``SecurityAlert/jsonLine()``, `Content-Type: application/json`)
/// to a URL; any status outside 200–299, a timeout or a connection failure is an error.
public struct WebhookAlertSink: AlertSink {
    /// The endpoint.
    public let url: URL
    /// Extra request headers (for example an `Authorization` token). Never logged.
    public let headers: [String: String]
    /// The request timeout in seconds.
    public let timeout: TimeInterval

    /// A sink posting to `url`, which must be `http` or `https` (use `https` beyond loopback).
    public init(url: URL, headers: [String: String] = [:], timeout: TimeInterval = 10) throws(AlertDeliveryError) {
        guard let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http", url.host != nil else {
            throw AlertDeliveryError("the webhook URL must be http or https with a host")
        }
        self.url = url
        self.headers = headers
        self.timeout = timeout
    }

    /// Posts the alert.
    public func deliver(_ alert: SecurityAlert) async throws(AlertDeliveryError) {
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = Data(alert.jsonLine().utf8)
        let response: URLResponse
        do {
            (_, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw AlertDeliveryError("the webhook could not be reached")
        }
        guard let status = (response as? HTTPURLResponse)?.statusCode, (200..<300).contains(status) else {
            throw AlertDeliveryError("the webhook answered with a non-success status")
        }
    }
}

/// Sends each alert everywhere it must go: chained into the audit log as an event
/// (``SecurityAlert/auditEvent()``), counted (``AuditMetricLabel/securityAlerts``), logged as a
/// warning (rule, severity, sequence and count only), and delivered to every sink.
///
/// A failure in one place never stops the others; failures are counted
/// (``AuditMetricLabel/securityAlertDeliveryFailures``), logged, and returned.
public struct SecurityAlertDispatcher: Sendable {
    private let sinks: [any AlertSink]
    private let log: AuditLog?
    private let logger: Logger
    private let alertCounters: [SecurityAlertRule: Counter]
    private let logFailures: Counter
    private let sinkFailures: Counter

    /// A dispatcher recording alerts in `log` (when given) and delivering them to `sinks`.
    public init(
        sinks: [any AlertSink], log: AuditLog? = nil, logger: Logger = Logger(label: "phiguard.monitoring"),
        metrics: any MetricsFactory = MetricsSystem.factory
    ) {
        self.sinks = sinks
        self.log = log
        self.logger = logger
        var counters: [SecurityAlertRule: Counter] = [:]
        for rule in SecurityAlertRule.allCases {
            counters[rule] = Counter(
                label: AuditMetricLabel.securityAlerts, dimensions: [("rule", rule.rawValue)], factory: metrics)
        }
        alertCounters = counters
        logFailures = Counter(
            label: AuditMetricLabel.securityAlertDeliveryFailures, dimensions: [("target", "audit-log")],
            factory: metrics)
        sinkFailures = Counter(
            label: AuditMetricLabel.securityAlertDeliveryFailures, dimensions: [("target", "sink")], factory: metrics)
    }

    /// Dispatches `alert`; returns the failures (empty when everything succeeded).
    @discardableResult
    public func dispatch(_ alert: SecurityAlert) async -> [any Error] {
        alertCounters[alert.rule]?.increment()
        logger.warning(
            "security alert",
            metadata: [
                "rule": "\(alert.rule.rawValue)", "severity": "\(alert.severity.rawValue)",
                "sequence": "\(alert.sequence.map(String.init) ?? "-")", "count": "\(alert.count)",
            ])
        var failures: [any Error] = []
        if let log {
            do {
                try await log.append(try alert.auditEvent())
            } catch {
                logFailures.increment()
                logger.error("security alert could not be recorded in the audit log", metadata: ["error": "\(error)"])
                failures.append(error)
            }
        }
        for sink in sinks {
            do {
                try await sink.deliver(alert)
            } catch {
                sinkFailures.increment()
                logger.error("security alert could not be delivered", metadata: ["error": "\(error)"])
                failures.append(error)
            }
        }
        return failures
    }
}
