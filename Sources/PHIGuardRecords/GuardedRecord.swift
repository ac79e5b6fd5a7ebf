/// A record as one principal may see it: only the fields of the decision's field set, decrypted.
///
/// A hidden field is *absent* (``subscript(_:)`` returns `nil`, ``fieldNames`` does not list it),
/// never an empty string. A visible field whose stored value is `NULL` is absent too.
public struct GuardedRecord: Sendable, Hashable, CustomStringConvertible {
    /// The record id.
    public let id: String
    /// The patient the record belongs to.
    public let patientID: String
    /// The visible fields' values, by field name.
    public let values: [String: String]
    /// The sequence number of the committed audit record for this read.
    public let auditSequence: UInt64

    /// The value of `field`, or `nil` when it is hidden (or `NULL`).
    public subscript(_ field: String) -> String? { values[field] }

    /// The names of the fields present, sorted.
    public var fieldNames: [String] { values.keys.sorted() }

    /// Field names only; never a value or the ids.
    public var description: String { "GuardedRecord(fields: \(fieldNames))" }
}
