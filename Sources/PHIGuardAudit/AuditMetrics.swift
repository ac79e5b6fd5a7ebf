internal import CoreMetrics

/// The labels of the swift-metrics counters ``AuditLog`` and ``AuditVerifier`` increment.
///
/// Every dimension value comes from a closed set (never an event field, identifier or row), so
/// cardinality is bounded. Both types make their counters with the factory they are given (by
/// default `MetricsSystem.factory`, which the app bootstraps; PHIGuard never bootstraps it).
///
/// | Label | Dimensions | Incremented when |
/// |---|---|---|
/// | `phiguard_audit_append_failures_total` | `reason`: `sink-unavailable`, `sink-failed` or `closed` | ``AuditLog/append(_:durability:)`` throws (so also a refused ``AuditLog/performAudited(_:_:)``) |
/// | `phiguard_audit_verification_failures_total` | `kind`: an ``AuditChainBreak/Kind`` raw value | ``AuditVerifier`` reports a broken log |
/// | `phiguard_security_alerts_total` | `rule`: a ``SecurityAlertRule`` raw value | ``SecurityAlertDispatcher`` dispatches an alert |
/// | `phiguard_security_alert_delivery_failures_total` | `target`: `audit-log` or `sink` | an alert could not be recorded or delivered |
public enum AuditMetricLabel {
    /// Appends that threw (the event was not recorded, or its commit failed), with dimension `reason`.
    public static let appendFailures = "phiguard_audit_append_failures_total"
    /// Verifications that found a break, with dimension `kind` (``AuditChainBreak/Kind``). A source
    /// that cannot be read throws ``AuditError/storageFailure(_:)`` and is not counted here.
    public static let verificationFailures = "phiguard_audit_verification_failures_total"
    /// Security alerts dispatched, with dimension `rule` (``SecurityAlertRule``).
    public static let securityAlerts = "phiguard_security_alerts_total"
    /// Alerts that could not be chained into the log (`target`: `audit-log`) or delivered to an
    /// ``AlertSink`` (`target`: `sink`).
    public static let securityAlertDeliveryFailures = "phiguard_security_alert_delivery_failures_total"
}

/// The log's counters, made once.
struct AuditAppendCounters: Sendable {
    private let failures: [String: Counter]

    init(factory: any MetricsFactory) {
        var failures: [String: Counter] = [:]
        for reason in AuditError.appendFailureReasons {
            failures[reason] = Counter(
                label: AuditMetricLabel.appendFailures, dimensions: [("reason", reason)], factory: factory)
        }
        self.failures = failures
    }

    /// Counts an append that threw `error`.
    func recordFailure(_ error: AuditError) {
        failures[error.appendFailureReason]?.increment()
    }
}

/// The verifier's counters, made once.
struct AuditVerificationCounters: Sendable {
    private let failures: [AuditChainBreak.Kind: Counter]

    init(factory: any MetricsFactory) {
        var failures: [AuditChainBreak.Kind: Counter] = [:]
        for kind in AuditChainBreak.Kind.allCases {
            failures[kind] = Counter(
                label: AuditMetricLabel.verificationFailures, dimensions: [("kind", kind.rawValue)], factory: factory)
        }
        self.failures = failures
    }

    /// Counts `report` if it is broken; returns it unchanged.
    func record(_ report: AuditVerificationReport) -> AuditVerificationReport {
        if let found = report.chainBreak { failures[found.kind]?.increment() }
        return report
    }
}

extension AuditError {
    /// The `reason` dimension values of ``AuditMetricLabel/appendFailures``: the closed set below.
    static let appendFailureReasons = ["sink-unavailable", "sink-failed", "closed", "other"]

    /// The dimension value for an append that threw this error (`other` for cases an append does not throw).
    var appendFailureReason: String {
        switch self {
        case .sinkUnavailable: "sink-unavailable"
        case .sinkFailed: "sink-failed"
        case .closed: "closed"
        case .invalidIdentifier, .invalidEvent, .unwrittenEvents, .invalidKey, .secureMemoryFailure, .storageFailure,
            .malformedCheckpoint:
            "other"
        }
    }
}
