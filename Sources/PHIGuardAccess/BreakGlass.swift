public import Foundation

/// Why someone is breaking the glass: a category for reporting plus the clinician's own words.
///
/// The justification is free text that may mention clinical details, so it is never included in a
/// `description`; audit code reads it explicitly.
public struct BreakGlassReason: Sendable, Hashable, CustomStringConvertible {
    /// The kind of emergency.
    public enum Category: String, Sendable, Hashable, CaseIterable, Codable {
        /// Immediate threat to life or limb.
        case lifeThreateningEmergency = "life-threatening-emergency"
        /// Urgent care where the treating team is not (yet) assigned.
        case urgentCare = "urgent-care"
        /// The patient cannot consent and care cannot wait.
        case patientUnableToConsent = "patient-unable-to-consent"
        /// The normal care-team or scheduling system is down.
        case systemDowntime = "system-downtime"
        /// Anything else; the justification must explain.
        case other
    }

    /// The kind of emergency.
    public var category: Category
    /// The clinician's explanation (1 to 2,000 characters after trimming).
    public var justification: String

    /// Creates a reason.
    public init(category: Category, justification: String) {
        self.category = category
        self.justification = justification
    }

    /// The category only; the justification is kept out of logs.
    public var description: String { "BreakGlassReason(\(category.rawValue), justification: <redacted>)" }
}

/// A time-limited emergency grant, issued by `CompiledPolicy.breakGlass(for:reason:duration:now:)`
/// (SPI `PolicyEvaluation`) or ``AccessEngine/breakGlass(for:reason:duration:)``. Attach it to requests; every decision made with it
/// is marked for audit review.
public struct BreakGlassGrant: Sendable, Hashable, CustomStringConvertible {
    /// A random id for correlating the grant with the decisions made under it.
    public let id: String
    /// The user it was issued to; it is ignored on anyone else's requests.
    public let subjectID: String
    /// Why it was invoked.
    public let reason: BreakGlassReason
    /// When it was issued.
    public let issuedAt: Date
    /// When it stops working (exclusive).
    public let expiresAt: Date

    init(subjectID: String, reason: BreakGlassReason, issuedAt: Date, expiresAt: Date) {
        self.id = UUID().uuidString.lowercased()
        self.subjectID = subjectID
        self.reason = reason
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }

    /// Whether the grant is in force at `date`.
    public func isActive(at date: Date) -> Bool { date >= issuedAt && date < expiresAt }

    /// Id, category and expiry; no user data.
    public var description: String {
        "BreakGlassGrant(\(id), \(reason.category.rawValue), expires \(expiresAt.timeIntervalSince1970))"
    }
}

/// Why break-the-glass could not be invoked.
public enum BreakGlassError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The policy has no `breakGlass` section, or none of the subject's roles may invoke it.
    case notPermitted
    /// The justification is empty (after trimming whitespace).
    case missingJustification
    /// The justification is longer than 2,000 characters.
    case justificationTooLong
    /// The requested duration is not positive or exceeds the policy's `maxDuration`.
    case invalidDuration

    /// A short explanation.
    public var description: String {
        switch self {
        case .notPermitted: "none of the subject's roles may break the glass under this policy"
        case .missingJustification: "break-the-glass needs a written justification"
        case .justificationTooLong: "the justification is longer than 2000 characters"
        case .invalidDuration: "the duration must be positive and no longer than the policy's maxDuration"
        }
    }
}
