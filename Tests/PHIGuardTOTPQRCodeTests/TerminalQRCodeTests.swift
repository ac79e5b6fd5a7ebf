import Foundation
import PHIGuardTOTP
import PHIGuardTOTPQRCode
import Testing

@Suite("Terminal QR code of an enrolment")
struct EnrollmentQRCodeTests {
    @Test("The QR code of the enrolment URI renders in every style")
    func qr() throws {
        let enrollment = try TOTPEnrollment(issuer: "Clinic", accountName: "ana@example.org")
        let qr = try enrollment.terminalQRCode()
        #expect(qr.size >= 21 && (qr.size - 17) % 4 == 0)
        for style in [TerminalQRCode.Style.halfBlocks, .halfBlocksInverted, .ansi] {
            #expect(!qr.render(style: style).isEmpty)
        }
        #expect(!qr.description.contains(enrollment.totp.secret.revealBase32()))
    }
}

@Suite("Terminal QR codes (libqrencode)")
struct TerminalQRCodeTests {
    /// Reads the half-block rendering back into modules.
    func modules(from text: String, inverted: Bool) -> [[Bool]] {
        var rows: [[Bool]] = []
        for line in text.split(separator: "\n") {
            var upper: [Bool] = []
            var lower: [Bool] = []
            for character in line {
                let (top, bottom): (Bool, Bool) =
                    switch character {
                    case "█": (true, true)
                    case "▀": (true, false)
                    case "▄": (false, true)
                    default: (false, false)
                    }
                // Drawn = light, unless inverted (then drawn = dark). Store "dark".
                upper.append(inverted ? top : !top)
                lower.append(inverted ? bottom : !bottom)
            }
            rows.append(upper)
            rows.append(lower)
        }
        return rows
    }

    @Test("The rendering is the module matrix with a light quiet zone, in both half-block styles")
    func renderingMatchesMatrix() throws {
        let qr = try TerminalQRCode(encoding: "otpauth://totp/Clinic:ana?secret=JBSWY3DPEHPK3PXP&issuer=Clinic")
        for inverted in [false, true] {
            let rows = modules(
                from: qr.render(style: inverted ? .halfBlocksInverted : .halfBlocks, quietZone: 2), inverted: inverted)
            let side = qr.size + 4
            #expect(rows.count == side + side % 2)
            for row in 0..<side {
                #expect(rows[row].count == side)
                for column in 0..<side {
                    #expect(rows[row][column] == qr.isDark(row: row - 2, column: column - 2))
                }
            }
        }
    }

    /// Optional: with zbar-tools installed (not a project dependency), the rendered text is read back
    /// by a real QR decoder. Skipped when /usr/bin/zbarimg is absent.
    @Test(
        "zbarimg decodes the rendered text back to the URI",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/zbarimg")))
    func zbarDecodes() throws {
        let uri =
            "otpauth://totp/Riverside%20Clinic:ana%40example.org?secret=JBSWY3DPEHPK3PXP&issuer=Riverside%20Clinic"
        let qr = try TerminalQRCode(encoding: uri)
        for style in [TerminalQRCode.Style.halfBlocks, .halfBlocksInverted, .ansi] {
            let text = qr.render(style: style).replacingOccurrences(of: "\u{1B}[97;40m", with: "")
                .replacingOccurrences(of: "\u{1B}[0m", with: "")
            let rows = modules(from: text, inverted: style == .halfBlocksInverted)
            let scale = 6
            var pgm = Data("P5 \(rows[0].count * scale) \(rows.count * scale) 255\n".utf8)
            for row in rows {
                let line = row.flatMap { [UInt8](repeating: $0 ? 0 : 255, count: scale) }
                for _ in 0..<scale { pgm.append(contentsOf: line) }
            }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("phiguard-qr-\(UUID()).pgm")
            try pgm.write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/zbarimg")
            process.arguments = ["-q", "--raw", file.path]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let decoded = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(decoded.trimmingCharacters(in: .newlines) == uri, "style \(style)")
        }
    }

    @Test("Finder patterns are where ISO/IEC 18004 puts them")
    func finderPatterns() throws {
        let qr = try TerminalQRCode(encoding: "hello")
        #expect(qr.size == 21)
        for (top, left) in [(0, 0), (0, qr.size - 7), (qr.size - 7, 0)] {
            for offset in 0..<7 {
                // The finder's outer ring is dark, its inner ring light, its 3×3 centre dark.
                #expect(qr.isDark(row: top, column: left + offset))
                #expect(qr.isDark(row: top + 6, column: left + offset))
                #expect(qr.isDark(row: top + offset, column: left))
            }
            #expect(!qr.isDark(row: top + 1, column: left + 1))
            #expect(qr.isDark(row: top + 3, column: left + 3))
        }
    }

    @Test("Text too long for a QR code is a typed error")
    func tooLong() {
        #expect(throws: TOTPError.qrEncodingFailed) {
            try TerminalQRCode(encoding: String(repeating: "x", count: 3_000))
        }
        #expect(throws: TOTPError.qrEncodingFailed) { try TerminalQRCode(encoding: "") }
        #expect(throws: TOTPError.qrEncodingFailed) {
            try TerminalQRCode(encoding: String(repeating: "x", count: 2_900), errorCorrection: .high)
        }
    }
}
