public import CoreMetrics
import Foundation
public import Logging
internal import PHIGuardCrypto

/// The runtime holder of the current policy: decides requests, issues break-glass grants, and swaps
/// in a new policy atomically.
///
/// Every decision reads the policy reference once, so concurrent readers see the old policy or the
/// new one, never a mix.
///
/// ```swift
/// let engine = AccessEngine(policy: try CompiledPolicy(yaml: policyText), careTeams: myDirectory)
/// let decision = engine.decide(session.principal, .read, chart)   // an AuthenticatedPrincipal only
/// try engine.replacePolicy(yaml: updatedText)   // all-or-nothing; the old policy stays on error
/// ```
public final class AccessEngine: @unchecked Sendable {
    // @unchecked Sendable: the only mutable state, `current`, is behind PHIGuard's lock (`Locked`,
    // which ThreadSanitizer sees); every other stored property is an immutable `let` of a Sendable type.
    private let current: Locked<CompiledPolicy>
    /// The clock used for break-glass issue/expiry and time-of-day conditions.
    public let clock: any PHIGuardClock
    /// The app's care-team lookup, used when a subject arrives without ``Subject/careTeamPatients``.
    public let careTeams: (any CareTeamDirectory)?
    private let logger: Logger
    private let counters: AccessCounters

    /// Creates an engine with an initial policy.
    ///
    /// - Parameters:
    ///   - policy: the policy in force until ``replacePolicy(_:)``.
    ///   - clock: the time source for break-glass grants and time-of-day conditions.
    ///   - careTeams: the app's care-team lookup.
    ///   - logger: where policy swaps and break-glass grants are logged.
    ///   - metrics: makes the counters of denied decisions and break-glass grants (labels in
    ///     ``AccessMetricLabel``); the process-wide `MetricsSystem.factory` by default.
    public init(
        policy: CompiledPolicy, clock: any PHIGuardClock = SystemClock(), careTeams: (any CareTeamDirectory)? = nil,
        logger: Logger = Logger(label: "phiguard.access"), metrics: any MetricsFactory = MetricsSystem.factory
    ) {
        self.current = Locked(policy)
        self.clock = clock
        self.careTeams = careTeams
        self.logger = logger
        self.counters = AccessCounters(factory: metrics)
    }

    /// The policy in force now (a snapshot: keep it for a batch of decisions if you like).
    public var policy: CompiledPolicy { current.withLock { $0 } }

    /// Installs `policy` for all later decisions and returns the one it replaced.
    @discardableResult
    public func replacePolicy(_ policy: CompiledPolicy) -> CompiledPolicy {
        let old = current.withLock { current in
            let old = current
            current = policy
            return old
        }
        logger.info(
            "access policy replaced",
            metadata: [
                "generation": "\(policy.generation)", "previous": "\(old.generation)",
                "roles": "\(policy.roles.count)", "rules": "\(policy.source.rules.count)",
            ])
        return old
    }

    /// Parses, validates and compiles `yaml`, then installs it; on any error the current policy stays.
    @discardableResult
    public func replacePolicy(yaml: String) throws(PolicyValidationError) -> CompiledPolicy {
        let compiled: CompiledPolicy
        do {
            compiled = try CompiledPolicy(yaml: yaml)
        } catch {
            logger.warning("access policy rejected", metadata: ["problems": "\(error.issues.count)"])
            throw error
        }
        return replacePolicy(compiled)
    }

    /// Decides whether `principal` may perform `action` on `resource`, under the current policy.
    ///
    /// Only an ``AuthenticatedPrincipal`` is accepted: a registering, recovering or second-factor-pending
    /// session has none, so it cannot reach this call. As defence in depth the engine also denies
    /// a principal past its ``AuthenticatedPrincipal/validUntil`` (``AccessDecision/Reason/authenticationExpired``)
    /// and, for sensitive actions, one whose last proof of credentials is older than
    /// `recentAuthentication` (``AccessDecision/Reason/recentAuthenticationRequired``: ask for a step-up).
    /// Every denial is counted under ``AccessMetricLabel/deniedDecisions`` with its reason.
    ///
    /// ```swift
    /// let decision = engine.decide(session.principal, .read, chart)
    /// let export = engine.decide(session.principal, .export, chart, recentAuthentication: .seconds(300))
    /// ```
    public func decide(
        _ principal: AuthenticatedPrincipal, _ action: AccessAction, _ resource: Resource,
        breakGlass: BreakGlassGrant? = nil, recentAuthentication: Duration? = nil
    ) -> AccessDecision {
        decided(principal, resource, recentAuthentication: recentAuthentication, breakGlass: breakGlass) {
            policy, subject in
            policy.decide(
                subject, action, resource, breakGlass: breakGlass, principal: principal, careTeams: careTeams,
                clock: clock)
        }
    }

    /// Decides for a pre-resolved target (``CompiledPolicy/target(resourceType:action:)``): the fast path.
    public func decide(
        _ principal: AuthenticatedPrincipal, _ target: DecisionTarget, _ resource: Resource,
        breakGlass: BreakGlassGrant? = nil, recentAuthentication: Duration? = nil
    ) -> AccessDecision {
        decided(principal, resource, recentAuthentication: recentAuthentication, breakGlass: breakGlass) {
            policy, subject in
            policy.decide(
                subject, target, resource, breakGlass: breakGlass, principal: principal, careTeams: careTeams,
                clock: clock)
        }
    }

