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
