import Foundation
import PHIGuardAccess
import PHIGuardAudit
import PHIGuardFieldEncryption
import PHIGuardKeys
import PHIGuardPasswords
import PHIGuardPostgres
import Yams

/// A deployment as `phiguard doctor` sees it: a small YAML file (`phiguard.yaml`). Relative paths
/// are resolved against the file's folder. Every key is optional; a check whose input is absent
/// reports that it could not run (severity `info`), except the key directory and the database,
/// which every deployment has. See Documentation/CLI-doctor.md.
///
/// ```yaml
/// keys: keys                      # the KeyDirectory
/// database: portal.sqlite         # a SQLite file, or postgres://user@host/db?sslmode=verify-full&sslrootcert=ca.pem
/// policy: policy.yaml             # the access policy
/// witness: checkpoints.witness    # the audit checkpoint witness file
/// passwords: {memoryKiB: 19456, iterations: 2, parallelism: 1}
/// sessions: {idleTimeout: 30m, absoluteLifetime: 12h}
/// blindIndexes:
///   - {name: login-name, bits: 128, population: 1000000, unique: true}
/// keyRotation: 365d
/// ```
struct Deployment {
    var keys: String?
    var database: String?
    var policy: String?
    var witness: String?
    var passwords: (memoryKiB: Int, iterations: Int, parallelism: Int)?
    var idleTimeoutSeconds: Int?
    var absoluteLifetimeSeconds: Int?
    var blindIndexes: [(name: String, bits: Int, population: Int, unique: Bool)] = []
    var keyRotationSeconds: Int = 365 * 86_400

    static let topLevelKeys: Set<String> = [
        "keys", "database", "policy", "witness", "passwords", "sessions", "blindIndexes", "keyRotation",
    ]

    /// Why the file could not be read as a deployment.
    struct Invalid: Error { let message: String }

    /// Parses `text`; `folder` resolves relative paths. Unknown keys are returned, not ignored.
    static func parse(_ text: String, folder: String) throws(Invalid) -> (Deployment, unknownKeys: [String]) {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw Invalid(message: "not YAML: \(error)") }
        guard let root = node?.mapping else { throw Invalid(message: "expected a mapping at the top level") }
        var deployment = Deployment()
        var unknown: [String] = []
        func path(_ value: Node) throws(Invalid) -> String {
            guard let text = value.string, !text.isEmpty else { throw Invalid(message: "expected a path") }
            if text.hasPrefix("/") || text.contains("://") { return text }
            return folder + "/" + text
        }
        func integer(_ value: Node?, _ what: String) throws(Invalid) -> Int {
            guard let text = value?.string, let number = Int(text), number >= 0 else {
                throw Invalid(message: "\(what): expected a non-negative integer")
            }
            return number
        }
        for (keyNode, value) in root {
            let key = keyNode.string ?? ""
            switch key {
            case "keys": deployment.keys = try path(value)
            case "database": deployment.database = try path(value)
            case "policy": deployment.policy = try path(value)
            case "witness": deployment.witness = try path(value)
            case "passwords":
                guard let map = value.mapping else { throw Invalid(message: "passwords: expected a mapping") }
                deployment.passwords = (
                    try integer(map["memoryKiB"], "passwords.memoryKiB"),
                    try integer(map["iterations"], "passwords.iterations"),
                    try integer(map["parallelism"], "passwords.parallelism")
                )
            case "sessions":
                guard let map = value.mapping else { throw Invalid(message: "sessions: expected a mapping") }
                if let idle = map["idleTimeout"] {
                    deployment.idleTimeoutSeconds = try seconds(idle, "sessions.idleTimeout")
                }
                if let absolute = map["absoluteLifetime"] {
                    deployment.absoluteLifetimeSeconds = try seconds(absolute, "sessions.absoluteLifetime")
                }
            case "blindIndexes":
                guard let list = value.sequence else { throw Invalid(message: "blindIndexes: expected a list") }
                for entry in list {
                    guard let map = entry.mapping, let name = map["name"]?.string else {
                        throw Invalid(message: "blindIndexes: each entry needs a name")
                    }
                    deployment.blindIndexes.append(
                        (
                            name, try integer(map["bits"], "blindIndexes.\(name).bits"),
                            try integer(map["population"], "blindIndexes.\(name).population"),
                            map["unique"]?.bool ?? false
                        ))
                }
            case "keyRotation": deployment.keyRotationSeconds = try seconds(value, "keyRotation")
            default: unknown.append(key)
            }
        }
        return (deployment, unknown)
    }

    /// `90`, `90s`, `30m`, `12h`, `365d` as seconds.
    static func seconds(_ node: Node, _ what: String) throws(Invalid) -> Int {
        guard var text = node.string, !text.isEmpty else { throw Invalid(message: "\(what): expected a duration") }
        var unit = 1
        switch text.last {
        case "s": unit = 1
        case "m": unit = 60
        case "h": unit = 3600
        case "d": unit = 86_400
        default: unit = 0
        }
        if unit != 0 { text.removeLast() } else { unit = 1 }
        guard let value = Int(text), value >= 0, value <= Int(Int32.max) else {
            throw Invalid(message: "\(what): expected a duration like 30m, 12h or 365d")
        }
        return value * unit
    }
}

