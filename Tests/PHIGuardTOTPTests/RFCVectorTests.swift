import Foundation
import PHIGuardTOTP
import PHIGuardTestSupport
import Testing

/// RFC 4226 Appendix D and RFC 6238 Appendix B, from Tests/Fixtures/rfc.
@Suite("RFC test vectors")
struct RFCVectorTests {
    struct HOTPFile: Decodable {
        struct Vector: Decodable {
            let counter: UInt64
            let hotp: String
        }
        let secret_hex: String
        let vectors: [Vector]
    }

    struct TOTPFile: Decodable {
        struct Vector: Decodable {
            let unix_time: Int64
            let T_hex: String
            let algorithm: String
            let totp: String
        }
        let time_step: Int
        let digits: Int
        let seeds_hex: [String: String]
        let vectors: [Vector]
    }

    @Test("RFC 4226 Appendix D: HOTP counters 0–9")
    func hotp() throws {
        let file = try Fixture.decode(HOTPFile.self, from: "rfc/rfc4226_hotp.json")
        #expect(file.vectors.count == 10)
        let hotp = HOTP(secret: try TOTPSecret(bytes: [UInt8](hex: file.secret_hex)))
        for vector in file.vectors {
            #expect(hotp.code(counter: vector.counter) == vector.hotp, "counter \(vector.counter)")
        }
    }

    @Test("RFC 6238 Appendix B: 18 rows, 32/64-byte seeds for SHA256/SHA512, 64-bit steps")
    func totp() throws {
        let file = try Fixture.decode(TOTPFile.self, from: "rfc/rfc6238_totp.json")
        #expect(file.vectors.count == 18)
        for vector in file.vectors {
            let algorithm = try #require(OTPAlgorithm(rawValue: vector.algorithm))
            let seed = [UInt8](hex: try #require(file.seeds_hex[vector.algorithm]))
            let configuration = try TOTPConfiguration(
                algorithm: algorithm, digits: try #require(OTPDigits(rawValue: file.digits)), period: file.time_step)
            let totp = TOTP(secret: try TOTPSecret(bytes: seed), configuration: configuration)
            let date = Date(timeIntervalSince1970: TimeInterval(vector.unix_time))
            let step = try totp.timeStep(at: date)
            #expect(step == UInt64(vector.T_hex, radix: 16), "T at \(vector.unix_time)")
            #expect(try totp.code(at: date) == vector.totp, "\(vector.algorithm) at \(vector.unix_time)")
            #expect(try totp.verify(vector.totp, at: date, window: 0) == step)
            // The same rows through the exact integer API.
            #expect(try totp.timeStep(unixSeconds: vector.unix_time) == step)
            #expect(try totp.code(unixSeconds: vector.unix_time) == vector.totp)
            #expect(try totp.verify(vector.totp, unixSeconds: vector.unix_time, window: 0) == step)
        }
    }

    @Test("A TOTP step equals the HOTP counter with the same secret (RFC 6238 §4)")
    func totpIsHOTPOfStep() throws {
        let secret = try TOTPSecret()
        let totp = TOTP(secret: secret)
        let hotp = HOTP(secret: secret)
        for step: UInt64 in [0, 1, 41_152_263, UInt64(Int64.max) / 30, UInt64.max] {
            #expect(totp.code(forStep: step) == hotp.code(counter: step))
        }
    }

    @Test("Codes are zero-padded strings of exactly the configured digits")
    func zeroPadding() throws {
        // RFC 6238 row 1111111109/SHA1 is "07081804": the leading zero must survive.
        let secret = try TOTPSecret(bytes: Array("12345678901234567890".utf8))
        let totp = TOTP(secret: secret, configuration: try TOTPConfiguration(digits: .eight))
        #expect(try totp.code(at: Date(timeIntervalSince1970: 1_111_111_109)) == "07081804")
        // Search for 6-digit codes below 100000 and check their padding.
        let six = TOTP(secret: secret)
        var padded = 0
        for step in UInt64(0)..<3_000 {
            let code = six.code(forStep: step)
            #expect(code.count == 6)
            if code.hasPrefix("0") { padded += 1 }
        }
        #expect(padded > 0)
    }
}
