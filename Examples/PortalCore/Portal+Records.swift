public import Foundation
internal import PHIGuardAccess
internal import PHIGuardAudit
internal import PHIGuardAuthentication
internal import PHIGuardErrors
public import PHIGuardRecords

/// One patient-index entry as a user may see it: only the fields the policy lets them see.
public struct PatientSummary: Sendable, Hashable {
    /// The patient id.
    public let patientID: String
    /// Visible fields (`name`, `birth-date`, `mrn`, `ssn`), decrypted.
    public let fields: [String: String]
}

/// One page of ``Portal/listPatients(token:search:sort:cursor:limit:)``.
public struct PatientPage: Sendable {
    /// The patients on this page.
    public let patients: [PatientSummary]
    /// The cursor of the next page (`nil` when there is none): opaque, MAC'd, bound to this user,
    /// session and query.
    public let nextCursor: String?
}

/// What ``Portal/listPatients(token:search:sort:cursor:limit:)`` searches for: exact values through the
/// blind indexes (the name case-insensitively). Every value given must match.
public struct PatientSearch: Sendable, Hashable {
    /// The medical record number.
    public var mrn: String?
    /// The full name.
    public var name: String?
    /// The date of birth, `YYYY-MM-DD`.
    public var birthDate: String?

    /// A search (all `nil`: list everything the user may see).
    public init(mrn: String? = nil, name: String? = nil, birthDate: String? = nil) {
        self.mrn = mrn
        self.name = name
        self.birthDate = birthDate
    }

    /// A search from the filters a client sent (field name → value, as `filter.<field>` parameters
    /// of a list request arrive): `mrn`, `name` and `birth-date`. Any other name is
    /// ``PortalError/invalidInput(_:)`` (`filter field`): a name is looked up, never put in a query.
    public init(filters: [String: String]) throws(PortalError) {
        self.init()
        for (field, value) in filters {
            switch field {
            case "mrn": mrn = value
            case "name": name = value
            case "birth-date": birthDate = value
            default: throw .invalidInput("filter field")
            }
        }
    }

    var filters: [RecordFilter] {
        [("mrn", mrn), ("name", name), ("birth-date", birthDate)].compactMap { field, value in
            value.map { RecordFilter.equals(field: field, value: $0) }
        }
    }
}

/// How ``Portal/listPatients(token:search:sort:cursor:limit:)`` orders its pages: the library's
/// `RecordOrder` (by id, the default; by patient id; or by a patient-index field; ascending or
/// descending), under the portal's name.
///
/// A field sort is checked twice: a name the patient index does not have is
/// ``PortalError/invalidInput(_:)`` (`sort field`), and `GuardedRecords.list` refuses (audited) a
/// sort on an encrypted field or one the user may not read, whatever the data. Every patient-index
/// field is encrypted, so today only `id` and `patient` sort.
public typealias PatientSort = RecordOrder

extension RecordOrder {
    /// Parses a client's sort parameter (`--sort` on the command line): `id`, `patient` or a field
    /// name, with a leading `-` for descending. An empty name is ``PortalError/invalidInput(_:)``;
    /// a field name is checked against the schema when the list runs.
    public init(parsing text: String) throws(PortalError) {
        let descending = text.hasPrefix("-")
        let name = descending ? String(text.dropFirst()) : text
        switch name {
        case "": throw .invalidInput("sort field")
        case "id": self.init(.recordID, descending: descending)
        case "patient": self.init(.patientID, descending: descending)
        default: self.init(.field(name), descending: descending)
        }
    }
}

/// A chart as a user may see it (``Portal/chart(token:patientID:)``).
public struct PortalChart: Sendable {
    /// The patient id.
    public let patientID: String
    /// The patient-index fields the user may see (empty if none).
    public let identity: [String: String]
    /// The chart fields the user may see, in the policy's order.
    public let fields: [(name: String, value: String)]
    /// The break-glass grant the read used, if any.
    public let breakGlassGrantID: String?
}

