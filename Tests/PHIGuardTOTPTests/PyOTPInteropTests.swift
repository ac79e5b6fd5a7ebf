import Foundation
import PHIGuardTOTP
import PHIGuardTestSupport
import Testing

/// Differential tests against pyotp (pinned in scripts/interop-requirements.txt), batched so that each
/// test starts Python once.
@Suite("pyotp differential and URI interop", .enabled(if: InteropPython.shouldRun))
struct PyOTPInteropTests {
    struct CodeCase: Codable {
        let secret: String
        let algorithm: String
        let digits: Int
        let period: Int
        let time: Int64
    }

    @Test("5,000 random secrets, times, algorithms, digits and periods give identical codes")
    func codes() throws {
        var generator = SystemRandomNumberGenerator()
        var cases: [CodeCase] = []
        var expected: [String] = []
        for _ in 0..<5_000 {
            let secret = try TOTPSecret(randomBitCount: 8 * Int.random(in: 16...64, using: &generator))
            let algorithm = OTPAlgorithm.allCases.randomElement(using: &generator)!
            let digits = OTPDigits.allCases.randomElement(using: &generator)!
            let period = [15, 30, 30, 60, 90].randomElement(using: &generator)!
            // Up to year ~2500: beyond 2^32 seconds, so 64-bit steps are exercised.
            let time = Int64.random(in: 0...17_000_000_000, using: &generator)
            let totp = TOTP(
                secret: secret,
                configuration: try TOTPConfiguration(algorithm: algorithm, digits: digits, period: period))
            cases.append(
                CodeCase(
                    secret: secret.revealBase32(), algorithm: algorithm.rawValue, digits: digits.rawValue,
                    period: period, time: time))
            expected.append(try totp.code(at: Date(timeIntervalSince1970: TimeInterval(time))))
        }
        let script = """
            import hashlib, json, sys, pyotp
            out = []
            for c in json.load(sys.stdin):
                digest = getattr(hashlib, c["algorithm"].lower())
                out.append(pyotp.TOTP(c["secret"], digits=c["digits"], digest=digest, interval=c["period"]).at(c["time"]))
            json.dump(out, sys.stdout)
            """
        let theirs = try InteropPython.exchange(script: script, request: cases, as: [String].self)
        #expect(theirs.count == expected.count)
        let mismatches = zip(expected, theirs).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        let mismatchCount = mismatches.count
        #expect(mismatchCount == 0, "first mismatching cases: \(mismatches.prefix(5))")
    }

    @Test("Times above 2^53 s up to 2^63 − 1: the step and code agree with Python's exact integers and pyotp")
    func hugeTimes() throws {
        // pyotp's TOTP goes through `datetime` (years up to 9999), so Python computes the step with
        // integer division and pyotp's HOTP the code: the same counter path, in exact integers.
        struct Case: Codable {
            let secret: String
            let period: Int
            let time: Int64
        }
        struct Answer: Codable {
            let step: UInt64
            let code: String
        }
        var generator = SystemRandomNumberGenerator()
        var cases: [Case] = []
        var ours: [Answer] = []
        var times: [Int64] = [(1 << 53) + 1, (1 << 53) + 29, Int64.max, Int64.max - 1, (1 << 62) + 1]
        for _ in 0..<500 { times.append(Int64.random(in: (1 << 53)...Int64.max, using: &generator)) }
        for time in times {
            let secret = try TOTPSecret()
            let period = [1, 30, 60, 3600].randomElement(using: &generator)!
            let totp = TOTP(secret: secret, configuration: try TOTPConfiguration(period: period))
            cases.append(Case(secret: secret.revealBase32(), period: period, time: time))
            ours.append(Answer(step: try totp.timeStep(unixSeconds: time), code: try totp.code(unixSeconds: time)))
        }
        let theirs = try InteropPython.exchange(
            script: """
                import json, sys, pyotp
                out = []
                for c in json.load(sys.stdin):
                    step = c["time"] // c["period"]
                    out.append({"step": step, "code": pyotp.HOTP(c["secret"]).at(step)})
                json.dump(out, sys.stdout)
                """,
            request: cases, as: [Answer].self)
        #expect(theirs.count == ours.count)
        let mismatches = zip(ours, theirs).enumerated().filter {
            $0.element.0.step != $0.element.1.step || $0.element.0.code != $0.element.1.code
        }.map(\.offset)
        #expect(mismatches.isEmpty, "first mismatching times: \(mismatches.prefix(5).map { times[$0] })")
    }

    @Test("pyotp verifies codes PHIGuard made and PHIGuard verifies codes pyotp made")
    func verifyBothWays() throws {
        let totp = TOTP(secret: try TOTPSecret())
        let now = Int64(Date().timeIntervalSince1970)
        let ours = try totp.code(at: Date(timeIntervalSince1970: TimeInterval(now)))
        struct Request: Codable {
            let secret: String
            let code: String
            let time: Int64
        }
        struct Response: Codable {
            let verified: Bool
            let code: String
        }
        let response = try InteropPython.exchange(
            script: """
                import json, sys, pyotp
                r = json.load(sys.stdin)
                t = pyotp.TOTP(r["secret"])
                json.dump({"verified": t.verify(r["code"], for_time=r["time"], valid_window=1),
                           "code": t.at(r["time"] + 30)}, sys.stdout)
                """,
            request: Request(secret: totp.secret.revealBase32(), code: ours, time: now), as: Response.self)
        #expect(response.verified)
        let date = Date(timeIntervalSince1970: TimeInterval(now))
        #expect(try totp.verify(response.code, at: date, window: 1) == (try totp.timeStep(at: date)) + 1)
    }

