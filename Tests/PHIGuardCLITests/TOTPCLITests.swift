import Foundation
import PHIGuardTestSupport
import Testing

/// Runs the built `phiguard totp …` end to end.
@Suite("phiguard totp (end to end)", .serialized)
struct TOTPCLITests {
    func phiguard(_ arguments: [String], input: String = "") throws -> BuiltProduct.Run {
        try BuiltProduct.run("phiguard", arguments, input: input)
    }

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("phiguard-totp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("enroll prints a URI and a QR code; code and verify agree; replay and wrong codes exit 1")
    func enrollAndVerify() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let secretFile = directory.appendingPathComponent("secret").path

        let enroll = try phiguard([
            "totp", "enroll", "--issuer", "Riverside Clinic", "--account", "ana@example.org", "--secret-out",
            secretFile,
            "--qr", "half-blocks",
        ])
        #expect(enroll.status == 0, "\(enroll.stderr)")
        let lines = enroll.stdout.split(separator: "\n")
        let uri = try #require(lines.last.map(String.init))
        #expect(uri.hasPrefix("otpauth://totp/Riverside%20Clinic:ana%40example.org?secret="))
        #expect(uri.hasSuffix("&issuer=Riverside%20Clinic"))
        // The QR block: many lines of half blocks above the URI.
        #expect(lines.count > 15)
        #expect(lines.dropLast().allSatisfy { $0.allSatisfy { "█▀▄ ".contains($0) } })
        let secret = try String(contentsOfFile: secretFile, encoding: .utf8).trimmingCharacters(in: .newlines)
        #expect(uri.contains("secret=\(secret)&"))
        let attributes = try FileManager.default.attributesOfItem(atPath: secretFile)
        #expect(attributes[.posixPermissions] as? Int == 0o600)

        let time = "1800000000"
        let code = try phiguard(["totp", "code", "--secret-file", secretFile, "--time", time])
        #expect(code.status == 0)
        let digits = code.stdout.trimmingCharacters(in: .newlines)
        #expect(digits.count == 6 && digits.allSatisfy(\.isNumber))

        let verify = try phiguard(
            ["totp", "verify", "--secret-file", secretFile, "--time", time, "--json"], input: digits + "\n")
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stdout == "{\"result\":\"valid\",\"step\":60000000}\n")

        let replay = try phiguard(
            ["totp", "verify", "--secret-file", secretFile, "--time", time, "--last-step", "60000000"], input: digits)
        #expect(replay.status == 1)
        #expect(replay.stdout == "replayed\n")

        // The secret from standard input (first line), the code from the second line.
        let fromStdin = try phiguard(
            ["totp", "verify", "--secret-file", "-", "--time", time], input: secret + "\n" + digits + "\n")
        #expect(fromStdin.status == 0, "\(fromStdin.stderr)")

        let wrong = String(format: "%06d", (Int(digits)! + 1) % 1_000_000)
        let invalid = try phiguard(
            ["totp", "verify", "--secret-file", secretFile, "--time", time, "--window", "0"], input: wrong)
        #expect(invalid.status == 1)
        #expect(invalid.stdout == "invalid\n")

