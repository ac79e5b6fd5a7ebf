public import Foundation

/// The JSON/YAML form of a request, used by `phiguard policy check`, batch mode and policy test files.
///
/// ```json
/// {"subject": {"id": "u-7", "roles": ["nurse"], "careTeamPatients": ["p-1"]},
///  "action": "read",
///  "resource": {"type": "chart", "id": "c-1", "patientID": "p-1", "labels": []},
///  "time": "2026-01-15T12:00:00Z",
///  "breakGlass": {"category": "ETREAT", "justification": "collapsed in the lobby"}}
/// ```
///
/// `time` is when the request is decided (default: now). `breakGlass` invokes emergency access for the
/// subject at that time, for `patients` (default: the resource's patient), and decides under the
/// resulting grant.
public struct AccessRequestDocument: Codable, Sendable, Hashable {
    /// The subject part.
    public struct SubjectDocument: Codable, Sendable, Hashable {
        /// ``Subject/id``.
        public var id: String
        /// ``Subject/roles``.
        public var roles: [String]
        /// ``Subject/patientID``.
        public var patientID: String?
        /// ``Subject/careTeamPatients``.
        public var careTeamPatients: [String]?
        /// ``Subject/attributes``.
        public var attributes: [String: String]?
    }

    /// The resource part.
    public struct ResourceDocument: Codable, Sendable, Hashable {
        /// ``Resource/type``.
        public var type: String
        /// ``Resource/id``.
        public var id: String?
        /// ``Resource/patientID``.
        public var patientID: String?
        /// ``Resource/labels``.
        public var labels: [String]?
        /// ``Resource/attributes``.
        public var attributes: [String: String]?
    }

    /// The break-glass invocation part.
    public struct BreakGlassDocument: Codable, Sendable, Hashable {
        /// ``BreakGlassReason/category``.
        public var category: BreakGlassReason.Category
        /// ``BreakGlassReason/justification``.
        public var justification: String
        /// Seconds; default the policy's maximum.
        public var durationSeconds: Int?
        /// Seconds before `time` that the grant was issued (to test expiry); default 0.
        public var issuedSecondsBefore: Int?
        /// ``BreakGlassGrant/scope``; default the resource's patient.
        public var patients: [String]?
    }

    /// Who asks.
    public var subject: SubjectDocument
    /// The action name.
    public var action: String
    /// What is accessed.
    public var resource: ResourceDocument
    /// When (ISO 8601); default now.
    public var time: String?
    /// Invoke break-glass first.
    public var breakGlass: BreakGlassDocument?

    /// Why a request document cannot be turned into a request.
    public enum Problem: Error, Sendable, Hashable, CustomStringConvertible {
        /// `time` is not an ISO 8601 date-time.
        case invalidTime
        /// Break-glass could not be invoked.
        case breakGlass(BreakGlassError)

        /// A short explanation.
        public var description: String {
            switch self {
            case .invalidTime: "time must be an ISO 8601 date-time such as 2026-01-15T12:00:00Z"
            case .breakGlass(let error): "break-glass: \(error)"
            }
        }
    }

    /// The request, and the instant it is decided at, under `policy`: the document's `time`, or
    /// `now` (by default the system clock's wall reading) if it has none.
    public func request(under policy: CompiledPolicy, now: Date = SystemClock().now) throws(Problem)
        -> (AccessRequest, Date)
    {
        var at = now
        if let time {
            let formatter = ISO8601DateFormatter()
            guard let parsed = formatter.date(from: time) else { throw .invalidTime }
            at = parsed
        }
        let subject = Subject(
            id: self.subject.id, roles: self.subject.roles, patientID: self.subject.patientID,
            careTeamPatients: self.subject.careTeamPatients.map(Set.init), attributes: self.subject.attributes ?? [:])
        let resource = Resource(
            type: self.resource.type, id: self.resource.id ?? "", patientID: self.resource.patientID,
            labels: Set(self.resource.labels ?? []), attributes: self.resource.attributes ?? [:])
        var grant: BreakGlassGrant?
        if let breakGlass {
            let issued = at.addingTimeInterval(-Double(breakGlass.issuedSecondsBefore ?? 0))
            do {
                let scope = BreakGlassScope(patients: breakGlass.patients ?? resource.patientID.map { [$0] } ?? [])
                grant = try policy.breakGlass(
                    for: subject, scope: scope,
                    reason: BreakGlassReason(category: breakGlass.category, justification: breakGlass.justification),
                    duration: breakGlass.durationSeconds.map { .seconds($0) }, now: issued)
            } catch {
                throw .breakGlass(error)
            }
        }
        return (
            AccessRequest(subject: subject, action: AccessAction(action), resource: resource, breakGlass: grant), at
        )
    }
}

/// The JSON form of a decision, as printed by `phiguard policy check`.
public struct AccessDecisionDocument: Codable, Sendable, Hashable {
    /// ``AccessDecision/isAllowed``.
    public var allowed: Bool
    /// ``AccessDecision/reason``.
    public var reason: AccessDecision.Reason
    /// ``AccessDecision/visibleFields``.
    public var fields: [String]
    /// ``AccessDecision/decidingRuleIDs``.
    public var rules: [String]
    /// ``AccessDecision/breakGlassStatus``.
    public var breakGlass: AccessDecision.BreakGlassStatus?
    /// ``AccessDecision/requiresAuditReview``.
    public var auditReview: Bool

    /// The document for `decision`.
    public init(_ decision: AccessDecision) {
        allowed = decision.isAllowed
        reason = decision.reason
        fields = decision.visibleFields
        rules = decision.decidingRuleIDs
        breakGlass = decision.breakGlassStatus
        auditReview = decision.requiresAuditReview
    }
}
