/// The mappings an ``ErrorReporter`` uses, beyond the errors that conform to ``PublicErrorMappable``.
///
/// A value type: build it once at start-up, then hand it to the reporter.
///
/// ```swift
/// var mappings = ErrorMappings()
/// mappings.register(PostgresError.self) { error in
///     MappedError(.serviceUnavailable, internalCode: "db.unavailable", logMessage: "database unavailable",
///                 context: ["sql_state": .value(error.code)])
/// }
/// let reporter = ErrorReporter(logger: logger, mappings: mappings)
/// ```
///
/// Lookup order for an error: a registration for its exact type; else a registration whose type it
/// can be cast to (a superclass), in registration order; else its ``PublicErrorMappable`` conformance;
/// else it is unmapped and renders as ``PublicProblem/internalError``.
public struct ErrorMappings: Sendable {
    private typealias Mapping = @Sendable (any Error) -> MappedError?

    private var byType: [ObjectIdentifier: Mapping] = [:]
    private var inOrder: [Mapping] = []

    /// No registrations: only ``PublicErrorMappable`` conformances map errors.
    public init() {}

    /// Maps every error of type `Failure` (and of its subclasses) with `mapping`.
    ///
    /// Registering the same type again replaces the earlier mapping. The closure must not throw or
    /// crash, and must put no secret or PHI value into ``MappedError/logMessage``.
    public mutating func register<Failure: Error>(
        _ type: Failure.Type, _ mapping: @escaping @Sendable (Failure) -> MappedError
    ) {
        let erased: Mapping = { error in (error as? Failure).map(mapping) }
        byType[ObjectIdentifier(type)] = erased
        inOrder.append(erased)
    }

    /// The mapping for `error`, or `nil` if nothing maps it.
    public func mapping(for error: any Error) -> MappedError? {
        if let exact = byType[ObjectIdentifier(type(of: error))], let mapped = exact(error) {
            return mapped
        }
        // Later registrations win, so a re-registration overrides an earlier one for subclasses too.
        for mapping in inOrder.reversed() {
            if let mapped = mapping(error) { return mapped }
        }
        if let mappable = error as? any PublicErrorMappable {
            return mappable.errorMapping
        }
        return nil
    }
}
