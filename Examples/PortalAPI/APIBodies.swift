internal import Foundation
internal import PHIGuardAccess
internal import PHIGuardAudit
internal import PHIGuardAuthentication
internal import PHIGuardRecords
internal import PortalCore

// The JSON bodies of ``PortalAPI`` (schemas in openapi.yaml, same names). Optional members are
// always sent, as `null` when absent, so a client can tell "none" from a field it does not know.

/// `POST /session`.
struct SignInRequest: Decodable {
    let login: String
    let password: String
}

/// `POST /session/second-factor`.
struct SecondFactorRequest: Decodable {
    let code: String
}

/// `PATCH /patients/{id}/chart`.
struct ChartUpdateRequest: Decodable {
    let field: String
    let value: String
}

/// `POST /break-glass`.
struct BreakGlassRequestBody: Decodable {
    let patient: String
    let reason: String
    let justification: String
}

/// `POST /break-glass/reviews/{grant}`.
struct ReviewRequest: Decodable {
    /// The outcomes a reviewer may record (the web portal's form offers the same two).
    static let outcomes: Set<String> = ["appropriate", "inappropriate"]
    let outcome: String
}

struct SessionStateBody: Encodable {
    let state: String
    let csrfToken: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(state, forKey: .state)
        try container.encode(csrfToken, forKey: .csrfToken)
    }

    enum CodingKeys: String, CodingKey { case state, csrfToken }
}

struct SignInBody: Encodable {
    let state: String
    let csrfToken: String?
    let identity: IdentityBody?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(state, forKey: .state)
        try container.encode(csrfToken, forKey: .csrfToken)
        try container.encode(identity, forKey: .identity)
    }

    enum CodingKeys: String, CodingKey { case state, csrfToken, identity }
}

struct IdentityBody: Encodable {
    let accountID: String
    let roles: [String]
    let patientID: String?
    let sessionHandle: String
    let strength: String
    let expiresAt: Date
    /// The account still has its temporary password: only `POST /session/password` answers.
    let passwordChangeRequired: Bool

    init(_ session: AuthenticatedSession) {
        let subject = session.principal.subject
        accountID = subject.id
        roles = subject.roles.sorted()
        patientID = subject.patientID
        sessionHandle = session.record.handle
        strength = session.principal.strength.rawValue
        expiresAt = session.principal.validUntil
        passwordChangeRequired = subject.attributes[Portal.passwordChangeAttribute] != nil
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(passwordChangeRequired, forKey: .passwordChangeRequired)
        try container.encode(accountID, forKey: .accountID)
        try container.encode(roles, forKey: .roles)
        try container.encode(patientID, forKey: .patientID)
        try container.encode(sessionHandle, forKey: .sessionHandle)
        try container.encode(strength, forKey: .strength)
        try container.encode(expiresAt, forKey: .expiresAt)
    }

    enum CodingKeys: String, CodingKey {
        case accountID, roles, patientID, sessionHandle, strength, expiresAt, passwordChangeRequired
    }
}

struct SessionListBody: Encodable {
    let sessions: [SessionBody]
}

struct SessionBody: Encodable {
    let handle: String
    let createdAt: Date
    let lastSeenAt: Date
    let expiresAt: Date
    let clientLabel: String?
    let current: Bool

    init(_ summary: SessionSummary) {
        handle = summary.handle
        createdAt = summary.createdAt
        lastSeenAt = summary.lastSeenAt
        expiresAt = summary.expiresAt
        clientLabel = summary.clientLabel
        current = summary.isCurrent
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(handle, forKey: .handle)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(lastSeenAt, forKey: .lastSeenAt)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(clientLabel, forKey: .clientLabel)
        try container.encode(current, forKey: .current)
    }

    enum CodingKeys: String, CodingKey { case handle, createdAt, lastSeenAt, expiresAt, clientLabel, current }
}

struct PatientPageBody: Encodable {
    let patients: [PatientBody]
    /// Set whenever more patients match: a page is never cut short silently.
    let nextCursor: String?

