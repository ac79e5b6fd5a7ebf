internal import Foundation
internal import PHIGuardCrypto

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
    /// The blocklist entries whose comparable form is ASCII, as bytes grouped by length: what an ASCII
    /// ``PasswordSecret`` is checked against without leaving guarded memory. (An ASCII password can
    /// equal no other entry: a comparable form is NFKC, lower-cased text, and no such non-ASCII text
    /// is canonically equivalent to ASCII text.)
    private let asciiBlocklist: [Int: [[UInt8]]]

    /// A policy with the given blocklist (any casing; it is normalised here).
    public init(blocklist: some Sequence<String> = []) {
        let entries = Set(blocklist.map(Self.comparable))
        self.blocklist = entries
        asciiBlocklist = Dictionary(
            grouping: entries.compactMap { entry in entry.utf8.allSatisfy { $0 < 0x80 } ? Array(entry.utf8) : nil },
            by: \.count)
    }

    /// Every rule `password` breaks; empty when it is acceptable. The primary entry point: an ASCII
    /// password is measured, lower-cased and compared inside guarded memory (a lower-cased copy in a
    /// second guarded buffer); a non-ASCII one is normalised through a `String`, the one copy
    /// ``PasswordSecret`` documents, and checked as ``violations(of:usage:contextWords:)``
    /// checks a `String`. Both give the same answer for the same text.
    /// - Parameters:
    ///   - password: the candidate password, in guarded memory.
    ///   - usage: what the secret protects, which sets the minimum length.
    ///   - contextWords: words specific to this user or service (name, e-mail, product), which may not
    ///     appear inside the password.
    public func violations(ofSecret password: PasswordSecret, usage: Usage, contextWords: [String] = [])
        -> [PasswordPolicyViolation]
    {
        if let refusal = password.refusal {
            return [refusal == .emptyPassword ? .tooShort(minimum: usage.minimumLength) : .tooLong]
        }
        guard password.isASCII, let secret = password.secret else {
            guard let text = try? password.normalizationCopy() else { return [.invalidEncoding] }
            return violations(of: text, usage: usage, contextWords: contextWords)
        }
        guard secret.count <= PasswordInput.maximumUTF8Bytes else { return [.tooLong] }
        var violations: [PasswordPolicyViolation] = []
        if secret.count < usage.minimumLength { violations.append(.tooShort(minimum: usage.minimumLength)) }
        let lowered: SecretBytes
        do {
            lowered = try secret.withUnsafeBytes { (bytes) throws(SecretBytesInitError<Never>) in
                try SecretBytes(count: bytes.count) { (out) throws(Never) in
                    for index in bytes.indices {
                        let byte = bytes[index]
                        out[index] = (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
                    }
                }
            }
        } catch {
            // No guarded memory for the lower-cased copy: fall back to the documented String copy.
            guard let text = try? password.normalizationCopy() else { return [.invalidEncoding] }
            return self.violations(of: text, usage: usage, contextWords: contextWords)
        }
        lowered.withUnsafeBytes { candidate in
            if let sameLength = asciiBlocklist[candidate.count],
                sameLength.contains(where: { entry in entry.withUnsafeBytes { $0.elementsEqual(candidate) } })
            {
                violations.append(.blocklisted)
            }
            // A non-ASCII word cannot occur in ASCII text (see `asciiBlocklist`).
            let words = contextWords.map(Self.comparable).filter { $0.unicodeScalars.count >= 3 }
            if words.contains(where: { word in
                word.utf8.allSatisfy { $0 < 0x80 } && Self.contains(candidate, Array(word.utf8))
            }) {
                violations.append(.containsContextWord)
            }
        }
        return violations
    }

    /// Whether `needle` occurs in `haystack` (byte-wise).
    private static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) {
            var index = 0
            while index < needle.count, haystack[start + index] == needle[index] { index += 1 }
            if index == needle.count { return true }
        }
        return false
    }

    /// Every rule `password` breaks; empty when it is acceptable. A convenience for callers that hold
    /// the password as a `String`; prefer ``violations(ofSecret:usage:contextWords:)``.
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
    /// The bytes of a ``PasswordSecret`` are not valid UTF-8 (a `String` always is).
    case invalidEncoding
    /// A password change to the password the account already has (checked against the stored hash
    /// by `LoginFlow.changePassword`, not by ``PasswordPolicy``).
    case sameAsCurrent

    /// A sentence for the person choosing the password; safe to show.
    public var description: String {
        switch self {
        case .tooShort(let minimum): "must be at least \(minimum) characters"
        case .tooLong: "must be at most \(PasswordInput.maximumUTF8Bytes) bytes"
        case .blocklisted: "is a commonly used or breached password"
        case .containsContextWord: "must not contain your name, e-mail or the service name"
        case .invalidEncoding: "must be valid text (UTF-8)"
        case .sameAsCurrent: "must differ from the current password"
        }
    }
}
