internal import Foundation

/// Optional password-choice rules from NIST SP 800-63B: a minimum length and a blocklist, and no
/// composition rules ("one digit, one symbol"), which the standard advises against.
///
/// Length is counted in Unicode code points after NFKC normalisation (SP 800-63B §3.1.1.2).
/// The blocklist comparison is case-insensitive, after the same normalisation. Supply your own
/// list (breached passwords, the product name, the user's name and e-mail).
public struct PasswordPolicy: Sendable {
    /// Whether the password is the only authenticator or one of two factors.
    public enum Usage: Sendable, Hashable {
        /// Password only: at least 15 characters.
        case singleFactor
        /// Password plus another factor (TOTP): at least 8 characters.
        case withMultiFactor

        /// The SP 800-63B minimum length for this usage.
        public var minimumLength: Int {
            switch self {
            case .singleFactor: 15
            case .withMultiFactor: 8
            }
        }
    }

    private let blocklist: Set<String>

    /// A policy with the given blocklist (any casing; it is normalised here).
    public init(blocklist: some Sequence<String> = []) {
        self.blocklist = Set(blocklist.map(Self.comparable))
    }

    /// Every rule `password` breaks; empty when it is acceptable.
    /// - Parameters:
    ///   - password: the candidate password, as typed (it is normalised here).
    ///   - usage: what the secret protects, which sets the minimum length.
    ///   - contextWords: words specific to this user or service (name, e-mail, product), which may not
    ///     appear inside the password.
    public func violations(of password: String, usage: Usage, contextWords: [String] = [])
        -> [PasswordPolicyViolation]
    {
        let normalized: String
        do {
            normalized = try PasswordInput.normalized(password)
        } catch {
            return [error == .emptyPassword ? .tooShort(minimum: usage.minimumLength) : .tooLong]
        }
        var violations: [PasswordPolicyViolation] = []
        if normalized.unicodeScalars.count < usage.minimumLength {
            violations.append(.tooShort(minimum: usage.minimumLength))
        }
        let comparable = Self.comparable(normalized)
        if blocklist.contains(comparable) { violations.append(.blocklisted) }
        let words = contextWords.map(Self.comparable).filter { $0.unicodeScalars.count >= 3 }
        if words.contains(where: { comparable.contains($0) }) { violations.append(.containsContextWord) }
        return violations
    }

    private static func comparable(_ text: String) -> String {
        text.precomposedStringWithCompatibilityMapping.lowercased()
    }
}

/// A rule a candidate password breaks.
public enum PasswordPolicyViolation: Sendable, Hashable, CustomStringConvertible {
    /// Fewer code points than the usage requires.
    case tooShort(minimum: Int)
    /// More than ``PasswordInput/maximumUTF8Bytes`` UTF-8 bytes.
    case tooLong
    /// On the blocklist.
    case blocklisted
    /// Contains one of the context words.
    case containsContextWord

    /// A sentence for the person choosing the password; safe to show.
    public var description: String {
        switch self {
        case .tooShort(let minimum): "must be at least \(minimum) characters"
        case .tooLong: "must be at most \(PasswordInput.maximumUTF8Bytes) bytes"
        case .blocklisted: "is a commonly used or breached password"
        case .containsContextWord: "must not contain your name, e-mail or the service name"
        }
    }
}