/// A break-glass grant as its holder sees it.
public struct PortalGrant: Sendable, Hashable {
    /// The grant id (`break-glass.N`).
    public let id: String
    /// The patients it opens.
    public let patientIDs: [String]
    /// When it ends at the latest.
    public let expiresAt: Date
}

extension Portal {
    /// The largest page ``listPatients(token:search:sort:cursor:limit:)`` returns.
    public static let maximumPageSize = GuardedRecords.maximumPageSize

    // MARK: List and search

    /// The patients the policy lets the signed-in user list, optionally searched, one keyset page at
    /// a time (through `GuardedRecords.list`: the policy is compiled to SQL, the query audited
    /// before anything is decrypted, each row re-checked). A search on a field the user may never
    /// see, or one without a blind index (the SSN), is refused whatever the data, so a refusal
    /// tells nothing about who is a patient. `sort` names a field the index does not have:
    /// ``PortalError/invalidInput(_:)``; one on an encrypted field is refused by the library (audited).
    /// A cursor is bound to the sort and search it came from.
    public func listPatients(
        token: String?, search: PatientSearch = PatientSearch(), sort: PatientSort = .recordID,
        cursor: String? = nil, limit: Int = 20
    ) async throws -> PatientPage {
        let session = try await session(
            token, attempt: PortalAttempt(action: "read", resourceType: "patient-index", patientID: nil))
        if case .field(let name) = sort.key, patientIndex.schema.field(named: name) == nil {
            throw PortalError.invalidInput("sort field")
        }
        let page = try await patientIndex.list(
            as: session.principal, action: .read, where: search.filters, orderBy: sort, limit: limit, after: cursor)
        return PatientPage(
            patients: page.records.map { PatientSummary(patientID: $0.patientID, fields: $0.values) },
            nextCursor: page.nextCursor)
    }

    // MARK: Charts

    /// The chart of `patientID` with the fields the policy lets the user see (through
    /// `GuardedRecords.read`: decided, audited, then only those fields decrypted), using the user's
    /// active break-glass grant for that patient if there is one. A missing chart and a refused one
    /// are the same `ResourceNotFound` (IDOR-safe); the audit log tells them apart.
    public func chart(token: String?, patientID: String) async throws -> PortalChart {
        let session = try await session(
            token, attempt: PortalAttempt(action: "read", resourceType: "chart", patientID: patientID))
        guard AuditIdentifier.isValid(patientID) else { throw ResourceNotFound(resourceType: "chart") }
        let principal = session.principal
        let grant = try await emergency.activeGrant(for: principal, patientID: patientID)
        guard
            let chart = try await Self.unlessDenied({ () async throws(RecordError) in
                try await charts.read(patientID, as: principal, breakGlass: grant)
            })
        else { throw ResourceNotFound(resourceType: "chart", id: patientID) }
        // A chart reader need not see the index entry (then audited as denied, and left out).
        let identity =
            try await Self.unlessDenied({ () async throws(RecordError) in
                try await patientIndex.read(patientID, as: principal, breakGlass: grant)
            })?.values ?? [:]
        let fields = PortalSchemas.chartFields.compactMap { name in chart[name].map { (name: name, value: $0) } }
        return PortalChart(
            patientID: patientID, identity: identity, fields: fields, breakGlassGrantID: grant?.grant.id)
    }

    /// Sets one chart field of `patientID` (through `GuardedRecords.update`: the field must be in
    /// the update decision's field set, or nothing is written; audited either way). Returns the
    /// audit sequence number.
    @discardableResult
    public func updateChart(token: String?, patientID: String, field: String, value: String) async throws -> UInt64 {
        let session = try await session(
            token, attempt: PortalAttempt(action: "update", resourceType: "chart", patientID: patientID))
        guard PortalSchemas.chartFields.contains(field) else { throw PortalError.invalidInput("chart field") }
        guard !value.isEmpty, value.utf8.count <= 4096 else { throw PortalError.invalidInput("chart value") }
        guard AuditIdentifier.isValid(patientID) else { throw ResourceNotFound(resourceType: "chart") }
        let grant = try await emergency.activeGrant(for: session.principal, patientID: patientID)
        guard
            let sequence = try await Self.unlessDenied({ () async throws(RecordError) in
                try await charts.update(patientID, changes: [field: value], as: session.principal, breakGlass: grant)
            })
        else { throw ResourceNotFound(resourceType: "chart", id: patientID) }
        return sequence
    }

