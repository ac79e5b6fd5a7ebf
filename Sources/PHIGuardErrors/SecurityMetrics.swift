public import CoreMetrics

/// swift-metrics counters for security events: denied decisions, failed logins, lockouts and
/// break-glass grants.
///
/// The app (or the portal) calls these where the events happen; nothing is counted implicitly by
/// ``ErrorReporter``, so nothing is counted twice. The labels are stable (see ``Label``); a failed
/// login carries one dimension, `reason`, from the closed set ``AuthenticationFailure/Reason``, so
/// no identifier or PHI can become a dimension and cardinality stays bounded.
///
/// ```swift
/// let metrics = SecurityMetrics()                       // uses MetricsSystem.factory
/// metrics.recordFailedLogin(.wrongPassword)
/// ```
public struct SecurityMetrics: Sendable {
    /// The stable counter labels.
    public enum Label {
        /// Access decisions that denied.
        public static let deniedDecisions = "phiguard_access_denied_total"
        /// Failed sign-ins, with dimension `reason`.
        public static let failedLogins = "phiguard_login_failures_total"
        /// Accounts locked after too many failures.
        public static let lockouts = "phiguard_account_lockouts_total"
        /// Break-glass (emergency access) grants.
        public static let breakGlassGrants = "phiguard_break_glass_grants_total"
    }

    private let deniedDecisions: Counter
    private let failedLogins: [AuthenticationFailure.Reason: Counter]
    private let lockouts: Counter
    private let breakGlassGrants: Counter

    /// Counters made by `factory` (by default the process-wide `MetricsSystem.factory`, which the
    /// app bootstraps; this type never bootstraps it).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        deniedDecisions = Counter(label: Label.deniedDecisions, dimensions: [], factory: factory)
        var failed: [AuthenticationFailure.Reason: Counter] = [:]
        for reason in AuthenticationFailure.Reason.allCases {
            failed[reason] = Counter(
                label: Label.failedLogins, dimensions: [("reason", reason.rawValue)], factory: factory)
        }
        failedLogins = failed
        lockouts = Counter(label: Label.lockouts, dimensions: [], factory: factory)
        breakGlassGrants = Counter(label: Label.breakGlassGrants, dimensions: [], factory: factory)
    }

    /// Counts an access decision that denied.
    public func recordDeniedDecision() {
        deniedDecisions.increment()
    }

    /// Counts a failed sign-in with its internal reason.
    public func recordFailedLogin(_ reason: AuthenticationFailure.Reason) {
        failedLogins[reason]?.increment()
    }

    /// Counts an account lockout.
    public func recordLockout() {
        lockouts.increment()
    }

    /// Counts a break-glass grant.
    public func recordBreakGlassGrant() {
        breakGlassGrants.increment()
    }
}
