/// A TOTP enrolment in Google Authenticator's Key URI format:
/// `otpauth://totp/Issuer:account?secret=…&issuer=Issuer[&algorithm=…][&digits=…][&period=…]`.
///
/// Writing follows the format's advice: the issuer appears both as the label prefix and as the
/// `issuer` parameter, the secret is unpadded Base32, `algorithm`/`digits`/`period` appear only when
/// not the default, and everything outside RFC 3986's unreserved characters is percent-encoded
/// (a space is `%20`). Issuer and account names may not contain a colon.
///
/// Parsing is strict: scheme `otpauth`, type `totp`, a non-empty account, no fragment, each
/// parameter at most once, only the parameters above (plus `image`, which is ignored), issuer in the
/// label and the parameter equal when both are present, digits 6–8, a period in
/// ``TOTPConfiguration/allowedPeriods``, at most ``maximumLength`` characters. Every failure is a
/// ``TOTPError/malformedURI(_:)`` naming the problem, never the URI (it contains the secret).
///
/// ```swift
/// let uri = OTPAuthURI(totp: TOTP(secret: try TOTPSecret()), issuer: "Clinic", accountName: "ana@example.org")
/// let text = try uri.revealString()          // show it as a QR code, never log it
/// let parsed = try OTPAuthURI(parsing: text)
/// ```
public struct OTPAuthURI: Sendable, CustomStringConvertible {
    /// The longest URI the parser accepts, in UTF-8 bytes.
    public static let maximumLength = 4_096
    /// The longest issuer or account name, in UTF-8 bytes.
    public static let maximumNameLength = 256

    /// The secret and its configuration.
    public let totp: TOTP
    /// The service the account belongs to (shown by authenticator apps), if any.
    public let issuer: String?
    /// The account, for example the user's e-mail address.
    public let accountName: String

    /// Describes a URI to write. Names are checked by ``revealString()``.
    public init(totp: TOTP, issuer: String?, accountName: String) {
        self.totp = totp
        self.issuer = issuer
        self.accountName = accountName
    }

    /// The URI text, which contains the secret: show it (as a QR code) to the user once; never log it.
    ///
    /// - Throws: ``TOTPError/invalidLabel(_:)`` if the issuer or account contains a colon or a control
    ///   character, or is empty or longer than ``maximumNameLength`` bytes.
    public func revealString() throws(TOTPError) -> String {
        if let issuer { try Self.checkName(issuer) }
        try Self.checkName(accountName)
        var label = PercentEncoding.encode(accountName)
        var query = "secret=" + totp.secret.revealBase32()
        if let issuer {
            label = PercentEncoding.encode(issuer) + ":" + label
            query += "&issuer=" + PercentEncoding.encode(issuer)
        }
        let configuration = totp.configuration
        if configuration.algorithm != .sha1 { query += "&algorithm=" + configuration.algorithm.rawValue }
        if configuration.digits != .six { query += "&digits=\(configuration.digits.rawValue)" }
        if configuration.period != TOTPConfiguration.defaultPeriod { query += "&period=\(configuration.period)" }
        return "otpauth://totp/" + label + "?" + query
    }