    /// `body`'s result, or `nil` for `RecordError.notFoundOrDenied` (other errors are thrown).
    static func unlessDenied<T>(_ body: () async throws(RecordError) -> T) async throws(RecordError) -> T? {
        do {
            return try await body()
        } catch {
            if case .notFoundOrDenied = error { return nil }
            throw error
        }
    }

    // MARK: Break-glass

    /// Breaks the glass for `patientID`: `reasonCode` is an HL7 purpose-of-use code (`ETREAT`,
    /// `ERTREAT`, `BTG`, `DISASTER`, `THREAT`) and `justification` free text (stored sealed). The
    /// policy decides who may (through `EmergencyAccess.invoke`, audited either way); the grant is
    /// bound to this session and ends with it.
    public func breakGlass(
        token: String?, patientID: String, reasonCode: String, justification: String, duration: Duration? = nil
    ) async throws -> PortalGrant {
        let session = try await session(
            token, attempt: PortalAttempt(action: "break-glass", resourceType: "chart", patientID: patientID))
        guard let category = BreakGlassReason.Category(rawValue: reasonCode) else {
            throw PortalError.invalidInput("break-glass reason code")
        }
        guard AuditIdentifier.isValid(patientID) else { throw PortalError.invalidInput("patient id") }
        let grant = try await emergency.invoke(
            session.principal, scope: BreakGlassScope(patient: patientID),
            reason: BreakGlassReason(category: category, justification: justification), duration: duration)
        return PortalGrant(
            id: grant.grant.id, patientIDs: grant.grant.scope.patientIDs, expiresAt: grant.grant.expiresAt)
    }

    /// The break-glass review queue (the policy's `audit-log` read: auditors), each grant with every
    /// access decision made under it. The request is decided and audited.
    public func breakGlassReviewQueue(token: String?, includeReviewed: Bool = false) async throws
        -> [BreakGlassReviewItem]
    {
        let session = try await session(token)
        try await requireAuditLogAccess(session, .read)
        return try await emergency.reviewQueue(auditRecords: auditSink, includeReviewed: includeReviewed)
    }

    /// Records the review of grant `grantID` with `outcome` (an identifier such as `justified`).
    /// `EmergencyAccess.review` refuses anyone but a reviewer other than the holder, and a second review.
    public func reviewBreakGlass(token: String?, grantID: String, outcome: String) async throws {
        let session = try await session(token)
        try await requireAuditLogAccess(session, .read)
        try await emergency.review(grantID, outcome: outcome, as: session.principal)
    }

    /// Decides `action` on the audit log for the session's principal and audits the decision (the
    /// library's access-decision event); a denial is ``PortalError/notPermitted(_:)``.
    func requireAuditLogAccess(_ session: AuthenticatedSession, _ action: AccessAction) async throws {
        try await requireDecision(session, action, Resource(type: "audit-log", id: "portal"), operation: "audit-log")
    }

    /// Decides `action` on `resource` (not a stored record) and audits the decision before returning.
    func requireDecision(
        _ session: AuthenticatedSession, _ action: AccessAction, _ resource: Resource, operation: String
    ) async throws {
        let decision = engine.decide(session.principal, action, resource)
        try await audit.append(
            try AuditEvent.accessDecision(
                decision, principal: session.principal, action: action, resource: resource, policy: engine.policy,
                fields: [], at: engine.clock.now),
            durability: .committed)
        guard decision.isAllowed else { throw PortalError.notPermitted(operation) }
    }
}
