/// Who is asking: a user with roles, and the facts about them that conditions look at.
///
/// ```swift
/// let nurse = Subject(id: "u-1042", roles: ["nurse"], careTeamPatients: ["p-7", "p-9"])
/// let portalUser = Subject(id: "u-77", roles: ["patient"], patientID: "p-7")
/// ```
public struct Subject: Sendable, Hashable {
    /// The app's user id (used to bind break-glass grants and in audit records).
    public var id: String
    /// The roles the user holds, by policy name. Names the policy does not know grant nothing.
    public var roles: [String]
    /// The patient this user *is* (portal users), for `relationship: self` conditions (`nil` or empty:
    /// none).
    public var patientID: String?
    /// The patients on the care teams this user belongs to, if the app supplies them with the request.
    ///
    /// When `nil`, `relationship: careTeam` conditions ask the ``CareTeamDirectory`` given to the
    /// decision instead; when neither is available the condition does not hold (deny).
    public var careTeamPatients: Set<String>?
    /// Other subject attributes (department, clearance) for `attributes` conditions.
    public var attributes: [String: String]

    /// Creates a subject.
    public init(
        id: String, roles: [String], patientID: String? = nil, careTeamPatients: Set<String>? = nil,
        attributes: [String: String] = [:]
    ) {
        self.id = id
        self.roles = roles
        self.patientID = patientID
        self.careTeamPatients = careTeamPatients
        self.attributes = attributes
    }
}

/// The app's answer to "is this user on the care team of this patient?", kept in the app's database.
///
/// The engine calls it synchronously, and only for rules guarded by `relationship: careTeam` whose
/// role the subject holds, and only when the request's ``Subject/careTeamPatients`` is `nil`.
/// Implementations should answer from a cache the app keeps warm (for example loaded at sign-in),
/// not by a database round trip per call.
public protocol CareTeamDirectory: Sendable {
    /// Whether the user `subjectID` is on a care team of the patient `patientID`.
    func isOnCareTeam(subjectID: String, patientID: String) -> Bool
}
