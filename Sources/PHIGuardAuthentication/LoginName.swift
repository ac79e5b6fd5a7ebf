import Foundation

/// A login name in its one canonical form: the form every part of sign-in compares — the account
/// lookup, the lockout and rate-limit keys, registration, and the blind index an account directory
/// keeps — so that two spellings that reach one account also share one lockout counter.
///
/// ```swift
/// let name = try LoginName(" Ａlice\u{3000}")   // fullwidth Ａ, ideographic space
/// name.value                                     // "alice"
/// try LoginName("ali\u{200B}ce")                 // throws LoginNameError.defaultIgnorableCodePoint
/// ```
///
/// The rules follow the RFC 8265 PRECIS `UsernameCaseMapped` profile, in its order:
/// 1. leading and trailing white space (Unicode `White_Space`: tab, no-break space U+00A0,
///    ideographic space U+3000, …) is removed;
/// 2. width mapping: NFKC (this maps fullwidth and halfwidth forms, and — stricter than PRECIS, which
///    refuses other compatibility characters — maps them too: `ﬁ` becomes `fi`);
/// 3. case mapping: Unicode lower-casing (RFC 8265 §3.3.2 uses `toLowerCase`, not case folding);
/// 4. NFC;
/// 5. the result is checked against the `IdentifierClass`: letters (`Ll Lu Lo Lm`), marks
///    (`Mn Mc`), decimal digits (`Nd`) and printable ASCII are allowed. Inner white space, default
///    ignorable code points (zero-width space and joiners, soft hyphen, BOM, variation selectors),
///    control and format characters, and everything else (non-ASCII symbols and punctuation,
///    unassigned and private-use code points) are refused with a typed ``LoginNameError``.
///
/// Not implemented from RFC 8265/8264: the bidi rule (RFC 5893) and the contextual rules for
/// `ZWJ`/`ZWNJ` and a few punctuation marks (they are refused outright here instead).
///
/// Registration checks more (``checkRegistrable()``, ``skeleton``): see
/// <doc:TheLoginFlow>.
public struct LoginName: Sendable, Hashable, CustomStringConvertible {
    /// The longest canonical form accepted, in UTF-8 bytes.
    public static let maximumByteCount = 256
    /// Input longer than this (UTF-8 bytes) is refused before any Unicode processing.
    public static let maximumInputByteCount = 1_024

    /// The canonical form: what directories store, index and compare.
    public let value: String

    /// Canonicalises `rawName` as typed by the user.
    ///
    /// - Throws: ``LoginNameError`` when the name is empty, too long, or holds a character the
    ///   profile refuses. The error never contains the name.
    public init(_ rawName: String) throws(LoginNameError) {
        guard rawName.utf8.count <= Self.maximumInputByteCount else { throw .tooLong(maximum: Self.maximumByteCount) }
        let trimmed = Self.trimmingWhiteSpace(rawName)
        let mapped = trimmed.precomposedStringWithCompatibilityMapping.lowercased()
            .precomposedStringWithCanonicalMapping
        guard !mapped.isEmpty else { throw .empty }
        guard mapped.utf8.count <= Self.maximumByteCount else { throw .tooLong(maximum: Self.maximumByteCount) }
        for scalar in mapped.unicodeScalars { try Self.check(scalar) }
        value = mapped
    }

    /// A name already in canonical form (for example read back from the directory); `nil` if
    /// canonicalising it would change it or refuse it.
    public init?(canonical: String) {
        guard let name = try? LoginName(canonical), name.value == canonical else { return nil }
        self = name
    }

    /// The canonical form.
    public var description: String { value }

    /// The lockout and rate-limit key of this name (one per account, whatever the spelling).
    public var throttleKey: String { "name:" + value }

    private static func trimmingWhiteSpace(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }

    private static func check(_ scalar: Unicode.Scalar) throws(LoginNameError) {
        let properties = scalar.properties
        if properties.isWhitespace { throw .innerWhiteSpace }
        if properties.isDefaultIgnorableCodePoint { throw .defaultIgnorableCodePoint }
        switch properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: throw .controlCharacter
        case .lowercaseLetter, .uppercaseLetter, .otherLetter, .modifierLetter, .nonspacingMark, .spacingMark,
            .decimalNumber:
            return
        default:
            guard (0x21...0x7E).contains(scalar.value) else { throw .disallowedCharacter }
        }
    }
}

/// Why a login name was refused. Cases carry no part of the name (it may be someone else's).
public enum LoginNameError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Nothing is left after trimming white space.
    case empty
    /// Longer than `maximum` UTF-8 bytes.
    case tooLong(maximum: Int)
    /// White space inside the name (spaces at either end are removed, not refused).
    case innerWhiteSpace
    /// A default-ignorable code point (zero-width space or joiner, soft hyphen, BOM, …), invisible on screen.
    case defaultIgnorableCodePoint
    /// A control or format character.
    case controlCharacter
    /// A character outside the allowed classes (non-ASCII symbol or punctuation, unassigned, private use).
    case disallowedCharacter
    /// Letters of more than one script (for example Latin and Cyrillic): refused at registration.
    case mixedScripts

    /// What is wrong, without the name.
    public var description: String {
        switch self {
        case .empty: "login name is empty"
        case .tooLong(let maximum): "login name is longer than \(maximum) bytes"
        case .innerWhiteSpace: "login name contains white space"
        case .defaultIgnorableCodePoint: "login name contains an invisible character"
        case .controlCharacter: "login name contains a control character"
        case .disallowedCharacter: "login name contains a character that is not allowed"
        case .mixedScripts: "login name mixes letters of different scripts"
        }
    }
}