        // Neither the code nor the secret appears in error output.
        let malformed = try phiguard(["totp", "verify", "--secret-file", secretFile, "--time", time], input: "12a456")
        #expect(malformed.status == 65)
        #expect(malformed.stderr.contains("malformed one-time code"))
        #expect(!malformed.stderr.contains("12a456") && !malformed.stderr.contains(secret))
    }

    @Test("A URI file carries its own configuration")
    func uriFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let enroll = try phiguard([
            "totp", "enroll", "--account", "bob", "--algorithm", "sha256", "--digits", "8", "--period", "60", "--json",
        ])
        #expect(enroll.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(enroll.stdout.utf8)) as? [String: String]
        let uri = try #require(object?["uri"])
        #expect(uri.contains("algorithm=SHA256&digits=8&period=60"))
        let uriFile = directory.appendingPathComponent("uri").path
        try uri.write(toFile: uriFile, atomically: true, encoding: .utf8)
        let code = try phiguard(["totp", "code", "--secret-file", uriFile, "--time", "1800000000"])
        let digits = code.stdout.trimmingCharacters(in: .newlines)
        #expect(digits.count == 8)
        let verify = try phiguard(["totp", "verify", "--secret-file", uriFile, "--time", "1800000030"], input: digits)
        #expect(verify.status == 0)
        #expect(verify.stdout == "valid (step 30000000)\n")
    }

    @Test("Exit codes: missing file 66, malformed secret or URI 65, bad label 65, usage 64")
    func errors() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = try phiguard(
            ["totp", "verify", "--secret-file", directory.appendingPathComponent("nope").path], input: "123456")
        #expect(missing.status == 66)
        let badFile = directory.appendingPathComponent("bad").path
        try "not base32!".write(toFile: badFile, atomically: true, encoding: .utf8)
        #expect(try phiguard(["totp", "verify", "--secret-file", badFile], input: "123456").status == 65)
        try "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP".write(
            toFile: badFile, atomically: true, encoding: .utf8)
        let hotp = try phiguard(["totp", "code", "--secret-file", badFile])
        #expect(hotp.status == 65)
        #expect(!hotp.stderr.contains("JBSWY3DP"))
        #expect(try phiguard(["totp", "enroll", "--account", "a:b", "--qr", "none"]).status == 65)
        #expect(try phiguard(["totp", "enroll", "--account", "a", "--digits", "9"]).status == 64)
        // --secret-out never overwrites.
        let existing = directory.appendingPathComponent("existing").path
        try "x".write(toFile: existing, atomically: true, encoding: .utf8)
        #expect(try phiguard(["totp", "enroll", "--account", "a", "--secret-out", existing]).status == 66)
    }

    @Test("--window outside 0-10 and a negative --time are usage errors: exit 64, as Documentation/CLI-totp.md says")
    func outOfRangeOptionsExit64() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let secretFile = directory.appendingPathComponent("secret").path
        try "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        for window in ["11", "-1", "1000"] {
            let run = try phiguard(
                ["totp", "verify", "--secret-file", secretFile, "--window=" + window], input: "123456")
            #expect(run.status == 64, "--window \(window): \(run.status) \(run.stderr)")
            #expect(run.stderr.contains("--window must be 0-10"), "\(run.stderr)")
        }
        let edge = try phiguard(
            ["totp", "verify", "--secret-file", secretFile, "--window", "10", "--time", "0"], input: "000000")
        #expect(edge.status == 0 || edge.status == 1, "window 10 is allowed: \(edge.status) \(edge.stderr)")
        for command in ["code", "verify"] {
            let run = try phiguard(["totp", command, "--secret-file", secretFile, "--time=-1"], input: "123456")
            #expect(run.status == 64, "\(command) --time=-1: \(run.status) \(run.stderr)")
            #expect(run.stderr.contains("--time must be 0 or later"), "\(run.stderr)")
        }
    }

    @Test("--time beyond 2^53 s gets its exact step, up to 2^63 − 1")
    func hugeTimes() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let secretFile = directory.appendingPathComponent("secret").path
        try "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        let cases: [(time: Int64, period: String)] = [((1 << 53) + 1, "1"), (Int64.max, "30"), (Int64.max, "1")]
        for (time, period) in cases {
            let code = try phiguard(
                ["totp", "code", "--secret-file", secretFile, "--period", period, "--time", String(time), "--json"])
            #expect(code.status == 0, "\(code.stderr)")
            let expectedStep = UInt64(time) / UInt64(period)!
            #expect(code.stdout.contains("\"step\":\(expectedStep)}"), "\(time)/\(period): \(code.stdout)")
            let digits = try #require(
                (try JSONSerialization.jsonObject(with: Data(code.stdout.utf8)) as? [String: Any])?["code"] as? String)
            let verify = try phiguard(
                [
                    "totp", "verify", "--secret-file", secretFile, "--period", period, "--time", String(time),
                    "--window",
                    "0", "--json",
                ], input: digits)
            #expect(verify.stdout == "{\"result\":\"valid\",\"step\":\(expectedStep)}\n", "\(verify.stderr)")
        }
        // 2^53 + 1 and 2^53 are different steps with a 1 s period (a Double holds both as 2^53).
        let below = try phiguard(
            ["totp", "code", "--secret-file", secretFile, "--period", "1", "--time", String(Int64(1) << 53)])
        let above = try phiguard(
            ["totp", "code", "--secret-file", secretFile, "--period", "1", "--time", String((Int64(1) << 53) + 1)])
        #expect(below.status == 0 && above.status == 0)
        #expect(below.stdout != above.stdout)
    }

    @Test("recovery-codes prints codes with their hashes")
    func recoveryCodes() throws {
        let run = try phiguard(["totp", "recovery-codes", "--count", "3", "--json"])
        #expect(run.status == 0)
        let entries = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: String]]
        #expect(entries?.count == 3)
        for entry in entries ?? [] {
            #expect(entry["code"]?.count == 29)
            #expect(entry["hash"]?.hasPrefix("rc1$") == true)
        }
        #expect(try phiguard(["totp", "recovery-codes", "--count", "0"]).status == 65)
    }
}