/// One thing `phiguard doctor` found.
struct DoctorFinding: Encodable, Equatable {
    /// How bad it is; the exit status is that of the worst finding.
    enum Severity: String, Encodable, Comparable {
        /// A check could not run or something worth knowing; exit 0.
        case info
        /// Weaker than recommended; exit 1.
        case warning
        /// Unsafe or broken; exit 2.
        case error

        var rank: Int { self == .info ? 0 : self == .warning ? 1 : 2 }
        static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
    }

    /// A stable identifier of the check (`keys.mode`, `database.mode`, …; listed in the docs).
    var check: String
    var severity: Severity
    /// The file, setting or object the finding is about.
    var subject: String
    var problem: String
    var fix: String
}

/// The checks of `phiguard doctor`.
enum Doctor {
    /// OWASP Password Storage Cheat Sheet: equivalent Argon2id minimums (memory KiB, iterations), p = 1.
    static let owaspArgon2Minimums: [(memoryKiB: Int, iterations: Int)] = [
        (47_104, 1), (19_456, 2), (12_288, 3), (9_216, 4), (7_168, 5),
    ]
    /// NIST SP 800-63B (rev. 3, §4.2.3, AAL2): reauthenticate at least every 12 hours, and after
    /// 30 minutes of inactivity.
    static let nistAbsoluteLimitSeconds = 12 * 3600
    static let nistIdleLimitSeconds = 30 * 60
    /// A break-glass grant longer than this is flagged (a shift).
    static let breakGlassMaximumSeconds = 12 * 3600

    static func run(_ deployment: Deployment, now: Date = Date()) async -> [DoctorFinding] {
        var findings: [DoctorFinding] = []
        findings += keys(deployment, now: now)
        findings += database(deployment)
        findings += passwords(deployment)
        findings += sessions(deployment)
        findings += await witness(deployment)
        findings += policy(deployment)
        findings += blindIndexes(deployment)
        return findings
    }

    static func check(_ kind: KeyError) -> String {
        switch kind {
        case .directoryMissing, .keyMissing: "keys.missing"
        case .symbolicLink: "keys.symlink"
        case .wrongOwner: "keys.owner"
        case .directoryWritableByOthers, .fileAccessibleByOthers: "keys.mode"
        case .notADirectory, .notRegularFile: "keys.type"
        default: "keys.unusable"
        }
    }

