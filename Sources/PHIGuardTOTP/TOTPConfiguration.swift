/// The public parameters of a TOTP credential: hash function, digits and period.
///
/// The defaults (SHA-1, 6 digits, 30 seconds) are what every authenticator app supports and what
/// the `otpauth://` URI format leaves out.
public struct TOTPConfiguration: Sendable, Hashable, Codable {
    /// The periods accepted, in seconds.
    public static let allowedPeriods = 1...3_600
    /// The default period: 30 seconds (RFC 6238 §5.2).
    public static let defaultPeriod = 30
    /// SHA-1, 6 digits, 30 seconds.
    public static let standard = TOTPConfiguration(uncheckedAlgorithm: .sha1, digits: .six, period: defaultPeriod)

    /// The HMAC hash function.
    public let algorithm: OTPAlgorithm
    /// The number of digits in a code.
    public let digits: OTPDigits
    /// The time step in seconds (X in RFC 6238).
    public let period: Int

    /// A configuration; throws ``TOTPError/invalidPeriod(_:)`` for a period outside ``allowedPeriods``.
    public init(algorithm: OTPAlgorithm = .sha1, digits: OTPDigits = .six, period: Int = defaultPeriod)
        throws(TOTPError)
    {
        guard Self.allowedPeriods.contains(period) else { throw .invalidPeriod(period) }
        self.init(uncheckedAlgorithm: algorithm, digits: digits, period: period)
    }

    private init(uncheckedAlgorithm algorithm: OTPAlgorithm, digits: OTPDigits, period: Int) {
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
    }

    private enum CodingKeys: String, CodingKey {
        case algorithm, digits, period
    }

    /// Decodes and validates a configuration.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            algorithm: try container.decode(OTPAlgorithm.self, forKey: .algorithm),
            digits: try container.decode(OTPDigits.self, forKey: .digits),
            period: try container.decode(Int.self, forKey: .period))
    }
}
