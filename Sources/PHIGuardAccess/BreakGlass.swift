public import Foundation

/// Why someone is breaking the glass: an HL7 v3 purpose-of-use code plus the clinician's own words.
///
/// The justification is free text that may mention clinical details, so it is never included in a
/// `description`; audit code reads it explicitly (and `PHIGuardRecords` stores it encrypted).
public struct BreakGlassReason: Sendable, Hashable, CustomStringConvertible {
    /// The purpose of use: a code of the HL7 v3 `PurposeOfUse` value set
    /// (OID 2.16.840.1.113883.1.11.20448) that applies to emergency access. The raw value is the
    /// code itself; it is what audit records carry as the break-glass reason (`ETREAT`, `BTG`, …),
    /// the metrics' `category` dimension, and what policy test files and request documents spell.
    public enum Category: String, Sendable, Hashable, CaseIterable, Codable {
        /// `ETREAT`, emergency treatment: care that cannot wait (threat to life or limb, a patient
        /// who cannot consent).
        case emergencyTreatment = "ETREAT"
        /// `ERTREAT`, emergency room treatment: the emergency department treating a patient whose
        /// care team is not (yet) assigned.
        case emergencyRoomTreatment = "ERTREAT"
        /// `BTG`, break the glass: any other override of the normal rules (for example the care-team
        /// or scheduling system is down); the justification must explain.
        case breakTheGlass = "BTG"
        /// `DISASTER`: a declared disaster or mass-casualty event.
        case disaster = "DISASTER"
        /// `THREAT`: preventing a serious threat to the health or safety of a person or the public.
        case threat = "THREAT"
    }

    /// The purpose of use.
    public var category: Category
    /// The clinician's explanation (1 to 2,000 characters after trimming).
    public var justification: String

    /// Creates a reason.
    public init(category: Category, justification: String) {
        self.category = category
        self.justification = justification
    }

    /// The code only; the justification is kept out of logs.
    public var description: String { "BreakGlassReason(\(category.rawValue), justification: <redacted>)" }
}

/// The patients a break-glass grant opens: one, or a short explicit list (at most
/// ``maximumCount``). A grant never opens a resource without a patient.
public struct BreakGlassScope: Sendable, Hashable, CustomStringConvertible {
    /// The most patients one grant may name.
    public static let maximumCount = 16

    /// The patient ids, sorted, without duplicates.
    public let patientIDs: [String]

    /// A scope of one patient.
    public init(patient patientID: String) {
        self.patientIDs = [patientID]
    }

    /// A scope of several patients (duplicates dropped). An empty list, an empty id or more than
    /// ``maximumCount`` patients make an invalid scope, which invoking refuses
    /// (``BreakGlassError/invalidScope``).
    public init(patients: some Sequence<String>) {
        self.patientIDs = Array(Set(patients)).sorted()
    }

    /// Whether the scope names 1 to ``maximumCount`` non-empty patient ids.
    public var isValid: Bool {
        !patientIDs.isEmpty && patientIDs.count <= Self.maximumCount && !patientIDs.contains(where: \.isEmpty)
    }

    /// Whether `patientID` is in the scope (`false` for `nil`: a resource of no patient).
    public func contains(_ patientID: String?) -> Bool {
        guard let patientID else { return false }
        return patientIDs.contains(patientID)
    }

    /// The number of patients only (patient ids stay out of logs).
    public var description: String { "BreakGlassScope(\(patientIDs.count) patient(s))" }
}