    static func keys(_ deployment: Deployment, now: Date) -> [DoctorFinding] {
        guard let path = deployment.keys else {
            return [
                DoctorFinding(
                    check: "keys.missing", severity: .error, subject: "phiguard.yaml",
                    problem: "no key directory given",
                    fix: "add `keys: DIR` (create it with `phiguard keys init --dir DIR`)")
            ]
        }
        let directory = KeyDirectory(path: path)
        var findings = directory.problems().map { error in
            DoctorFinding(
                check: check(error), severity: .error, subject: error.subject, problem: error.problem, fix: error.fix)
        }
        let limit = Int64(now.timeIntervalSince1970) - Int64(deployment.keyRotationSeconds)
        for (kind, modified) in directory.modificationTimes().sorted(by: { $0.key.rawValue < $1.key.rawValue })
        where modified < limit {
            let days = (Int64(now.timeIntervalSince1970) - modified) / 86_400
            findings.append(
                DoctorFinding(
                    check: "keys.age", severity: .warning, subject: directory.filePath(kind),
                    problem:
                        "the \(kind.rawValue) key file is \(days) days old (rotation period \(deployment.keyRotationSeconds / 86_400) days)",
                    fix: kind == .fieldKeyring || kind == .blindIndexRoot
                        ? "rotate it (`phiguard keys rotate \(directory.filePath(kind))`, then re-encrypt)"
                        : "plan a rotation of the \(kind.rawValue) key"))
        }
        return findings
    }

