internal import Foundation

/// What reaches the user: a ``PublicProblem`` plus the ``CorrelationID`` of its log entry.
///
/// Made only by ``ErrorReporter``, which logs the internal detail under the same id. Render it as
/// RFC 9457 problem details (``problemJSON``, served as ``mediaType``, with ``status`` and
/// ``headers``) or as one CLI line (``cliMessage``). Nothing in it comes from the original error: a throwing call site cannot leak
/// through it.
public struct PublicError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The media type of ``problemJSON``: `application/problem+json`.
    public static let mediaType = "application/problem+json"

    /// The public problem (code, status, title, detail).
    public let problem: PublicProblem
    /// The id of the log entry with the full detail.
    public let correlationID: CorrelationID
    /// The RFC 9457 `type` URI: ``ErrorReporter/Configuration/problemTypeBase`` followed by the code.
    public let typeURI: String
    /// Headers to send with the response, as they are: `Retry-After` (whole seconds) when the error
    /// knows when to retry, `WWW-Authenticate` on every 401 (see
    /// ``ErrorReporter/Configuration/authenticationChallenge``). Never anything from the error's text.
    public let headers: [PublicHeader]

    init(problem: PublicProblem, correlationID: CorrelationID, typeBase: String, headers: [PublicHeader]) {
        self.problem = problem
        self.correlationID = correlationID
        typeURI = typeBase + problem.code.replacingOccurrences(of: "_", with: "-")
        self.headers = headers
    }

    /// The HTTP status to answer with.
    public var status: Int { problem.status }

    /// The RFC 9457 problem details object.
    public var problemDetails: ProblemDetails {
        ProblemDetails(
            type: typeURI, title: problem.title, status: problem.status, detail: problem.detail,
            instance: correlationID.rawValue, code: problem.code)
    }

    /// The problem details as one line of JSON with sorted keys, to send as ``mediaType``:
    /// `{"code":"not_found","detail":"…","instance":"<correlation id>","status":404,"title":"Not found","type":"…"}`.
    public var problemJSON: String { problemDetails.json }

    /// One line for a terminal: `Not found: The requested resource was not found. [not_found, ref <id>]`.
    public var cliMessage: String {
        "\(problem.title): \(problem.detail) [\(problem.code), ref \(correlationID.rawValue)]"
    }

    /// ``cliMessage``.
    public var description: String { cliMessage }
}

/// An RFC 9457 problem details object, with PHIGuard's stable `code` as an extension member.
public struct ProblemDetails: Sendable, Hashable, Codable {
    /// A URI reference that identifies the problem type.
    public var type: String
    /// A short, human-readable summary of the problem type.
    public var title: String
    /// The HTTP status code.
    public var status: Int
    /// A human-readable explanation (fixed per problem type in PHIGuard: never occurrence-specific).
    public var detail: String
    /// A URI reference that identifies this occurrence: the correlation id.
    public var instance: String
    /// Extension member: the stable code, e.g. `authentication_failed`.
    public var code: String

    /// A problem details object with these members.
    public init(type: String, title: String, status: Int, detail: String, instance: String, code: String) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.instance = instance
        self.code = code
    }

    /// One line of JSON with sorted keys.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding six strings and an integer cannot fail; the fallback keeps the API non-throwing.
        guard let data = try? encoder.encode(self) else {
            return #"{"status":500,"title":"Internal error"}"#
        }
        return String(decoding: data, as: UTF8.self)
    }
}
