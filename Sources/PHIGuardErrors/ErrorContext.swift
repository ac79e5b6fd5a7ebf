/// Labelled fields that explain one occurrence of an error, for the log only.
///
/// Each value says what it is: ``ContextValue/value(_:)`` is logged (after clean-up),
/// ``ContextValue/secret`` and ``ContextValue/phi`` are logged as `<redacted:secret>` and
/// `<redacted:phi>` — the value is never even stored. Field names that look like secrets or PHI
/// (see ``ErrorReporter/Configuration/sensitiveFieldNames``) are redacted even when labelled
/// ``ContextValue/value(_:)``.
///
/// ```swift
/// reporter.report(error, context: [
///     "route": .value("/patients/{id}/notes"),
///     "patient_id": .value(patientID),      // an identifier, not a PHI value
///     "search_term": .phi,                  // never logged
/// ])
/// ```
public struct ErrorContext: Sendable, Hashable, ExpressibleByDictionaryLiteral {
    /// One named field.
    public struct Field: Sendable, Hashable {
        /// The field's name (logged after clean-up).
        public var name: String
        /// The field's value and how sensitive it is.
        public var value: ContextValue

        /// A field named `name`.
        public init(name: String, value: ContextValue) {
            self.name = name
            self.value = value
        }
    }

    /// The most fields kept; later fields are dropped (and the drop is logged).
    public static let maximumFields = 32

    /// The fields, in the order they were added.
    public private(set) var fields: [Field] = []
    /// How many fields were dropped because there were more than ``maximumFields``.
    public private(set) var droppedFieldCount = 0

    /// An empty context.
    public init() {}

    /// A context with these fields, in order.
    public init(dictionaryLiteral elements: (String, ContextValue)...) {
        for (name, value) in elements { add(name, value) }
    }

    /// Appends a field (dropped if there are already ``maximumFields``).
    public mutating func add(_ name: String, _ value: ContextValue) {
        guard fields.count < Self.maximumFields else {
            droppedFieldCount += 1
            return
        }
        fields.append(Field(name: name, value: value))
    }

    /// This context followed by the fields of `other`.
    public func merging(_ other: ErrorContext) -> ErrorContext {
        var merged = self
        for field in other.fields { merged.add(field.name, field.value) }
        merged.droppedFieldCount += other.droppedFieldCount
        return merged
    }

    /// Whether there are no fields.
    public var isEmpty: Bool { fields.isEmpty }
}

/// A context value and its sensitivity.
public struct ContextValue: Sendable, Hashable {
    enum Storage: Sendable, Hashable {
        case value(String)
        case secret
        case phi
    }

    let storage: Storage

    /// Internal detail that may be logged: a path, an SQL statement, a count, a record identifier.
    public static func value(_ text: String) -> ContextValue { ContextValue(storage: .value(text)) }

    /// A secret (password, key, token, code): logged as `<redacted:secret>`.
    public static let secret = ContextValue(storage: .secret)

    /// A PHI value (a name, a date of birth, a diagnosis, free text): logged as `<redacted:phi>`.
    public static let phi = ContextValue(storage: .phi)
}
