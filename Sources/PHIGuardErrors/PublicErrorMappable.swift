/// An error that knows its own public face and log detail.
///
/// Conform your app's error types, or every error of a PHIGuard capability (one file per capability
/// in `Sources/PHIGuardErrors/Mappings/`). For a type you do not own and do not want to conform,
/// use ``ErrorMappings/register(_:_:)``; a registration wins over a conformance.
///
/// ```swift
/// enum ChartError: Error, PublicErrorMappable {
///     case noteLocked(noteID: String)
///     case storageFailed(path: String)
///
///     var errorMapping: MappedError {
///         switch self {
///         case .noteLocked(let id):
///             MappedError(.noteLocked, internalCode: "chart.note_locked", logMessage: "note is locked",
///                         context: ["note_id": .value(id)])
///         case .storageFailed(let path):
///             MappedError(.internalError, internalCode: "chart.storage", logMessage: "write failed",
///                         context: ["path": .value(path)])
///         }
///     }
/// }
/// ```
public protocol PublicErrorMappable: Error {
    /// The public problem and the internal detail of this error. Must not throw or crash.
    var errorMapping: MappedError { get }
}
