public import Logging

/// Turns any error into a ``PublicError`` and logs its full, redacted detail under the same
/// correlation id.
///
/// ```swift
/// let reporter = ErrorReporter(logger: logger)          // the app's Logger; nothing global is configured
///
/// do {
///     try await chart.save(note)
/// } catch {
///     let failure = reporter.report(error, context: ["route": .value(route)], logger: requestLogger)
///     return Response(status: failure.status, contentType: PublicError.mediaType, body: failure.problemJSON)
/// }
/// ```
///
/// The public side depends only on the error's mapping (``PublicErrorMappable`` or
/// ``ErrorMappings``): a fixed ``PublicProblem``. Anything no mapping knows becomes
/// ``PublicProblem/internalError`` with no detail. The log side gets the internal code, the message,
/// every link of the error chain and the context, with secret and PHI fields redacted.
public struct ErrorReporter: Sendable {
    /// Reporter settings.
    public struct Configuration: Sendable {
        /// How a denied access to a resource is rendered; `.notFound` (hide existence) by default.
        public var resourceDenial: ResourceDenialPolicy
        /// The prefix of each problem's RFC 9457 `type` URI; the code (with `-` for `_`) is appended.
        /// Point it at your published error documentation, e.g. `https://portal.example/problems/`.
        public var problemTypeBase: String
        /// What is logged about an error that no mapping knows.
        public var unmappedErrorDetail: UnmappedErrorDetail
        /// Field names (compared lower-case, without `_`, `-`, `.` and spaces) that are redacted even
        /// when labelled ``ContextValue/value(_:)``: a field whose name contains one of them is logged as
        /// `<redacted:field-name>`.
        public var sensitiveFieldNames: [String]
        /// The most links of an error chain that are logged (1...32).
        public var maximumChainLength: Int
        /// The `WWW-Authenticate` challenge sent with every 401 (RFC 9110 §11.6.1 asks for one);
        /// `nil` sends none. The default, ``defaultAuthenticationChallenge``, is neutral: PHIGuard's
        /// sessions are cookies, for which no scheme is registered, and `Bearer` would send clients
        /// looking for a token. An API that takes bearer tokens sets `Bearer realm="…"`. Only printable
        /// ASCII is kept, at most 200 characters.
        public var authenticationChallenge: String?

        /// `Session realm="phiguard"`.
        public static let defaultAuthenticationChallenge = #"Session realm="phiguard""#

        /// The defaults: hide denied resources as 404, `urn:phiguard:problem:` types, log only the
        /// type of unmapped errors, the default sensitive names, chains of at most 8 links, and the
        /// neutral `WWW-Authenticate` challenge.
        public init(
            resourceDenial: ResourceDenialPolicy = .notFound,
            problemTypeBase: String = "urn:phiguard:problem:",
            unmappedErrorDetail: UnmappedErrorDetail = .typeName,
            sensitiveFieldNames: [String] = Configuration.defaultSensitiveFieldNames,
            maximumChainLength: Int = 8,
            authenticationChallenge: String? = Configuration.defaultAuthenticationChallenge
        ) {
            self.resourceDenial = resourceDenial
            self.problemTypeBase = problemTypeBase
            self.unmappedErrorDetail = unmappedErrorDetail
            self.sensitiveFieldNames = sensitiveFieldNames
            self.maximumChainLength = maximumChainLength
            self.authenticationChallenge = authenticationChallenge
        }

        /// Names of secrets and of common PHI fields.
        public static let defaultSensitiveFieldNames = [
            "password", "passwd", "passphrase", "secret", "token", "otp", "totp", "pepper", "credential",
            "privatekey", "apikey", "authorization", "cookie", "ssn", "socialsecurity", "mrn", "dob", "birth",
            "patientname", "firstname", "lastname", "fullname", "address", "phone", "email", "diagnosis",
        ]
    }

    /// What is logged about an error no mapping knows.
    public enum UnmappedErrorDetail: Sendable, Hashable {
        /// Only its type name. The default: an arbitrary error's description may hold PHI or secrets.
        case typeName
        /// Its type name and `String(describing:)`, cleaned to one line of at most 2,000 characters.
        ///
        /// - Warning: Privacy: library errors often quote their input (a row, a query with its
        ///   arguments, a file's contents). Choose this only if every error type that can reach the
        ///   reporter unmapped is known not to carry secrets or PHI, or your logs are cleared for PHI.
        case typeNameAndDescription
    }

    /// The logger used when ``report(_:context:correlationID:logger:)`` is not given one.
    public let logger: Logger
    /// The registered mappings.
    public let mappings: ErrorMappings
    /// The settings.
    public let configuration: Configuration

    /// A reporter that logs to `logger` (the app's; this never touches `LoggingSystem`).
    public init(
        logger: Logger, mappings: ErrorMappings = ErrorMappings(), configuration: Configuration = Configuration()
    ) {
        self.logger = logger
        self.mappings = mappings
        self.configuration = configuration
    }

    /// Maps `error` to its public error and logs the detail.
    ///
    /// - Parameters:
    ///   - error: Any error. A ``PublicError`` is returned unchanged and not logged again.
    ///   - context: Fields of this occurrence, added after the mapping's own.
    ///   - correlationID: The id to use (for example the request's validated id); a new one by default.
    ///   - logger: A request-scoped logger to use instead of ``logger``.
    /// - Returns: What to show the user.
    @discardableResult
    public func report(
        _ error: any Error, context: ErrorContext = ErrorContext(), correlationID: CorrelationID = CorrelationID(),
        logger: Logger? = nil
    ) -> PublicError {
        if let already = error as? PublicError { return already }
        let mapped = map(error)
        let problem = mapped.publicProblem(under: configuration.resourceDenial)
        log(error, mapped: mapped, shownAs: problem, context: context, correlationID: correlationID, logger: logger)
        return publicError(problem, correlationID: correlationID, headers: mapped.headers)
    }

