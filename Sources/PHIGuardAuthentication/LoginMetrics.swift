internal import CoreMetrics

/// The labels of the swift-metrics counters ``LoginFlow`` increments.
///
/// The only dimension is `reason`, from the closed set ``AuthenticationFailureReason`` (never a
/// login name, account id or address), so cardinality is bounded. The flow makes its counters with
/// the factory it is given (by default `MetricsSystem.factory`, which the app bootstraps; PHIGuard
/// never bootstraps it).
///
/// | Label | Dimensions | Incremented when |
/// |---|---|---|
/// | `phiguard_login_failures_total` | `reason`: an ``AuthenticationFailureReason`` raw value | a sign-in, second-factor or step-up attempt fails (the same events the audit log records as failed) |
/// | `phiguard_account_lockouts_total` | none | a failure starts a lockout of a login name or account |
public enum LoginMetricLabel {
    /// Failed sign-in steps, with dimension `reason` (``AuthenticationFailureReason``).
    public static let failedSignIns = "phiguard_login_failures_total"
    /// Lockouts started by repeated failures.
    public static let lockouts = "phiguard_account_lockouts_total"
}

/// The flow's counters, made once.
struct LoginCounters: Sendable {
    private let failures: [AuthenticationFailureReason: Counter]
    private let lockouts: Counter

    init(factory: any MetricsFactory) {
        var failures: [AuthenticationFailureReason: Counter] = [:]
        for reason in AuthenticationFailureReason.allCases {
            failures[reason] = Counter(
                label: LoginMetricLabel.failedSignIns, dimensions: [("reason", reason.rawValue)], factory: factory)
        }
        self.failures = failures
        lockouts = Counter(label: LoginMetricLabel.lockouts, dimensions: [], factory: factory)
    }

    /// Counts a failed step.
    func recordFailure(_ reason: AuthenticationFailureReason) {
        failures[reason]?.increment()
    }

    /// Counts a lockout that started.
    func recordLockout() {
        lockouts.increment()
    }
}
