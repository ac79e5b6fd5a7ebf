internal import CQRencode
public import PHIGuardTOTP

/// A QR code made by libqrencode, rendered as text a phone can scan from a terminal.
///
/// ```swift
/// let qr = try TerminalQRCode(encoding: try enrollment.uri.revealString())
/// print(qr.render(style: .ansi))
/// ```
///
/// The modules encode whatever text was given (for an enrolment, the secret): `description` shows
/// only the size, and the rendering should go to the user's terminal and nowhere else.
public struct TerminalQRCode: Sendable, CustomStringConvertible {
    /// How much damage the code can survive (libqrencode's `QR_ECLEVEL_*`).
    public enum ErrorCorrection: Sendable, Hashable {
        /// About 7% of the code may be lost.
        case low
        /// About 15%: the default, a good balance of size and robustness on screens.
        case medium
        /// About 25%.
        case quartile
        /// About 30%.
        case high
    }

    /// How the modules become characters. Each character cell holds two module rows (Unicode half blocks).
    public enum Style: Sendable, Hashable {
        /// Light modules drawn with `█ ▀ ▄`, dark ones left blank: correct on a dark-background terminal.
        case halfBlocks
        /// Dark modules drawn, light ones blank: correct on a light-background terminal.
        case halfBlocksInverted
        /// Half blocks with explicit ANSI colours (white on black), correct on any colour terminal.
        case ansi
    }

    /// The number of modules on each side (without the quiet zone).
    public let size: Int
    private let modules: [Bool]

    /// Encodes `text` as 8-bit data at the smallest QR version that fits.
    ///
    /// - Throws: `TOTPError.qrEncodingFailed` if the text is too long for a QR code (about 2.3 KB at
    ///   medium error correction) or libqrencode fails.
    public init(encoding text: String, errorCorrection: ErrorCorrection = .medium) throws(TOTPError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 2_953 else { throw .qrEncodingFailed }
        let level: QRecLevel =
            switch errorCorrection {
            case .low: QR_ECLEVEL_L
            case .medium: QR_ECLEVEL_M
            case .quartile: QR_ECLEVEL_Q
            case .high: QR_ECLEVEL_H
            }
        guard let code = bytes.withUnsafeBufferPointer({ QRcode_encodeData(Int32($0.count), $0.baseAddress, 0, level) })
        else { throw .qrEncodingFailed }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        guard width > 0, let data = code.pointee.data else { throw .qrEncodingFailed }
        size = width
        // Bit 0 of each byte is the module colour (1 = dark); the other bits are libqrencode's bookkeeping.
        modules = (0..<width * width).map { data[$0] & 1 == 1 }
    }

    /// `true` if the module at `row`, `column` is dark; modules outside the code (the quiet zone) are light.
    public func isDark(row: Int, column: Int) -> Bool {
        guard (0..<size).contains(row), (0..<size).contains(column) else { return false }
        return modules[row * size + column]
    }

    /// The code as lines of text, with a light quiet zone of `quietZone` modules (4 in ISO/IEC 18004;
    /// 2 is usually enough on a screen). Lines end with `\n`.
    public func render(style: Style = .ansi, quietZone: Int = 4) -> String {
        let margin = max(0, min(quietZone, 16))
        let range = -margin..<(size + margin)
        var output = ""
        for top in stride(from: range.lowerBound, to: range.upperBound, by: 2) {
            if style == .ansi { output += "\u{1B}[97;40m" }
            for column in range {
                let upperLight = !isDark(row: top, column: column)
                // An odd total height leaves a last half row of quiet zone: draw it light.
                let lowerLight = top + 1 >= range.upperBound || !isDark(row: top + 1, column: column)
                let (upper, lower) =
                    style == .halfBlocksInverted ? (!upperLight, !lowerLight) : (upperLight, lowerLight)
                output += Self.block(upper: upper, lower: lower)
            }
            if style == .ansi { output += "\u{1B}[0m" }
            output += "\n"
        }
        return output
    }

    /// Only the size: the modules encode the text, which may be a secret.
    public var description: String { "TerminalQRCode(\(size)×\(size) modules)" }

    private static func block(upper: Bool, lower: Bool) -> String {
        switch (upper, lower) {
        case (true, true): "█"
        case (true, false): "▀"
        case (false, true): "▄"
        case (false, false): " "
        }
    }
}

extension TOTPEnrollment {
    /// A QR code of the enrolment URI for the terminal.
    ///
    /// - Throws: `TOTPError.qrEncodingFailed` if libqrencode cannot encode the URI.
    public func terminalQRCode(errorCorrection: TerminalQRCode.ErrorCorrection = .medium) throws(TOTPError)
        -> TerminalQRCode
    {
        try TerminalQRCode(encoding: try uri.revealString(), errorCorrection: errorCorrection)
    }
}
