internal import PHIGuardTOTPQRCode

/// A QR code as an inline SVG (drawn on the server: no script, no style attribute, only
/// presentation attributes, which the Content-Security-Policy allows).
enum QRCodeSVG {
    /// The SVG of `code`, with a quiet zone of four modules.
    static func svg(_ code: TerminalQRCode, pixels: Int = 240) -> String {
        let quiet = 4
        let side = code.size + 2 * quiet
        var path = ""
        for row in 0..<code.size {
            for column in 0..<code.size where code.isDark(row: row, column: column) {
                path += "M\(column + quiet) \(row + quiet)h1v1h-1z"
            }
        }
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(side) \(side)\" width=\"\(pixels)\" "
            + "height=\"\(pixels)\" role=\"img\" aria-label=\"Authenticator QR code\" shape-rendering=\"crispEdges\">"
            + "<rect width=\"\(side)\" height=\"\(side)\" fill=\"#fff\"/><path d=\"\(path)\" fill=\"#000\"/></svg>"
    }
}
