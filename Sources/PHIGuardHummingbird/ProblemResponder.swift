public import Hummingbird
public import Logging
internal import PHIGuardCrypto
public import PHIGuardErrors

/// Turns any error into a response through `PHIGuardErrors`' `ErrorReporter`: RFC 9457
/// `application/problem+json`, or a plain HTML error page for browser routes.
///
/// The body holds the fixed title and detail of the error's `PublicProblem` and the correlation id
/// (the Hummingbird request id, which is also in every log line of the request); the response
/// carries the error's `Retry-After` and `WWW-Authenticate` headers. Nothing from the error's own
/// text reaches the client: Hummingbird's `HTTPError` messages are logged, never sent.
public struct ProblemResponder: Sendable {
    /// How errors are rendered.
    public enum Format: Sendable, Hashable {
        /// `application/problem+json` (APIs).
        case problemJSON
        /// A small `text/html` page with the title, detail and reference (browser routes).
        case html
        /// ``html`` when the request's `Accept` names `text/html` (a browser navigating or posting a
        /// form), ``problemJSON`` otherwise (`fetch`, API clients).
        case negotiated

        /// The concrete format for `request`.
        func resolved(for request: Request) -> Format {
            guard self == .negotiated else { return self }
            let accept = request.headers[.accept]?.lowercased() ?? ""
            return accept.contains("text/html") ? .html : .problemJSON
        }
    }

    /// The reporter that maps and logs errors.
    public let reporter: ErrorReporter

    /// Renders through `reporter` (by default one logging to `phiguard.web`, with the default mappings).
    public init(reporter: ErrorReporter = ErrorReporter(logger: Logger(label: "phiguard.web"))) {
        self.reporter = reporter
    }

    /// The response for `error` raised while handling a request of `context`.
    public func response(
        for error: any Error, context: some RequestContext, format: Format = .problemJSON
    ) -> Response {
        let correlationID =
            context.logger[metadataKey: "hb.request.id"].flatMap { CorrelationID($0.description) } ?? CorrelationID()
        let reported: any Error =
            if let framework = error as? any HTTPResponseError, !(error is any PublicErrorMappable) {
                FrameworkError(status: framework.status.code, type: String(reflecting: type(of: error)))
            } else {
                error
            }
        let failure = reporter.report(reported, correlationID: correlationID, logger: context.logger)
        return response(for: failure, format: format)
    }

    /// The response for an already reported `failure`.
    public func response(for failure: PublicError, format: Format = .problemJSON) -> Response {
        var headers = HTTPFields()
        for header in failure.headers { headers.set(header.name, to: header.value) }
        let body: String
        switch format {
        case .problemJSON, .negotiated:
            headers[.contentType] = PublicError.mediaType
            body = failure.problemJSON
        case .html:
            headers[.contentType] = "text/html; charset=utf-8"
            body = Self.page(failure)
        }
        return Response(
            status: HTTPResponse.Status(code: failure.status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// The HTML error page: no script, no style, every value escaped; the detail is the paragraph
    /// with id `error`.
    static func page(_ failure: PublicError) -> String {
        let title = HTMLText.escape(failure.problem.title)
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(title)</title></head>
            <body><h1>\(title)</h1><p id="error">\(HTMLText.escape(failure.problem.detail))</p>
            <p>Reference: <code>\(HTMLText.escape(failure.correlationID.rawValue))</code></p></body></html>

            """
    }
}

/// Escaping for text placed in HTML element content or a quoted attribute.
public enum HTMLText {
    /// `text` with `& < > " '` replaced by character references.
    public static func escape(_ text: String) -> String { HTMLEscaping.escape(text) }
}

/// A Hummingbird error (route not found, body too large, undecodable body) as a public problem by
/// its status; its message is never shown, and only its type is logged.
struct FrameworkError: Error, PublicErrorMappable {
    let status: Int
    let type: String

    var errorMapping: MappedError {
        let problem: PublicProblem =
            switch status {
            case 401: .authenticationFailed
            case 403: .accessDenied
            case 404: .notFound
            case 409: .conflict
            case 429: .rateLimited
            case 503: .serviceUnavailable
            case 400..<500: .invalidRequest
            default: .internalError
            }
        return MappedError(
            problem, internalCode: "web.framework_\(status)", logMessage: "\(type) with status \(status)",
            logLevel: status >= 500 ? .error : .info)
    }
}

/// Renders every error thrown further in as a problem response (see ``ProblemResponder``).
///
/// Add it once for the whole router (``PHIGuardWeb`` uses `.negotiated`: HTML for browsers, problem+json
/// for API clients), and again with `.html` or `.problemJSON` on a group to fix the format there.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let responder: ProblemResponder
    let format: ProblemResponder.Format

    /// Errors become `format` responses through `responder`.
    public init(responder: ProblemResponder = ProblemResponder(), format: ProblemResponder.Format = .problemJSON) {
        self.responder = responder
        self.format = format
    }

    /// Runs the rest; an error becomes a problem response.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return responder.response(for: error, context: context, format: format.resolved(for: request))
        }
    }
}