    @Test("URIs PHIGuard writes are parsed by pyotp")
    func ourURIsInPyOTP() throws {
        struct Parsed: Codable {
            let secret: String
            let name: String
            let issuer: String?
            let digits: Int
            let interval: Int
            let algorithm: String
            let code: String
        }
        var uris: [String] = []
        var originals: [OTPAuthURI] = []
        let names = [("Example Clinic", "ana@example.org"), ("Ünïcødé & Co", "ана+tag@пример.рф"), ("A/B", "c d")]
        for (index, algorithm) in OTPAlgorithm.allCases.enumerated() {
            for digits in OTPDigits.allCases {
                let configuration = try TOTPConfiguration(
                    algorithm: algorithm, digits: digits, period: [30, 60, 45][index])
                let (issuer, account) = names[index]
                let uri = OTPAuthURI(
                    totp: TOTP(secret: try TOTPSecret(), configuration: configuration),
                    issuer: digits == .seven ? nil : issuer, accountName: account)
                originals.append(uri)
                uris.append(try uri.revealString())
            }
        }
        let parsed = try InteropPython.exchange(
            script: """
                import json, sys, pyotp
                out = []
                for u in json.load(sys.stdin):
                    t = pyotp.parse_uri(u)
                    out.append({"secret": t.secret, "name": t.name, "issuer": t.issuer, "digits": t.digits,
                                "interval": t.interval, "algorithm": t.digest().name.upper(), "code": t.at(1234567890)})
                json.dump(out, sys.stdout)
                """,
            request: uris, as: [Parsed].self)
        #expect(parsed.count == originals.count)
        for (theirs, ours) in zip(parsed, originals) {
            #expect(theirs.secret == ours.totp.secret.revealBase32())
            #expect(theirs.name == ours.accountName)
            #expect(theirs.issuer == ours.issuer)
            #expect(theirs.digits == ours.totp.configuration.digits.rawValue)
            #expect(theirs.interval == ours.totp.configuration.period)
            #expect(
                theirs.algorithm.replacingOccurrences(of: "-", with: "") == ours.totp.configuration.algorithm.rawValue)
            #expect(theirs.code == (try ours.totp.code(at: Date(timeIntervalSince1970: 1_234_567_890))))
        }
    }

    @Test("URIs pyotp writes are parsed by PHIGuard")
    func pyotpURIsInOurs() throws {
        struct Written: Codable {
            let uri: String
            let secret: String
            let name: String
            let issuer: String?
            let digits: Int
            let interval: Int
            let algorithm: String
            let code: String
        }
        let written = try InteropPython.exchange(
            script: """
                import hashlib, json, sys, pyotp
                out = []
                cases = [("Example Clinic", "ana@example.org", "sha1", 6, 30),
                         ("Ünïcødé & Co", "ана+tag@пример.рф", "sha256", 8, 60),
                         (None, "bob", "sha512", 7, 45),
                         ("ACME Co", "john.doe@email.com", "sha1", 6, 30)]
                for issuer, name, alg, digits, interval in cases:
                    s = pyotp.random_base32()
                    t = pyotp.TOTP(s, digits=digits, digest=getattr(hashlib, alg), interval=interval,
                                   name=name, issuer=issuer)
                    extra = {"image": "https://example.com/logo.png"} if issuer == "ACME Co" else {}
                    out.append({"uri": t.provisioning_uri(**extra), "secret": s, "name": name, "issuer": issuer,
                                "digits": digits, "interval": interval, "algorithm": alg.upper(), "code": t.at(1234567890)})
                json.dump(out, sys.stdout)
                """,
            request: [String](), as: [Written].self)
        #expect(written.count == 4)
        for entry in written {
            let parsed = try OTPAuthURI(parsing: entry.uri)
            #expect(parsed.totp.secret.revealBase32() == entry.secret)
            #expect(parsed.accountName == entry.name)
            #expect(parsed.issuer == entry.issuer)
            #expect(parsed.totp.configuration.digits.rawValue == entry.digits)
            #expect(parsed.totp.configuration.period == entry.interval)
            #expect(parsed.totp.configuration.algorithm.rawValue == entry.algorithm)
            #expect(try parsed.totp.code(at: Date(timeIntervalSince1970: 1_234_567_890)) == entry.code)
        }
    }

    @Test("pyotp accepts the same code twice; PHIGuard's verifier does not")
    func replayDifference() async throws {
        let totp = TOTP(secret: try TOTPSecret())
        let now = Int64(Date().timeIntervalSince1970)
        let code = try totp.code(at: Date(timeIntervalSince1970: TimeInterval(now)))
        let pyotpResults = try InteropPython.exchange(
            script: """
                import json, sys, pyotp
                r = json.load(sys.stdin)
                t = pyotp.TOTP(r[0])
                json.dump([t.verify(r[1], for_time=int(r[2])), t.verify(r[1], for_time=int(r[2]))], sys.stdout)
                """,
            request: [totp.secret.revealBase32(), code, String(now)], as: [Bool].self)
        #expect(pyotpResults == [true, true])
        let verifier = try TOTPVerifier(replayStore: InMemoryTOTPReplayStore())
        let date = Date(timeIntervalSince1970: TimeInterval(now))
        #expect(try await verifier.verify(code, accountID: "a", totp: totp, at: date).isAccepted)
        #expect(try await verifier.verify(code, accountID: "a", totp: totp, at: date) == .replayed)
    }
}
