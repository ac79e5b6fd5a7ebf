import Foundation
import PHIGuardTestSupport
import Testing

/// `phiguard password …` and the password demo, run as built binaries.
@Suite("phiguard password (end to end)")
struct PasswordCLITests {
    let fast = ["--memory-kib", "256", "--iterations", "1"]

    @Test("hash reads stdin, verify answers through its exit status")
    func hashAndVerify() throws {
        let hashed = try BuiltProduct.run("phiguard", ["password", "hash"] + fast, input: "s3cret passphrase\n")
        #expect(hashed.status == 0)
        let phc = hashed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(phc.hasPrefix("$argon2id$v=19$m=256,t=1,p=1$"))
        #expect(!hashed.stdout.contains("s3cret") && !hashed.stderr.contains("s3cret"))

        let valid = try BuiltProduct.run(
            "phiguard", ["password", "verify", "--hash", phc] + fast, input: "s3cret passphrase")
        #expect(valid.status == 0)
        #expect(valid.stdout == "valid\n")

        let invalid = try BuiltProduct.run("phiguard", ["password", "verify", "--hash", phc] + fast, input: "guess\n")
        #expect(invalid.status == 1)
        #expect(invalid.stdout == "invalid\n")

        // Verified against a stronger policy (the OWASP default), the same hash asks for a rehash: exit 3.
        let stale = try BuiltProduct.run(
            "phiguard", ["password", "verify", "--hash", phc, "--json"], input: "s3cret passphrase")
        #expect(stale.status == 3)
        #expect(stale.stdout == #"{"rehashReasons":["parameters"],"result":"valid-needs-rehash"}"# + "\n")
    }

    @Test("--json output of hash")
    func jsonHash() throws {
        let run = try BuiltProduct.run("phiguard", ["password", "hash", "--json"] + fast, input: "pw\n")
        #expect(run.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: String]
        #expect(object?["hash"]?.hasPrefix("$argon2id$") == true)
    }

    @Test("bad input: malformed hash 65, empty password 65, bad parameters 64; messages never echo the password")
    func errors() throws {
        let malformed = try BuiltProduct.run(
            "phiguard",
            ["password", "verify", "--hash", "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA"],
            input: "my-password")
        #expect(malformed.status == 65)
        #expect(malformed.stderr.contains("malformed password hash: parameterBounds"))
        #expect(!malformed.stderr.contains("my-password"))

        let empty = try BuiltProduct.run("phiguard", ["password", "hash"] + fast, input: "\n")
        #expect(empty.status == 65)
        #expect(empty.stderr.contains("password is empty"))

        let badParameters = try BuiltProduct.run(
            "phiguard", ["password", "hash", "--parallelism", "10000"], input: "pw")
        #expect(badParameters.status == 64)
    }

    @Test("the demo runs and shows each step")
    func demo() throws {
        let run = try BuiltProduct.run("PasswordDemo")
        #expect(run.status == 0)
        for expected in [
            "Right password   → valid", "Wrong password   → invalid", "valid, needs rehash (algorithm, parameters)",
            "parameterBounds", "is a commonly used or breached password",
        ] {
            #expect(run.stdout.contains(expected))
        }
        #expect(!run.stdout.contains("correct horse battery staple\n"))
    }
}
