internal import CoreMetrics

/// The labels of the swift-metrics counters ``AccessEngine`` increments.
///
/// Every dimension value comes from a closed enum (never a subject, resource or grant id), so
/// cardinality is bounded. The engine makes its counters with the factory it is given (by default
/// `MetricsSystem.factory`, which the app bootstraps; PHIGuard never bootstraps it).
///
/// | Label | Dimensions | Incremented when |
/// |---|---|---|
/// | `phiguard_access_denied_total` | `reason`: a denying ``AccessDecision/Reason`` raw value | ``AccessEngine`` denies a principal's request |
/// | `phiguard_break_glass_grants_total` | `category`: a ``BreakGlassReason/Category`` raw value | ``AccessEngine`` issues a break-glass grant |
public enum AccessMetricLabel {
    /// Denied decisions for an `AuthenticatedPrincipal`, with dimension `reason`
    /// (``AccessDecision/Reason``). Policy-tooling decisions (SPI `PolicyEvaluation`) are not counted.
    public static let deniedDecisions = "phiguard_access_denied_total"
    /// Break-glass grants issued by ``AccessEngine``, with dimension `category` (``BreakGlassReason/Category``).
    public static let breakGlassGrants = "phiguard_break_glass_grants_total"
}

/// The engine's counters, made once so a decision only looks one up.
struct AccessCounters: Sendable {
    private let denied: [AccessDecision.Reason: Counter]
    private let breakGlass: [BreakGlassReason.Category: Counter]

    init(factory: any MetricsFactory) {
        var denied: [AccessDecision.Reason: Counter] = [:]
        for reason in AccessDecision.Reason.allCases where !reason.isAllowing {
            denied[reason] = Counter(
                label: AccessMetricLabel.deniedDecisions, dimensions: [("reason", reason.rawValue)], factory: factory)
        }
        self.denied = denied
        var breakGlass: [BreakGlassReason.Category: Counter] = [:]
        for category in BreakGlassReason.Category.allCases {
            breakGlass[category] = Counter(
                label: AccessMetricLabel.breakGlassGrants, dimensions: [("category", category.rawValue)],
                factory: factory)
        }
        self.breakGlass = breakGlass
    }

    /// Counts `decision` if it denied.
    func record(_ decision: AccessDecision) {
        guard !decision.isAllowed else { return }
        denied[decision.reason]?.increment()
    }

    /// Counts a grant issued for `category`.
    func recordGrant(_ category: BreakGlassReason.Category) {
        breakGlass[category]?.increment()
    }
}

extension AccessDecision.Reason {
    /// Whether a decision with this reason allows.
    var isAllowing: Bool { self == .allowed || self == .allowedByBreakGlass }
}