    /// The engine's own refusals first (expired principal, stale authentication), then the policy's
    /// answer; every decision is counted.
    @inline(__always)
    private func decided(
        _ principal: AuthenticatedPrincipal, _ resource: Resource, recentAuthentication: Duration?,
        breakGlass: BreakGlassGrant?, _ evaluate: (CompiledPolicy, PreparedSubject) -> AccessDecision
    ) -> AccessDecision {
        let policy = self.policy
        let decision =
            refusal(
                of: principal, resource, recentAuthentication: recentAuthentication, breakGlass: breakGlass,
                policy: policy)
            ?? evaluate(policy, principal.prepared(for: policy))
        counters.record(decision)
        return decision
    }

    /// Resolves a resource type and action once under the current policy, for ``decide(_:_:_:breakGlass:recentAuthentication:)-(_,DecisionTarget,_,_,_)``.
    public func target(resourceType: String, action: AccessAction) -> DecisionTarget {
        policy.target(resourceType: resourceType, action: action)
    }

    /// Issues a break-the-glass grant to `principal` for the patients in `scope`, bound to its
    /// session and time-stamped by the engine's clock.
    ///
    /// This only checks and mints the grant; it neither audits nor stores it. Applications call
    /// `EmergencyAccess.invoke` in `PHIGuardRecords`, which audits (`break-glass.invoked`, fail
    /// closed) and stores the grant so that it survives a restart, can be revoked and is reviewed.
    /// The grant is logged (id, purpose, expiry; never the justification text or patient ids) and
    /// counted (``AccessMetricLabel/breakGlassGrants``).
    public func breakGlass(
        for principal: AuthenticatedPrincipal, scope: BreakGlassScope, reason: BreakGlassReason,
        duration: Duration? = nil
    ) throws(BreakGlassError) -> BreakGlassGrant {
        let now = clock.now
        guard now < principal.validUntil else { throw .notPermitted }
        let grant = try policy.breakGlass(
            for: principal.subject, scope: scope, reason: reason, duration: duration, now: now,
            sessionHandle: principal.sessionHandle, sessionAuthenticatedAt: principal.recentlyAuthenticatedAt)
        issued(grant)
        return grant
    }

    private func issued(_ grant: BreakGlassGrant) {
        logger.notice(
            "break-the-glass grant issued",
            metadata: [
                "grant": "\(grant.id)", "category": "\(grant.reason.category.rawValue)",
                "patients": "\(grant.scope.patientIDs.count)", "expiresAt": "\(grant.expiresAt.timeIntervalSince1970)",
            ])
        counters.recordGrant(grant.reason.category)
    }

    private func refusal(
        of principal: AuthenticatedPrincipal, _ resource: Resource, recentAuthentication: Duration?,
        breakGlass: BreakGlassGrant?, policy: CompiledPolicy
    ) -> AccessDecision? {
        let now = clock.now
        let reason: AccessDecision.Reason
        if now >= principal.validUntil {
            reason = .authenticationExpired
        } else if let recentAuthentication, !principal.isRecentlyAuthenticated(within: recentAuthentication, at: now) {
            reason = .recentAuthenticationRequired
        } else {
            return nil
        }
        // A refused request that carried a grant is still flagged for review, with the grant's status.
        let status = breakGlass.map { grant in
            policy.breakGlassStatus(
                of: grant, subjectID: principal.subject.id, principal: principal,
                roles: principal.prepared(for: policy).roles, patientID: resource.patientID, now: now)
        }
        return .refused(reason, policy: policy, breakGlass: breakGlass, status: status)
    }

    // MARK: Policy evaluation without a principal (tools, tests, benchmarks)

    /// Decides `request` for an arbitrary subject, under the current policy.
    ///
    /// Policy tooling only (what-if queries, policy tests, benchmarks): behind the `PolicyEvaluation`
    /// SPI so application code must opt in with `@_spi(PolicyEvaluation) import PHIGuardAccess`, which
    /// a reviewer will see. Serve PHI with ``decide(_:_:_:breakGlass:recentAuthentication:)-(AuthenticatedPrincipal,AccessAction,_,_,_)``.
    @_spi(PolicyEvaluation)
    public func decide(_ request: AccessRequest) -> AccessDecision {
        policy.decide(request, careTeams: careTeams, clock: clock)
    }

    /// Decides for a prepared subject under the current policy (policy tooling only; see ``decide(_:)``).
    @_spi(PolicyEvaluation)
    public func decide(
        _ subject: PreparedSubject, _ action: AccessAction, _ resource: Resource, breakGlass: BreakGlassGrant? = nil
    ) -> AccessDecision {
        policy.decide(subject, action, resource, breakGlass: breakGlass, careTeams: careTeams, clock: clock)
    }

    /// Explains `request` under the current policy, rule by rule (policy tooling only).
    @_spi(PolicyEvaluation)
    public func explain(_ request: AccessRequest) -> AccessExplanation {
        policy.explain(request, careTeams: careTeams, clock: clock)
    }

    /// Issues a break-the-glass grant to an arbitrary subject (policy tooling only; applications use
    /// ``breakGlass(for:scope:reason:duration:)-(AuthenticatedPrincipal,_,_,_)``).
    @_spi(PolicyEvaluation)
    public func breakGlass(
        for subject: Subject, scope: BreakGlassScope, reason: BreakGlassReason, duration: Duration? = nil
    ) throws(BreakGlassError) -> BreakGlassGrant {
        let grant = try policy.breakGlass(
            for: subject, scope: scope, reason: reason, duration: duration, now: clock.now)
        issued(grant)
        return grant
    }
}
