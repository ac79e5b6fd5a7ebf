import Foundation
import PHIGuardTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `phiguard doctor` against a clean deployment and against one broken thing at a time.
@Suite("phiguard doctor", .serialized)
struct DoctorCLITests {
    struct Finding: Decodable, Equatable {
        var check: String
        var severity: String
        var subject: String
        var problem: String
        var fix: String
    }

    struct Report: Decodable {
        var worst: String
        var findings: [Finding]
    }

    /// A deployment in a temporary directory: key directory, SQLite audit log with a witness, the
    /// sample hospital policy, OWASP Argon2 parameters, NIST AAL2 session lifetimes.
    struct Deployment {
        let directory: String
        var settings: [String: String] = [
            "keys": "keys",
            "database": "audit.sqlite",
            "policy": "policy.yaml",
            "witness": "checkpoints.witness",
            "passwords": "{memoryKiB: 19456, iterations: 2, parallelism: 1}",
            "sessions": "{idleTimeout: 30m, absoluteLifetime: 12h}",
            "blindIndexes":
                "[{name: login-name, bits: 128, population: 100000, unique: true}, {name: birth-date, bits: 15, population: 100000}]",
            "keyRotation": "365d",
        ]
        var config: String { directory + "/phiguard.yaml" }
        var keys: String { directory + "/keys" }

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("phiguard-doctor-\(UUID())").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            let created = try BuiltProduct.run("phiguard", ["keys", "init", "--dir", keys])
            try #require(created.status == 0, "\(created.stderr)")
            let appended = try BuiltProduct.run(
                "phiguard",
                [
                    "audit", "append", "--sqlite", directory + "/audit.sqlite", "--keys", keys, "--witness",
                    directory + "/checkpoints.witness",
                ], input: AuditCLITests.events(5))
            try #require(appended.status == 0, "\(appended.stderr)")
            for file in ["audit.sqlite", "audit.sqlite-wal", "audit.sqlite-shm"] {
                chmod(directory + "/" + file, 0o600)
            }
            try FileManager.default.copyItem(atPath: PolicyCLITests.hospital, toPath: directory + "/policy.yaml")
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }

