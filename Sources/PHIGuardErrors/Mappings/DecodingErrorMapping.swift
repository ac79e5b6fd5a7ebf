// Swift's DecodingError (a malformed request body) → 400 invalid_request.

extension DecodingError: PublicErrorMappable {
    /// Always 400 ``PublicProblem/invalidRequest``. The log gets the kind and the coding path (field
    /// names and indexes), never `debugDescription`, which can quote the offending value.
    public var errorMapping: MappedError {
        let kind: String
        let context: Context
        switch self {
        case .typeMismatch(_, let c):
            kind = "type_mismatch"
            context = c
        case .valueNotFound(_, let c):
            kind = "value_not_found"
            context = c
        case .keyNotFound(let key, let c):
            kind = "key_not_found"
            context = Context(
                codingPath: c.codingPath + [key], debugDescription: "", underlyingError: c.underlyingError)
        case .dataCorrupted(let c):
            kind = "data_corrupted"
            context = c
        @unknown default:
            kind = "unknown"
            context = Context(codingPath: [], debugDescription: "")
        }
        let path = context.codingPath.map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue }
            .joined(separator: ".")
        return MappedError(
            .invalidRequest, internalCode: "request.\(kind)", logMessage: "request body could not be decoded",
            context: ["coding_path": .value(path.isEmpty ? "<root>" : path)], underlying: context.underlyingError)
    }
}
