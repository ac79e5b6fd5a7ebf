import Foundation
import PHIGuardTOTP
import Testing

@Suite("otpauth:// URIs (Google Authenticator Key URI format)")
struct OTPAuthURITests {
    static let secretBase32 = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

    func totp(_ configuration: TOTPConfiguration = .standard) throws -> TOTP {
        TOTP(secret: try TOTPSecret(base32: Self.secretBase32), configuration: configuration)
    }

    @Test("Defaults are left out; the issuer is in the label and the parameter")
    func writeDefaults() throws {
        let uri = OTPAuthURI(totp: try totp(), issuer: "Example Clinic", accountName: "ana@example.org")
        #expect(
            try uri.revealString()
                == "otpauth://totp/Example%20Clinic:ana%40example.org?secret=\(Self.secretBase32)&issuer=Example%20Clinic"
        )
    }

    @Test("Non-default algorithm, digits and period appear")
    func writeNonDefaults() throws {
        let configuration = try TOTPConfiguration(algorithm: .sha512, digits: .eight, period: 60)
        let uri = OTPAuthURI(totp: try totp(configuration), issuer: nil, accountName: "bob")
        #expect(
            try uri.revealString()
                == "otpauth://totp/bob?secret=\(Self.secretBase32)&algorithm=SHA512&digits=8&period=60")
    }

    @Test("Names are percent-encoded (UTF-8, reserved characters) and round-trip")
    func encoding() throws {
        let issuer = "Ünïcødé & Co/+?=#%"
        let account = "ана+tag@пример.рф"
        let text = try OTPAuthURI(totp: try totp(), issuer: issuer, accountName: account).revealString()
        let label = text.dropFirst("otpauth://totp/".count).prefix { $0 != "?" }
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%:")
        #expect(label.allSatisfy { allowed.contains($0) })
        #expect(label.filter { $0 == ":" }.count == 1)
        let parsed = try OTPAuthURI(parsing: text)
        #expect(parsed.issuer == issuer)
        #expect(parsed.accountName == account)
    }

    @Test("Round trip of configuration and secret")
    func roundTrip() throws {
        for algorithm in OTPAlgorithm.allCases {
            for digits in OTPDigits.allCases {
                for period in [15, 30, 60] {
                    let configuration = try TOTPConfiguration(algorithm: algorithm, digits: digits, period: period)
                    let original = OTPAuthURI(
                        totp: TOTP(secret: try TOTPSecret(), configuration: configuration), issuer: "I",
                        accountName: "a")
                    let parsed = try OTPAuthURI(parsing: try original.revealString())
                    #expect(parsed.totp.configuration == configuration)
                    #expect(parsed.totp.secret == original.totp.secret)
                }
            }
        }
    }

    @Test("Colons and bad names cannot be written")
    func badLabels() throws {
        let t = try totp()
        #expect(throws: TOTPError.invalidLabel(.colonInName)) {
            try OTPAuthURI(totp: t, issuer: "A:B", accountName: "x").revealString()
        }
        #expect(throws: TOTPError.invalidLabel(.colonInName)) {
            try OTPAuthURI(totp: t, issuer: "A", accountName: "x:y").revealString()
        }
        #expect(throws: TOTPError.invalidLabel(.emptyName)) {
            try OTPAuthURI(totp: t, issuer: "A", accountName: "").revealString()
        }
        #expect(throws: TOTPError.invalidLabel(.emptyName)) {
            try OTPAuthURI(totp: t, issuer: "", accountName: "x").revealString()
        }
        #expect(throws: TOTPError.invalidLabel(.controlCharacter)) {
            try OTPAuthURI(totp: t, issuer: "A", accountName: "x\ny").revealString()
        }
        #expect(throws: TOTPError.invalidLabel(.nameTooLong)) {
            try OTPAuthURI(totp: t, issuer: "A", accountName: String(repeating: "x", count: 257)).revealString()
        }
    }

    @Test("Tolerated spellings: upper-case scheme, %3A-free literal colon with spaces, padding, lower-case secret")
    func tolerated() throws {
        let parsed = try OTPAuthURI(
            parsing:
                "OTPAUTH://TOTP/ACME:%20%20john?secret=jbswy3dpehpk3pxpjbswy3dpehpk3pxp&issuer=ACME&algorithm=sha256&image=https%3A%2F%2Fx"
        )
        #expect(parsed.issuer == "ACME")
        #expect(parsed.accountName == "john")
        #expect(parsed.totp.configuration.algorithm == .sha256)
        #expect(try OTPAuthURI(parsing: "otpauth://totp/john?secret=\(Self.secretBase32)").issuer == nil)
        #expect(try OTPAuthURI(parsing: "otpauth://totp/john?issuer=Q&secret=\(Self.secretBase32)").issuer == "Q")
    }

    static let s = secretBase32
    static let malformed: [(String, OTPAuthURIProblem)] = [
        ("https://totp/a?secret=\(s)", .scheme),
        ("otpauth:/totp/a?secret=\(s)", .scheme),
        ("otpauth://", .scheme),
        ("otpauth://hotp/a?secret=\(s)&counter=1", .type),
        ("otpauth://totp", .type),
        ("otpauth://totp/a", .missingSecret),
        ("otpauth://totp/a?issuer=x", .missingSecret),
        ("otpauth://totp/a?secret=", .missingSecret),
        ("otpauth://totp/a?secret=\(s)#frag", .fragment),
        ("otpauth://totp/?secret=\(s)", .emptyName),
        ("otpauth://totp/I:?secret=\(s)", .emptyName),
        ("otpauth://totp/:a?secret=\(s)", .emptyName),
        ("otpauth://totp/I:a%3Ab?secret=\(s)", .colonInName),
        ("otpauth://totp/a%zz?secret=\(s)", .percentEncoding),
        ("otpauth://totp/a%C3?secret=\(s)", .percentEncoding),
        ("otpauth://totp/a%0A?secret=\(s)", .percentEncoding),
        ("otpauth://totp/a?secret=\(s)&digits=5", .digits),
        ("otpauth://totp/a?secret=\(s)&digits=9", .digits),
        ("otpauth://totp/a?secret=\(s)&digits=06", .digits),
        ("otpauth://totp/a?secret=\(s)&digits=six", .digits),
        ("otpauth://totp/a?secret=\(s)&period=0", .period),
        ("otpauth://totp/a?secret=\(s)&period=-30", .period),
        ("otpauth://totp/a?secret=\(s)&period=99999999999999999999", .period),
        ("otpauth://totp/a?secret=\(s)&period=", .period),
        ("otpauth://totp/a?secret=\(s)&algorithm=MD5", .algorithm),
        ("otpauth://totp/a?secret=\(s)&secret=\(s)", .duplicateParameter),
        ("otpauth://totp/a?secret=\(s)&color=red", .unknownParameter),
        ("otpauth://totp/a?secret=\(s)&issuer", .query),
        ("otpauth://totp/a?secret=\(s)&&", .query),
        ("otpauth://totp/X:a?secret=\(s)&issuer=Y", .issuerMismatch),
        ("otpauth://totp/a?secret=\(s)&issuer=x%3Ay", .colonInName),
    ]

    @Test("Malformed URIs give typed errors", arguments: malformed)
    func malformedURI(text: String, problem: OTPAuthURIProblem) {
        #expect(throws: TOTPError.malformedURI(problem)) { try OTPAuthURI(parsing: text) }
    }

    @Test("Bad secrets in URIs give secret errors")
    func badSecrets() {
        #expect(throws: TOTPError.malformedSecret(.invalidCharacter(offset: 0))) {
            try OTPAuthURI(parsing: "otpauth://totp/a?secret=1BSWY3DPEHPK3PXP")
        }
        #expect(throws: TOTPError.invalidSecretLength(byteCount: 10)) {
            try OTPAuthURI(parsing: "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP")
        }
    }

    @Test("Huge fields are rejected by length, without a crash")
    func huge() {
        let big = String(repeating: "A", count: 5_000_000)
        #expect(throws: TOTPError.malformedURI(.tooLong)) { try OTPAuthURI(parsing: "otpauth://totp/a?secret=\(big)") }
        #expect(throws: TOTPError.malformedURI(.tooLong)) {
            try OTPAuthURI(parsing: "otpauth://totp/\(big)?secret=\(Self.s)")
        }
        let longName = String(repeating: "n", count: 300)
        #expect(throws: TOTPError.malformedURI(.nameTooLong)) {
            try OTPAuthURI(parsing: "otpauth://totp/\(longName)?secret=\(Self.s)")
        }
    }
}
