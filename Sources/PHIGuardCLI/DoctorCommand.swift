import ArgumentParser
import Foundation

/// `phiguard doctor`: checks a deployment described by `phiguard.yaml` and prints each finding with
/// its severity and fix.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check a deployment (keys, database, TLS, Argon2, sessions, witness, policy, blind indexes).",
        discussion: """
            Reads the deployment file (default ./phiguard.yaml; format in Documentation/CLI-doctor.md) and prints
            one finding per line: severity, check, subject, problem, fix. Checks: keys.missing, keys.symlink,
            keys.owner, keys.mode, keys.type, keys.unusable, keys.age, database.missing, database.symlink,
            database.mode, postgres.url, postgres.tls, passwords.argon2, sessions.absolute, sessions.idle,
            audit.unwitnessed, audit.witness-unreadable, policy.invalid, breakglass.broad, blindindex.bits,
            config.unknown-key (and info lines passwords.unknown, sessions.unknown, policy.unknown when a
            setting is absent). Exit status by the worst finding: 0 none or info only, 1 warning, 2 error;
            65 the deployment file is malformed, 66 it is missing or unreadable.
            """
    )

    @Option(name: .customLong("config"), help: "The deployment file.")
    var config = "phiguard.yaml"
    @OptionGroup var output: OutputOptions

    struct Report: Encodable {
        var config: String
        var worst: String
        var findings: [DoctorFinding]
    }

    func run() async throws {
        let text: String
        do { text = try String(contentsOfFile: config, encoding: .utf8) } catch {
            try fail("\(config): cannot be read", CLIExit.noInput)
        }
        let folder = URL(fileURLWithPath: config).deletingLastPathComponent().path
        let parsed: (Deployment, unknownKeys: [String])
        do { parsed = try Deployment.parse(text, folder: folder) } catch {
            try fail("\(config): \(error.message)", CLIExit.dataError)
        }
        var findings = parsed.unknownKeys.map { key in
            DoctorFinding(
                check: "config.unknown-key", severity: .warning, subject: config,
                problem: "unknown key `\(key)` (ignored)",
                fix:
                    "remove it or correct its spelling (keys: \(Deployment.topLevelKeys.sorted().joined(separator: ", ")))"
            )
        }
        findings += await Doctor.run(parsed.0)
        let worst = findings.map(\.severity).max()
        if output.json {
            print(jsonLine(Report(config: config, worst: worst?.rawValue ?? "none", findings: findings)))
        } else if findings.isEmpty {
            print("\(config): no findings")
        } else {
            for finding in findings {
                print(
                    "\(finding.severity.rawValue) \(finding.check) \(finding.subject): \(finding.problem)\n  fix: \(finding.fix)"
                )
            }
        }
        switch worst {
        case .error: throw ExitCode(2)
        case .warning: throw ExitCode(1)
        default: return
        }
    }
}
