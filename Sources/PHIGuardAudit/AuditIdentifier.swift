/// The rule every string in an ``AuditEvent`` obeys: it is an identifier, never a value.
///
/// An identifier is 1–128 bytes of `A–Z a–z 0–9 . _ - : / @`. No spaces, quotes, newlines or
/// other punctuation: free text (a name, a diagnosis, a note, a password, a sentence, a SQL
/// fragment, a stack frame) cannot be stored, so the log cannot become a second copy of PHI.
/// Opaque ids such as `MRN-000123`, `user:42`, `Observation/9f2c` or `pol-2026.11` pass.
public enum AuditIdentifier {
    /// The longest identifier in bytes.
    public static let maximumLength = 128

    /// Whether `text` is a valid identifier.
    public static func isValid(_ text: String) -> Bool {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= maximumLength else { return false }
        return bytes.allSatisfy(isAllowed)
    }

    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"),
            UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "@"):
            true
        default: false
        }
    }

    static func check(_ value: String?, _ field: String) throws(AuditError) {
        if let value, !isValid(value) { throw .invalidIdentifier(field: field) }
    }

    static func check(_ values: [String], _ field: String, maximumCount: Int = 256) throws(AuditError) {
        guard values.count <= maximumCount else { throw .invalidEvent("more than \(maximumCount) entries in \(field)") }
        for value in values where !isValid(value) { throw .invalidIdentifier(field: field) }
    }
}