        func doctor() throws -> (status: Int32, report: Report) {
            let text = settings.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            let run = try BuiltProduct.run("phiguard", ["doctor", "--config", config, "--json"])
            let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
            return (run.status, report)
        }
    }

    @Test("a clean deployment has no findings (exit 0); text output says so")
    func clean() throws {
        let deployment = try Deployment()
        defer { deployment.remove() }
        let (status, report) = try deployment.doctor()
        #expect(report.findings == [])
        #expect(status == 0)
        let text = try BuiltProduct.run("phiguard", ["doctor", "--config", deployment.config])
        #expect(text.stdout == deployment.config + ": no findings\n")
    }

    /// Breaks the deployment with `breakIt`, runs the doctor, and expects a finding of `check` with
    /// `severity` whose subject contains `subject`, and the exit status of that severity.
    func expectFinding(
        _ check: String, _ severity: String, subject: String, _ breakIt: (inout Deployment) throws -> Void
    ) throws {
        var deployment = try Deployment()
        defer { deployment.remove() }
        try breakIt(&deployment)
        let (status, report) = try deployment.doctor()
        let matching = report.findings.filter { $0.check == check }
        #expect(matching.count >= 1, "no \(check) in \(report.findings)")
        #expect(matching.allSatisfy { $0.severity == severity && !$0.fix.isEmpty })
        #expect(matching.contains { $0.subject.contains(subject) }, "\(matching)")
        #expect(report.worst == severity)
        #expect(status == (severity == "error" ? 2 : 1))
    }

    @Test("key directory 0777, key file 0644, symbolic links, missing key")
    func keys() throws {
        try expectFinding("keys.mode", "error", subject: "/keys") { chmod($0.keys, 0o777) }
        try expectFinding("keys.mode", "error", subject: "/keys/chain.key") { chmod($0.keys + "/chain.key", 0o644) }
        try expectFinding("keys.symlink", "error", subject: "/keys/backup.key") { deployment in
            let other = deployment.directory + "/other.key"
            rename(deployment.keys + "/backup.key", other)
            symlink(other, deployment.keys + "/backup.key")
        }
        try expectFinding("keys.symlink", "error", subject: "/keys") { deployment in
            rename(deployment.keys, deployment.directory + "/real-keys")
            symlink(deployment.directory + "/real-keys", deployment.keys)
        }
        try expectFinding("keys.missing", "error", subject: "/keys/digest.key") { unlink($0.keys + "/digest.key") }
        try expectFinding("keys.owner", "error", subject: "/keys/field.keys") { deployment in
            try #require(geteuid() == 0, "chown needs root")
            chown(deployment.keys + "/field.keys", 65534, 65534)
        }
    }

    @Test("keys older than the rotation period")
    func keyAge() throws {
        try expectFinding("keys.age", "warning", subject: "/keys/field.keys") { deployment in
            var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
            utimensat(AT_FDCWD, deployment.keys + "/field.keys", &times, AT_SYMLINK_NOFOLLOW)
        }
    }

    @Test("database readable by others; PostgreSQL without verified TLS")
    func database() throws {
        try expectFinding("database.mode", "error", subject: "audit.sqlite") {
            chmod($0.directory + "/audit.sqlite", 0o644)
        }
        try expectFinding("postgres.tls", "error", subject: "db.example") {
            $0.settings["database"] = "postgres://app@db.example:5432/phi?sslmode=require"
        }
        try expectFinding("postgres.tls", "error", subject: "db.example") {
            $0.settings["database"] = "postgres://app@db.example:5432/phi?sslmode=disable"
        }
    }

    @Test("Argon2 below OWASP; sessions beyond NIST SP 800-63B")
    func passwordsAndSessions() throws {
        try expectFinding("passwords.argon2", "error", subject: "passwords") {
            $0.settings["passwords"] = "{memoryKiB: 19456, iterations: 1, parallelism: 1}"
        }
        try expectFinding("sessions.absolute", "error", subject: "absoluteLifetime") {
            $0.settings["sessions"] = "{idleTimeout: 30m, absoluteLifetime: 7d}"
        }
        try expectFinding("sessions.idle", "error", subject: "idleTimeout") {
            $0.settings["sessions"] = "{idleTimeout: 8h, absoluteLifetime: 12h}"
        }
    }

    @Test("checkpoints not witnessed; witness missing")
    func witness() throws {
        try expectFinding("audit.unwitnessed", "warning", subject: "witness") { $0.settings["witness"] = nil }
        try expectFinding("audit.witness-unreadable", "error", subject: "checkpoints.witness") {
            unlink($0.directory + "/checkpoints.witness")
        }
    }

    @Test("policy problems; break-glass for a base role; too many blind-index bits; unknown setting")
    func policyAndIndexes() throws {
        try expectFinding("policy.invalid", "error", subject: "policy.yaml:") { deployment in
            let path = deployment.directory + "/policy.yaml"
            let text = try String(contentsOfFile: path, encoding: .utf8)
            try text.replacingOccurrences(of: "  roles: [physician, nurse]", with: "  roles: [physician, surgeon]")
                .write(toFile: path, atomically: true, encoding: .utf8)
        }
        try expectFinding("breakglass.broad", "warning", subject: "policy.yaml") { deployment in
            let path = deployment.directory + "/policy.yaml"
            let text = try String(contentsOfFile: path, encoding: .utf8)
            try text.replacingOccurrences(of: "  roles: [physician, nurse]", with: "  roles: [staff]")
                .write(toFile: path, atomically: true, encoding: .utf8)
        }
        try expectFinding("blindindex.bits", "warning", subject: "birth-date") {
            $0.settings["blindIndexes"] = "[{name: birth-date, bits: 32, population: 100000}]"
        }
        try expectFinding("config.unknown-key", "warning", subject: "phiguard.yaml") {
            $0.settings["keyRotaton"] = "30d"
        }
    }

    @Test("a missing deployment file exits 66, a malformed one 65")
    func badConfig() throws {
        let missing = try BuiltProduct.run("phiguard", ["doctor", "--config", "/nonexistent/phiguard.yaml"])
        #expect(missing.status == 66)
        let deployment = try Deployment()
        defer { deployment.remove() }
        try "keys: [1, 2]\n".write(toFile: deployment.config, atomically: true, encoding: .utf8)
        let malformed = try BuiltProduct.run("phiguard", ["doctor", "--config", deployment.config])
        #expect(malformed.status == 65)
        #expect(malformed.stderr.contains("expected a path"))
    }
}
