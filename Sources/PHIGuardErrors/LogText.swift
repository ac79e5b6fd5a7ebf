/// Text clean-up for anything that ends up in a log line or a one-line rendering.
enum LogText {
    /// `text` with control characters (including line and paragraph separators) replaced by spaces,
    /// cut to `limit` characters (with `…` when cut). Stops log injection and unbounded log lines.
    static func singleLine(_ text: String, limit: Int) -> String {
        var result = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit {
                result.append("…")
                break
            }
            let isControl =
                scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}"
                || scalar.properties.generalCategory == .format
            result.unicodeScalars.append(isControl ? " " : scalar)
            count += 1
        }
        return result
    }
}