/// A time-limited emergency grant, bound to one principal, one session and an explicit set of
/// patients.
///
/// Issued by ``AccessEngine/breakGlass(for:scope:reason:duration:)`` (applications normally go through
/// `EmergencyAccess` in `PHIGuardRecords`, which audits and stores it). A decision made with a grant
/// gives emergency access only when every binding holds (otherwise the grant is ignored and the
/// decision is still flagged for review, with ``AccessDecision/breakGlassStatus`` saying why):
///
/// - the request's principal is ``subjectID`` (and still holds a role the policy lets break the glass);
/// - it is the same session: the principal's `sessionHandle` is ``sessionHandle`` and its
///   `recentlyAuthenticatedAt` is ``sessionAuthenticatedAt``. A sign-out ends the session (a new
///   sign-in has a new handle); a password change, a privilege change or a step-up re-issues the
///   session with a new proof time. Each ends the grant (``AccessDecision/BreakGlassStatus/otherSession``);
/// - the resource's patient is in ``scope`` (``AccessDecision/BreakGlassStatus/outOfScope``);
/// - it has not been revoked (``revokedAt``) and `issuedAt <= now < expiresAt`.
///
/// Deny rules still win over a grant. The public initializer lets a store rebuild a grant; building
/// one by hand gives no more than the bindings above allow.
public struct BreakGlassGrant: Sendable, Hashable, CustomStringConvertible {
    /// A random id for correlating the grant with the decisions made under it.
    public let id: String
    /// The user it was issued to.
    public let subjectID: String
    /// The public handle of the session it was issued in.
    public let sessionHandle: String
    /// The session's last proof of credentials (`AuthenticatedPrincipal.recentlyAuthenticatedAt`)
    /// when the grant was issued; compared to the microsecond.
    public let sessionAuthenticatedAt: Date
    /// The patients it opens.
    public let scope: BreakGlassScope
    /// Why it was invoked.
    public let reason: BreakGlassReason
    /// When it was issued.
    public let issuedAt: Date
    /// When it stops working (exclusive).
    public let expiresAt: Date
    /// When it was revoked, if it was.
    public let revokedAt: Date?

    /// Rebuilds a grant (stores use this). `id` should be a fresh random id for a new grant.
    public init(
        id: String, subjectID: String, sessionHandle: String, sessionAuthenticatedAt: Date, scope: BreakGlassScope,
        reason: BreakGlassReason, issuedAt: Date, expiresAt: Date, revokedAt: Date? = nil
    ) {
        self.id = id
        self.subjectID = subjectID
        self.sessionHandle = sessionHandle
        self.sessionAuthenticatedAt = sessionAuthenticatedAt
        self.scope = scope
        self.reason = reason
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }

    /// Whether the grant is in force at `date`: issued, not expired, not revoked.
    public func isActive(at date: Date) -> Bool {
        if let revokedAt, revokedAt <= date { return false }
        return date >= issuedAt && date < expiresAt
    }

    /// A copy revoked at `date` (an earlier revocation is kept).
    public func revoked(at date: Date) -> BreakGlassGrant {
        BreakGlassGrant(
            id: id, subjectID: subjectID, sessionHandle: sessionHandle, sessionAuthenticatedAt: sessionAuthenticatedAt,
            scope: scope, reason: reason, issuedAt: issuedAt, expiresAt: expiresAt,
            revokedAt: min(revokedAt ?? date, date))
    }

    /// Id, purpose, scope size and expiry; no user data.
    public var description: String {
        "BreakGlassGrant(\(id), \(reason.category.rawValue), \(scope.patientIDs.count) patient(s), "
            + "expires \(expiresAt.timeIntervalSince1970)\(revokedAt == nil ? "" : ", revoked"))"
    }
}

/// Why break-the-glass could not be invoked.
public enum BreakGlassError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The policy has no `breakGlass` section, none of the subject's roles may invoke it, or the
    /// principal's session has ended.
    case notPermitted
    /// The justification is empty (after trimming whitespace).
    case missingJustification
    /// The justification is longer than 2,000 characters.
    case justificationTooLong
    /// The requested duration is not positive or exceeds the policy's `maxDuration`.
    case invalidDuration
    /// The scope names no patient, an empty patient id, or more than ``BreakGlassScope/maximumCount``.
    case invalidScope

    /// A short explanation.
    public var description: String {
        switch self {
        case .notPermitted: "none of the subject's roles may break the glass under this policy"
        case .missingJustification: "break-the-glass needs a written justification"
        case .justificationTooLong: "the justification is longer than 2000 characters"
        case .invalidDuration: "the duration must be positive and no longer than the policy's maxDuration"
        case .invalidScope: "the scope must name 1 to 16 patients"
        }
    }
}
