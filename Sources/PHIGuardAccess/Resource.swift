/// What is being accessed: a resource of a policy-declared type, with its owning patient and labels.
///
/// ```swift
/// let note = Resource(type: "clinical-note", id: "n-1", patientID: "p-7", labels: ["psychotherapy"])
/// ```
public struct Resource: Sendable, Hashable {
    /// The resource type, as declared in the policy's `resourceTypes`.
    public var type: String
    /// The app's id of the resource (carried into decisions for audit; never evaluated).
    public var id: String
    /// The patient whose chart this resource belongs to, for relationship conditions (`nil` or empty:
    /// no patient, which satisfies no relationship).
    public var patientID: String?
    /// Sensitivity labels (for example `psychotherapy`, `substance-use`), spelled exactly as declared in
    /// the policy. An undeclared spelling fails closed: label deny rules apply, `labelsNoneOf` allows do not.
    public var labels: Set<String>
    /// Other resource attributes (department, status) for `attributes` conditions.
    public var attributes: [String: String]

    /// Creates a resource description.
    public init(
        type: String, id: String = "", patientID: String? = nil, labels: Set<String> = [],
        attributes: [String: String] = [:]
    ) {
        self.type = type
        self.id = id
        self.patientID = patientID
        self.labels = labels
        self.attributes = attributes
    }
}
