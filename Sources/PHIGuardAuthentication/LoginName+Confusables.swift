import Foundation

// A small, documented subset of Unicode TR #39 (security mechanisms): a script check over a range
// table for the scripts that matter most for look-alikes of Latin names, and a skeleton over a
// short confusables table. What is not here is listed in TheLoginFlow.md ("Look-alike names").

extension LoginName {
    /// The scripts the mixed-script check tells apart.
    enum Script: Hashable {
        case latin, greek, cyrillic
        /// A letter of any script not in the table (Han, Arabic, …): one bucket, so it mixes with none of the above.
        case unclassified
    }

    /// The script of a letter, or `nil` for characters of no script (digits, ASCII punctuation,
    /// combining marks, which inherit the script of their base).
    static func script(of scalar: Unicode.Scalar) -> Script? {
        switch scalar.value {
        case 0x41...0x5A, 0x61...0x7A, 0xAA, 0xBA, 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x24F, 0x1E00...0x1EFF,
            0x2C60...0x2C7F, 0xA720...0xA7FF, 0xAB30...0xAB6F, 0xFF21...0xFF3A, 0xFF41...0xFF5A:
            return .latin
        case 0x370...0x3FF, 0x1F00...0x1FFF:
            return .greek
        case 0x400...0x52F, 0x1C80...0x1C8F, 0x2DE0...0x2DFF, 0xA640...0xA69F:
            return .cyrillic
        default:
            switch scalar.properties.generalCategory {
            case .lowercaseLetter, .uppercaseLetter, .titlecaseLetter, .otherLetter, .modifierLetter:
                return .unclassified
            default:
                return nil  // digits, ASCII punctuation, marks: "common" and "inherited"
            }
        }
    }

    /// Single code points that look like a Latin letter (or another character), mapped to it. A
    /// hand-picked subset of the Unicode `confusables.txt` data, for lower-case canonical names.
    static let confusables: [Unicode.Scalar: String] = [
        // Cyrillic
        "\u{430}": "a", "\u{435}": "e", "\u{43E}": "o", "\u{440}": "p", "\u{441}": "c", "\u{445}": "x",
        "\u{443}": "y", "\u{456}": "i", "\u{458}": "j", "\u{455}": "s", "\u{501}": "d", "\u{4BB}": "h",
        "\u{4CF}": "l", "\u{51B}": "q", "\u{51D}": "w", "\u{44C}": "b",
        // Greek
        "\u{3BF}": "o", "\u{3B1}": "a", "\u{3BD}": "v", "\u{3C1}": "p", "\u{3B9}": "i", "\u{3BA}": "k",
        "\u{3C5}": "u", "\u{3C7}": "x",
        // Latin look-alikes
        "\u{131}": "i",  // dotless ı
        "\u{237}": "j",  // dotless ȷ
        "\u{269}": "i",  // ɩ
        "\u{261}": "g",  // script ɡ
        // Digits and ASCII that pass for letters
        "0": "o", "1": "l", "|": "l", "5": "s",
    ]

    /// Letter pairs that read as one letter (`rn` as `m`, `vv` as `w`), applied after the single code points.
    static let confusableSequences: [(String, String)] = [("rn", "m"), ("vv", "w")]

    /// The look-alike skeleton of this name: decomposed (NFD), each code point of a short
    /// confusables table replaced by what it looks like (Cyrillic `а е о р с х у і ј ѕ ԁ һ ӏ ԛ ԝ ь`,
    /// Greek `ο α ν ρ ι κ υ χ`, dotless `ı` and `ȷ`, `ɩ`, `ɡ`, the digits `0 1 5` and `|`), then `rn`
    /// read as `m` and `vv` as `w`, and composed again (NFC). Two names with equal skeletons look alike; registration refuses a name whose
    /// skeleton is an existing account's (the ``AccountDirectory`` stores the skeleton beside the name).
    ///
    /// ```swift
    /// try LoginName("аlice").skeleton == (try LoginName("alice")).skeleton   // Cyrillic а: true
    /// ```
    public var skeleton: String {
        var mapped = ""
        for scalar in value.decomposedStringWithCanonicalMapping.unicodeScalars {
            if let replacement = Self.confusables[scalar] {
                mapped += replacement
            } else {
                mapped.unicodeScalars.append(scalar)
            }
        }
        for (sequence, replacement) in Self.confusableSequences {
            mapped = mapped.replacingOccurrences(of: sequence, with: replacement)
        }
        return mapped.precomposedStringWithCanonicalMapping
    }

    /// The checks registration adds to canonicalisation: a name whose letters come from more than
    /// one script (Latin, Greek, Cyrillic, or any other script, each a separate group) is refused.
    /// Digits, ASCII punctuation and combining marks belong to no script and mix with any.
    ///
    /// Sign-in does not run this check: a mixed-script name there simply finds no account.
    ///
    /// - Throws: ``LoginNameError/mixedScripts``.
    public func checkRegistrable() throws(LoginNameError) {
        var seen: Script?
        for scalar in value.unicodeScalars {
            guard let script = Self.script(of: scalar) else { continue }
            if let seen, seen != script { throw .mixedScripts }
            seen = script
        }
    }
}
