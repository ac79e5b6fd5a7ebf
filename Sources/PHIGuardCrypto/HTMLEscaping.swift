/// Escaping for text placed in HTML element content or a quoted attribute: PHIGuard's one escaper
/// (the audit review report's HTML page, the web adapter's error pages and `HTMLText`).
package enum HTMLEscaping {
    /// `text` with `& < > " '` replaced by character references.
    package static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}