    init(_ page: PatientPage) {
        patients = page.patients.map { PatientBody(id: $0.patientID, fields: $0.fields) }
        nextCursor = page.nextCursor
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(patients, forKey: .patients)
        try container.encode(nextCursor, forKey: .nextCursor)
    }

    enum CodingKeys: String, CodingKey { case patients, nextCursor }
}

struct PatientBody: Encodable {
    let id: String
    let fields: [String: String]
}

struct ChartBody: Encodable {
    let patientID: String
    let identity: [String: String]
    let fields: [ChartFieldBody]
    let breakGlassGrantID: String?

    init(_ chart: PortalChart) {
        patientID = chart.patientID
        identity = chart.identity
        fields = chart.fields.map { ChartFieldBody(name: $0.name, value: $0.value) }
        breakGlassGrantID = chart.breakGlassGrantID
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(patientID, forKey: .patientID)
        try container.encode(identity, forKey: .identity)
        try container.encode(fields, forKey: .fields)
        try container.encode(breakGlassGrantID, forKey: .breakGlassGrantID)
    }

    enum CodingKeys: String, CodingKey { case patientID, identity, fields, breakGlassGrantID }
}

struct ChartFieldBody: Encodable {
    let name: String
    let value: String
}

struct ChartUpdateBody: Encodable {
    let patientID: String
    let field: String
    let auditSequence: UInt64
}

struct GrantBody: Encodable {
    let id: String
    let patientIDs: [String]
    let expiresAt: Date

    init(_ grant: PortalGrant) {
        id = grant.id
        patientIDs = grant.patientIDs
        expiresAt = grant.expiresAt
    }
}

struct ReviewQueueBody: Encodable {
    let grants: [ReviewItemBody]
}

struct ReviewItemBody: Encodable {
    let id: String
    let holderID: String
    let patientIDs: [String]
    let reason: String
    let justification: String
    let issuedAt: Date
    let expiresAt: Date
    let revokedAt: Date?
    let review: ReviewMarkBody?
    let uses: [GrantUseBody]

    init(_ item: BreakGlassReviewItem) {
        let grant = item.grant
        id = grant.id
        holderID = grant.subjectID
        patientIDs = grant.scope.patientIDs
        reason = grant.reason.category.rawValue
        justification = grant.reason.justification
        issuedAt = grant.issuedAt
        expiresAt = grant.expiresAt
        revokedAt = item.revocation?.revokedAt
        review = item.review.map {
            ReviewMarkBody(reviewerID: $0.reviewerID, outcome: $0.outcome, reviewedAt: $0.reviewedAt)
        }
        uses = item.uses.map(GrantUseBody.init)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(holderID, forKey: .holderID)
        try container.encode(patientIDs, forKey: .patientIDs)
        try container.encode(reason, forKey: .reason)
        try container.encode(justification, forKey: .justification)
        try container.encode(issuedAt, forKey: .issuedAt)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(revokedAt, forKey: .revokedAt)
        try container.encode(review, forKey: .review)
        try container.encode(uses, forKey: .uses)
    }

    enum CodingKeys: String, CodingKey {
        case id, holderID, patientIDs, reason, justification, issuedAt, expiresAt, revokedAt, review, uses
    }
}

struct ReviewMarkBody: Encodable {
    let reviewerID: String
    let outcome: String
    let reviewedAt: Date
}

/// One access decision made under a grant (from the audit log).
struct GrantUseBody: Encodable {
    let sequence: UInt64
    let action: String?
    let resourceType: String?
    let patientID: String?
    let outcome: String

    init(_ record: AuditRecord) {
        sequence = record.sequence
        action = record.event.action
        resourceType = record.event.resourceType
        patientID = record.event.patientID
        outcome = record.event.outcome.rawValue
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(action, forKey: .action)
        try container.encode(resourceType, forKey: .resourceType)
        try container.encode(patientID, forKey: .patientID)
        try container.encode(outcome, forKey: .outcome)
    }

    enum CodingKeys: String, CodingKey { case sequence, action, resourceType, patientID, outcome }
}