    /// Reports a failure during sign-in: whatever `error` is, the user sees
    /// ``PublicProblem/authenticationFailed``.
    ///
    /// Use it for every error thrown while authenticating (an unknown account, a wrong password, a
    /// locked account, a failed second factor, but also a corrupt stored hash or an overloaded hasher),
    /// so neither the response nor its status tells an attacker which accounts exist. The log keeps
    /// the real reason; a 5xx cause is logged at `.error`. The only header is `WWW-Authenticate`: a
    /// mapping's own headers (`Retry-After` of a throttled attempt) are dropped, so every failure is
    /// byte-identical.
    @discardableResult
    public func reportAuthenticationFailure(
        _ error: any Error, context: ErrorContext = ErrorContext(), correlationID: CorrelationID = CorrelationID(),
        logger: Logger? = nil
    ) -> PublicError {
        let problem = PublicProblem.authenticationFailed
        let correlationID = (error as? PublicError)?.correlationID ?? correlationID
        if !(error is PublicError) {
            var mapped = map(error)
            if mapped.logLevel == nil {
                mapped.logLevel =
                    mapped.publicProblem(under: configuration.resourceDenial).status >= 500 ? .error : .notice
            }
            log(error, mapped: mapped, shownAs: problem, context: context, correlationID: correlationID, logger: logger)
        }
        return publicError(problem, correlationID: correlationID, headers: [])
    }

    /// The public error for `problem`: the mapping's headers, plus the challenge on a 401.
    private func publicError(
        _ problem: PublicProblem, correlationID: CorrelationID, headers: [PublicHeader]
    ) -> PublicError {
        var headers = headers.filter { $0.name != PublicHeader.wwwAuthenticateName }
        if problem.status == 401, let challenge = configuration.authenticationChallenge {
            headers.append(.wwwAuthenticate(challenge))
        }
        return PublicError(
            problem: problem, correlationID: correlationID, typeBase: configuration.problemTypeBase, headers: headers)
    }

    /// The mapping for `error`, or the generic unmapped one.
    func map(_ error: any Error) -> MappedError {
        if let mapped = mappings.mapping(for: error) { return mapped }
        let typeName = String(reflecting: type(of: error))
        let message: String
        switch configuration.unmappedErrorDetail {
        case .typeName:
            message = "unmapped error of type \(typeName)"
        case .typeNameAndDescription:
            message = "unmapped error of type \(typeName): \(String(describing: error))"
        }
        return MappedError(.internalError, internalCode: "unmapped", logMessage: message)
    }

    private func log(
        _ error: any Error, mapped: MappedError, shownAs problem: PublicProblem, context: ErrorContext,
        correlationID: CorrelationID, logger: Logger?
    ) {
        let logger = logger ?? self.logger
        let level = mapped.logLevel ?? (problem.status >= 500 ? .error : .notice)
        guard logger.logLevel <= level else { return }

        var chain: [Logger.MetadataValue] = [.string(chainLink(error, mapped))]
        var fields = mapped.context.merging(context)
        var next = mapped.underlying
        let maximumLinks = min(max(configuration.maximumChainLength, 1), 32)
        while let cause = next, chain.count < maximumLinks {
            let causeMapping = map(cause)
            chain.append(.string(chainLink(cause, causeMapping)))
            fields = fields.merging(causeMapping.context)
            next = causeMapping.underlying
        }
        if next != nil { chain.append("… (chain cut at \(maximumLinks) links)") }

        var metadata: Logger.Metadata = [
            "correlation_id": .string(correlationID.rawValue),
            "error.code": .string(problem.code),
            "error.status": .string(String(problem.status)),
            "error.internal_code": .string(LogText.singleLine(mapped.internalCode, limit: 200)),
            "error.type": .string(String(reflecting: type(of: error))),
            "error.chain": .array(chain),
        ]
        if !fields.isEmpty { metadata["error.context"] = .dictionary(redacted(fields)) }
        if fields.droppedFieldCount > 0 {
            metadata["error.context_dropped"] = .string(String(fields.droppedFieldCount))
        }
        logger.log(
            level: level, "\(LogText.singleLine(mapped.logMessage, limit: 2_000))", metadata: metadata)
    }

    private func chainLink(_ error: any Error, _ mapped: MappedError) -> String {
        let typeName = String(reflecting: type(of: error))
        return LogText.singleLine("\(typeName) [\(mapped.internalCode)]: \(mapped.logMessage)", limit: 2_000)
    }

    func redacted(_ context: ErrorContext) -> Logger.Metadata {
        let sensitive = configuration.sensitiveFieldNames.map(Self.normalisedName).filter { !$0.isEmpty }
        var result: Logger.Metadata = [:]
        for field in context.fields {
            let name = LogText.singleLine(field.name, limit: 64)
            let normalised = Self.normalisedName(field.name)
            let value: String
            switch field.value.storage {
            case .secret: value = "<redacted:secret>"
            case .phi: value = "<redacted:phi>"
            case .value(let text):
                value =
                    sensitive.contains(where: normalised.contains)
                    ? "<redacted:field-name>" : LogText.singleLine(text, limit: 1_024)
            }
            result[name] = .string(value)
        }
        return result
    }

    private static func normalisedName(_ name: String) -> String {
        String(name.lowercased().unicodeScalars.filter { !["_", "-", ".", " "].contains($0) }.map(Character.init))
    }
}