    static func database(_ deployment: Deployment) -> [DoctorFinding] {
        guard let database = deployment.database else {
            return [
                DoctorFinding(
                    check: "database.missing", severity: .error, subject: "phiguard.yaml", problem: "no database given",
                    fix: "add `database: FILE` or `database: postgres://…?sslmode=verify-full`")
            ]
        }
        if database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") {
            let url: PostgresConnectionURL
            do { url = try PostgresConnectionURL(database) } catch {
                return [
                    DoctorFinding(
                        check: "postgres.url", severity: .error, subject: "database", problem: "\(error)",
                        fix: "write a libpq URL: postgres://user@host:5432/db?sslmode=verify-full&sslrootcert=ca.pem")
                ]
            }
            guard url.sslMode != .verifyFull else { return [] }
            return [
                DoctorFinding(
                    check: "postgres.tls", severity: .error, subject: "database \(url.host)",
                    problem:
                        "sslmode=\(url.sslMode.rawValue): the server's certificate and name are not both verified; PHI and audit records can be read or altered on the way",
                    fix: "use sslmode=verify-full with sslrootcert=CA.pem")
            ]
        }
        var findings: [DoctorFinding] = []
        for file in [database, database + "-wal", database + "-shm", database + ".log"] {
            var status = stat()
            guard lstat(file, &status) == 0 else {
                if file == database {
                    findings.append(
                        DoctorFinding(
                            check: "database.missing", severity: .error, subject: file,
                            problem: "the database file does not exist",
                            fix: "check the path, or create the database"))
                }
                continue
            }
            if status.st_mode & S_IFMT == S_IFLNK {
                findings.append(
                    DoctorFinding(
                        check: "database.symlink", severity: .warning, subject: file, problem: "is a symbolic link",
                        fix: "point the configuration at the real file"))
                continue
            }
            let permissions = status.st_mode & 0o7777
            if permissions & 0o077 != 0 {
                findings.append(
                    DoctorFinding(
                        check: "database.mode", severity: .error, subject: file,
                        problem:
                            "has mode 0\(String(permissions, radix: 8)); group or others may access it (it holds identifiers, hashes and the audit log)",
                        fix: "chmod 600 \(file) (and run the service with umask 077)"))
            }
        }
        return findings
    }

    static func passwords(_ deployment: Deployment) -> [DoctorFinding] {
        guard let parameters = deployment.passwords else {
            return [
                DoctorFinding(
                    check: "passwords.unknown", severity: .info, subject: "passwords",
                    problem: "no Argon2 parameters given; not checked",
                    fix: "add `passwords: {memoryKiB:, iterations:, parallelism:}`")
            ]
        }
        let meets = owaspArgon2Minimums.contains {
            parameters.memoryKiB >= $0.memoryKiB && parameters.iterations >= $0.iterations
        }
        guard !meets, parameters.parallelism >= 1 else { return [] }
        return [
            DoctorFinding(
                check: "passwords.argon2", severity: .error, subject: "passwords",
                problem:
                    "Argon2id m=\(parameters.memoryKiB) KiB, t=\(parameters.iterations), p=\(parameters.parallelism) is below every OWASP minimum (m=19456 t=2, m=47104 t=1, m=12288 t=3, m=9216 t=4, m=7168 t=5)",
                fix:
                    "use Argon2Parameters.owaspMinimum (m=19456, t=2, p=1) or stronger; old hashes are replaced at the next sign-in"
            )
        ]
    }

    static func sessions(_ deployment: Deployment) -> [DoctorFinding] {
        var findings: [DoctorFinding] = []
        if let absolute = deployment.absoluteLifetimeSeconds, absolute > nistAbsoluteLimitSeconds {
            findings.append(
                DoctorFinding(
                    check: "sessions.absolute", severity: .error, subject: "sessions.absoluteLifetime",
                    problem:
                        "\(absolute / 60) minutes exceeds NIST SP 800-63B AAL2 (reauthenticate at least every 12 hours)",
                    fix: "set sessions.absoluteLifetime to 12h or less (LoginConfiguration.absoluteLifetime)"))
        }
        if let idle = deployment.idleTimeoutSeconds, idle > nistIdleLimitSeconds {
            findings.append(
                DoctorFinding(
                    check: "sessions.idle", severity: .error, subject: "sessions.idleTimeout",
                    problem: "\(idle / 60) minutes exceeds NIST SP 800-63B AAL2 (30 minutes of inactivity)",
                    fix: "set sessions.idleTimeout to 30m or less (LoginConfiguration.idleTimeout)"))
        }
        if deployment.absoluteLifetimeSeconds == nil || deployment.idleTimeoutSeconds == nil {
            findings.append(
                DoctorFinding(
                    check: "sessions.unknown", severity: .info, subject: "sessions",
                    problem: "session lifetimes not given; not checked",
                    fix: "add `sessions: {idleTimeout:, absoluteLifetime:}`"))
        }
        return findings
    }

    static func witness(_ deployment: Deployment) async -> [DoctorFinding] {
        guard let path = deployment.witness else {
            return [
                DoctorFinding(
                    check: "audit.unwitnessed", severity: .warning, subject: "witness",
                    problem:
                        "audit checkpoints are not written to a witness: truncating the log or deleting its tail goes unnoticed",
                    fix:
                        "configure a FileCheckpointWitness outside the database (AuditLog witness:) and add `witness: FILE`"
                )
            ]
        }
        do {
            let checkpoints = try await FileCheckpointWitness.reader(path: path).checkpoints()
            if checkpoints.isEmpty {
                return [
                    DoctorFinding(
                        check: "audit.unwitnessed", severity: .warning, subject: path,
                        problem: "the witness holds no checkpoint yet",
                        fix: "check that the audit log is given this witness")
                ]
            }
            return []
        } catch {
            return [
                DoctorFinding(
                    check: "audit.witness-unreadable", severity: .error, subject: path, problem: "\(error)",
                    fix: "restore the witness file; never delete it")
            ]
        }
    }

    static func policy(_ deployment: Deployment) -> [DoctorFinding] {
        guard let path = deployment.policy else {
            return [
                DoctorFinding(
                    check: "policy.unknown", severity: .info, subject: "policy",
                    problem: "no policy file given; not checked",
                    fix: "add `policy: FILE`")
            ]
        }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            return [
                DoctorFinding(
                    check: "policy.invalid", severity: .error, subject: path, problem: "cannot be read as UTF-8 text",
                    fix: "check the path")
            ]
        }
        let compiled: CompiledPolicy
        do { compiled = try CompiledPolicy(yaml: text) } catch {
            return error.issues.map { issue in
                DoctorFinding(
                    check: "policy.invalid", severity: issue.isWarning ? .warning : .error,
                    subject: path + (issue.location.map { ":\($0)" } ?? ""),
                    problem: "\(issue.code.rawValue): \(issue.message)",
                    fix: "fix the policy (`phiguard policy validate \(path)`)")
            }
        }
        var findings = compiled.warnings.map { issue in
            DoctorFinding(
                check: "policy.invalid", severity: .warning, subject: path + (issue.location.map { ":\($0)" } ?? ""),
                problem: "\(issue.code.rawValue): \(issue.message)",
                fix: "fix the policy (`phiguard policy validate \(path)`)")
        }
        findings += breakGlass(compiled.source, path: path)
        return findings
    }

    /// Break-glass roles too broad: a role most other roles inherit from (everyone "staff" can break
    /// the glass), the `patient` role, or grants longer than a shift.
    static func breakGlass(_ policy: AccessPolicy, path: String) -> [DoctorFinding] {
        guard let breakGlass = policy.breakGlass else { return [] }
        var parents: [String: [String]] = [:]
        for role in policy.roles { parents[role.name.name] = role.inherits.map(\.name) }
        func ancestors(_ role: String) -> Set<String> {
            var seen: Set<String> = []
            var queue = [role]
            while let next = queue.popLast() {
                for parent in parents[next] ?? [] where seen.insert(parent).inserted { queue.append(parent) }
            }
            return seen
        }
        let allRoles = policy.roles.map(\.name.name)
        var findings: [DoctorFinding] = []
        for role in breakGlass.roles.map(\.name) {
            let holders = allRoles.filter { $0 == role || ancestors($0).contains(role) }
            if role == "patient" || holders.count * 2 > allRoles.count {
                findings.append(
                    DoctorFinding(
                        check: "breakglass.broad", severity: .warning,
                        subject: path + (breakGlass.location.map { ":\($0)" } ?? ""),
                        problem:
                            "break-glass role \(role) is held by \(holders.count) of \(allRoles.count) roles (\(holders.sorted().joined(separator: ", ")))",
                        fix: "name the clinical roles that need emergency access (e.g. physician), not a base role"))
            }
        }
        if breakGlass.maximumDurationSeconds > breakGlassMaximumSeconds {
            findings.append(
                DoctorFinding(
                    check: "breakglass.broad", severity: .warning,
                    subject: path + (breakGlass.location.map { ":\($0)" } ?? ""),
                    problem:
                        "break-glass grants last up to \(breakGlass.maximumDurationSeconds / 3600) hours (more than a 12-hour shift)",
                    fix: "lower breakGlass.maxDuration to 12h or less"))
        }
        return findings
    }

    static func blindIndexes(_ deployment: Deployment) -> [DoctorFinding] {
        deployment.blindIndexes.compactMap { index in
            // A unique index (login names) needs collision-free values; the planner's bound is for
            // indexes of values that repeat or can be guessed, where extra bits confirm guesses.
            guard !index.unique else { return nil }
            guard let plan = try? BlindIndexPlanner.plan(population: index.population) else {
                return DoctorFinding(
                    check: "blindindex.bits", severity: .warning, subject: "blind index \(index.name)",
                    problem: "a population of \(index.population) rows is too small for any blind index",
                    fix: "drop the index or look the rows up another way")
            }
            guard index.bits > plan.maximumBits else { return nil }
            return DoctorFinding(
                check: "blindindex.bits", severity: .warning, subject: "blind index \(index.name)",
                problem:
                    "\(index.bits) bits for \(index.population) rows: above the safe maximum of \(plan.maximumBits) (values become near-unique fingerprints an attacker can confirm guesses against)",
                fix: "rebuild the index with \(plan.recommendedBits) bits (BlindIndexPlanner.plan(population:))")
        }
    }
}