    /// Shows the issuer only; the account name and the secret are left out.
    public var description: String {
        "OTPAuthURI(issuer: \(issuer.map { "\"\($0)\"" } ?? "nil"), account: <redacted>, secret: <redacted>)"
    }

    /// Parses an `otpauth://totp/…` URI strictly (see the type's rules).
    public init(parsing text: String) throws(TOTPError) {
        let utf8 = text.utf8
        guard utf8.count <= Self.maximumLength else { throw .malformedURI(.tooLong) }
        let prefix = "otpauth://"
        guard utf8.count > prefix.utf8.count,
            String(decoding: utf8.prefix(prefix.utf8.count), as: UTF8.self).lowercased() == prefix
        else { throw .malformedURI(.scheme) }
        let rest = text.utf8.dropFirst(prefix.utf8.count)
        guard !rest.contains(UInt8(ascii: "#")) else { throw .malformedURI(.fragment) }
        guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { throw .malformedURI(.type) }
        let type = String(decoding: rest[..<slash], as: UTF8.self)
        guard type.lowercased() == "totp" else { throw .malformedURI(.type) }
        let afterType = rest[rest.index(after: slash)...]
        guard let questionMark = afterType.firstIndex(of: UInt8(ascii: "?")) else {
            throw .malformedURI(.missingSecret)
        }
        let (labelIssuer, account) = try Self.parseLabel(Substring(afterType[..<questionMark]))
        let parameters = try Self.parseQuery(Substring(afterType[afterType.index(after: questionMark)...]))

        guard let secretText = parameters["secret"], !secretText.isEmpty else { throw .malformedURI(.missingSecret) }
        let secret = try TOTPSecret(base32: secretText)
        let issuer: String?
        switch (labelIssuer, parameters["issuer"]) {
        case (let fromLabel?, let fromParameter?):
            guard fromLabel == fromParameter else { throw .malformedURI(.issuerMismatch) }
            issuer = fromLabel
        case (let fromLabel?, nil): issuer = fromLabel
        case (nil, let fromParameter?): issuer = fromParameter
        case (nil, nil): issuer = nil
        }
        if let issuer { try Self.checkParsedName(issuer) }

        var algorithm = OTPAlgorithm.sha1
        if let name = parameters["algorithm"] {
            guard let parsed = OTPAlgorithm(rawValue: name.uppercased()) else { throw .malformedURI(.algorithm) }
            algorithm = parsed
        }
        var digits = OTPDigits.six
        if let text = parameters["digits"] {
            guard let number = Self.decimal(text), let parsed = OTPDigits(rawValue: number) else {
                throw .malformedURI(.digits)
            }
            digits = parsed
        }
        var period = TOTPConfiguration.defaultPeriod
        if let text = parameters["period"] {
            guard let number = Self.decimal(text), TOTPConfiguration.allowedPeriods.contains(number) else {
                throw .malformedURI(.period)
            }
            period = number
        }
        let configuration = try TOTPConfiguration(algorithm: algorithm, digits: digits, period: period)
        self.init(totp: TOTP(secret: secret, configuration: configuration), issuer: issuer, accountName: account)
    }

    private static let knownParameters: Set<String> = ["secret", "issuer", "algorithm", "digits", "period", "image"]

    private static func parseLabel(_ raw: Substring) throws(TOTPError) -> (issuer: String?, account: String) {
        // Split on the literal colon while still encoded: `%3A` would be a colon inside a name.
        let parts = raw.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let accountPart = parts.last else { throw .malformedURI(.label) }
        guard let decodedAccount = PercentEncoding.decode(accountPart.utf8) else {
            throw .malformedURI(.percentEncoding)
        }
        // The format allows spaces between the colon and the account name.
        let account = String(decodedAccount.drop { $0 == " " })
        try checkParsedName(account)
        guard parts.count == 2 else { return (nil, account) }
        guard let issuer = PercentEncoding.decode(parts[0].utf8) else { throw .malformedURI(.percentEncoding) }
        try checkParsedName(issuer)
        return (issuer, account)
    }

    private static func parseQuery(_ raw: Substring) throws(TOTPError) -> [String: String] {
        var parameters: [String: String] = [:]
        for pair in raw.split(separator: "&", omittingEmptySubsequences: false) {
            guard let equals = pair.firstIndex(of: "=") else { throw .malformedURI(.query) }
            let key = String(pair[..<equals])
            guard knownParameters.contains(key) else { throw .malformedURI(.unknownParameter) }
            guard parameters[key] == nil else { throw .malformedURI(.duplicateParameter) }
            guard let value = PercentEncoding.decode(pair[pair.index(after: equals)...].utf8) else {
                throw .malformedURI(.percentEncoding)
            }
            parameters[key] = value
        }
        return parameters
    }

    /// A canonical decimal of at most 4 digits (no sign, no leading zero).
    private static func decimal(_ text: String) -> Int? {
        let utf8 = text.utf8
        guard (1...4).contains(utf8.count), utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            utf8.first != UInt8(ascii: "0") || utf8.count == 1
        else { return nil }
        return Int(text)
    }

    private static func checkName(_ name: String) throws(TOTPError) {
        guard !name.isEmpty else { throw .invalidLabel(.emptyName) }
        guard name.utf8.count <= maximumNameLength else { throw .invalidLabel(.nameTooLong) }
        guard !name.contains(":") else { throw .invalidLabel(.colonInName) }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidLabel(.controlCharacter)
        }
    }

    private static func checkParsedName(_ name: String) throws(TOTPError) {
        do {
            try checkName(name)
        } catch {
            guard case .invalidLabel(let problem) = error else { throw error }
            throw .malformedURI(problem)
        }
    }
}

/// What is wrong with an `otpauth://` URI or with a name to be written into one. Never carries the text.
public enum OTPAuthURIProblem: String, Sendable, Hashable, CustomStringConvertible {
    /// Longer than ``OTPAuthURI/maximumLength`` bytes.
    case tooLong
    /// The scheme is not `otpauth`.
    case scheme
    /// The type is missing or not `totp` (`hotp` is not supported).
    case type
    /// The label (`issuer:account`) is malformed.
    case label
    /// A `%` escape is broken, or the decoded bytes are not UTF-8.
    case percentEncoding
    /// The query is not `key=value` pairs separated by `&`.
    case query
    /// A parameter other than secret, issuer, algorithm, digits, period and image.
    case unknownParameter
    /// A parameter appears twice.
    case duplicateParameter
    /// There is no `secret` parameter, or it is empty.
    case missingSecret
    /// `algorithm` is not SHA1, SHA256 or SHA512.
    case algorithm
    /// `digits` is not 6, 7 or 8.
    case digits
    /// `period` is not a canonical decimal in ``TOTPConfiguration/allowedPeriods``.
    case period
    /// The issuer in the label and the `issuer` parameter differ.
    case issuerMismatch
    /// The URI has a `#fragment`.
    case fragment
    /// The issuer or account is empty.
    case emptyName
    /// The issuer or account is longer than ``OTPAuthURI/maximumNameLength`` bytes.
    case nameTooLong
    /// The issuer or account contains a colon (the format's separator).
    case colonInName
    /// The issuer or account contains a control character.
    case controlCharacter

    /// The raw value.
    public var description: String { rawValue }
}
