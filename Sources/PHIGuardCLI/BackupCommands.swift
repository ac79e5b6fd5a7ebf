import ArgumentParser
import Foundation
import PHIGuardAudit
import PHIGuardBackup
import PHIGuardFieldEncryption
import PHIGuardKeys
import PHIGuardPostgres

/// `phiguard backup …`: encrypted backups of an SQLite file or a PostgreSQL database that are
/// verified when made, before they are restored, and after.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Create, verify and restore encrypted database backups (SQLite or PostgreSQL).",
        discussion: """
            A backup is one file: a manifest (time, sizes, BLAKE2b hash, audit tail and latest checkpoint) and a
            consistent snapshot (SQLite VACUUM INTO, or pg_dump), encrypted with libsodium secretstream under a
            backup key made by `phiguard backup keygen` (or a key directory's backup.key: the same format). PostgreSQL URLs are read from PHIGUARD_BACKUP_POSTGRES_URL
            (or PHIGUARD_POSTGRES_URL), never from arguments.

            Exit status: 0 success, 1 the backup failed verification (tampered, truncated, wrong key, broken
            audit chain, undecryptable envelopes), 65 malformed input or key file, 66 input missing or
            unreadable, 70 internal or tool error, 73 the destination exists (give --force to restore over it).
            See Documentation/CLI-backup.md.
            """,
        subcommands: [Keygen.self, Create.self, Verify.self, Restore.self]
    )

    /// The backup key file, read in one place (`BackupKey.load`, PHIGuardKeys' one backup key type).
    struct KeyOption: ParsableArguments {
        @Option(
            name: .customLong("backup-key"),
            help: "The backup key file (mode 0600, from `backup keygen`, or a key directory's backup.key).")
        var backupKey: String

        func load() throws -> BackupKey {
            do { return try BackupKey.load(path: backupKey) } catch { try BackupCommand.refuse(error) }
        }
    }

    /// The database: `--sqlite PATH` or `--postgres` (URL from the environment).
    struct DatabaseOptions: ParsableArguments {
        @Option(name: .customLong("sqlite"), help: "The SQLite database file.")
        var sqlite: String?
        @Flag(
            name: .customLong("postgres"),
            help: "The PostgreSQL database in PHIGUARD_BACKUP_POSTGRES_URL (or PHIGUARD_POSTGRES_URL).")
        var postgres = false

        func validate() throws {
            guard (sqlite != nil) != postgres else { throw ValidationError("give exactly one of --sqlite, --postgres") }
        }

        static func postgresURL() throws -> PostgresConnectionURL {
            let environment = ProcessInfo.processInfo.environment
            guard let text = environment["PHIGUARD_BACKUP_POSTGRES_URL"] ?? environment["PHIGUARD_POSTGRES_URL"] else {
                try fail("set PHIGUARD_BACKUP_POSTGRES_URL to the database URL", CLIExit.noInput)
            }
            do { return try PostgresConnectionURL(text) } catch { try fail(error.description, CLIExit.dataError) }
        }
    }

    /// What the snapshot's contents must verify with.
    struct VerificationOptions: ParsableArguments {
        @Option(name: .customLong("field-keys"), help: "The field-encryption key file (`phiguard keys`).")
        var fieldKeys: String
        @OptionGroup(title: "Audit keys (required when the snapshot has an audit log)")
        var auditKeys: AuditCommand.KeyOptions
        @Option(
            name: .customLong("context"),
            help: ArgumentHelp(
                "How a column's envelopes were sealed: TABLE.COLUMN=IDCOLUMN[:FIELD|:@FIELDCOLUMN] (repeatable).",
                discussion: "Envelopes in such a column are decrypted with FieldContext(TABLE, <IDCOLUMN>, FIELD), "
                    + "FIELD defaulting to COLUMN (@FIELDCOLUMN: the row's value in that column); others are "
                    + "checked for structure and a known key id only."))
        var contexts: [String] = []
        @Option(name: .customLong("scratch"), help: "Where to decrypt the snapshot for checking (default: TMPDIR).")
        var scratch: String?
        @Option(
            name: .customLong("psql"), help: "The psql program (PostgreSQL dumps are checked in a scratch database).")
        var psql = "psql"

        func options() throws -> BackupVerificationOptions {
            let keyring = try KeysCommand.load(fieldKeys)
            var verifier: AuditVerifier?
            if auditKeys.directory != nil || auditKeys.chainKeyFile != nil {
                verifier = AuditVerifier(
                    chainKey: try auditKeys.chainKey(), checkpointKey: try auditKeys.checkpointKey())
            }
            let environment = ProcessInfo.processInfo.environment
            var server: PostgresConnectionURL?
            if let text = environment["PHIGUARD_BACKUP_POSTGRES_URL"] ?? environment["PHIGUARD_POSTGRES_URL"] {
                do { server = try PostgresConnectionURL(text) } catch { try fail(error.description, CLIExit.dataError) }
            }
            return BackupVerificationOptions(
                keyring: keyring, auditVerifier: verifier, contextRules: try contexts.map(Self.rule),
                postgresScratchServer: server, psql: psql)
        }

        static func rule(_ text: String) throws -> EnvelopeContextRule {
            let sides = text.split(separator: "=", maxSplits: 1).map(String.init)
            let target = sides.first?.split(separator: ".", maxSplits: 1).map(String.init) ?? []
            let source = sides.count == 2 ? sides[1].split(separator: ":", maxSplits: 1).map(String.init) : []
            guard target.count == 2, !source.isEmpty, !(target + source).contains(where: \.isEmpty) else {
                throw ValidationError("--context must be TABLE.COLUMN=IDCOLUMN[:FIELD|:@FIELDCOLUMN]")
            }
            if source.count == 2, source[1].hasPrefix("@") {
                return EnvelopeContextRule(
                    table: target[0], column: target[1], recordIDColumn: source[0],
                    fieldColumn: String(source[1].dropFirst()))
            }
            return EnvelopeContextRule(
                table: target[0], column: target[1], recordIDColumn: source[0],
                field: source.count == 2 ? source[1] : nil)
        }
    }

    struct ManifestReport: Encodable {
        var file: String
        var kind: String
        var createdAt: String
        var source: String
        var snapshotBytes: Int64
        var snapshotBLAKE2b: String
        var auditRecords: Int64?
        var auditLastSequence: Int64?
        var latestCheckpointSequence: Int64?
        var auditRecordsVerified: Int?
        var envelopesFound: Int?
        var envelopesDecrypted: Int?
        var envelopesKeyChecked: Int?
        var keyFingerprint: String
        var seconds: Double?

        init(file: String, manifest: BackupManifest, key: BackupKey, report: BackupVerificationReport? = nil) {
            self.file = file
            kind = manifest.kind.rawValue
            createdAt = ISO8601DateFormatter().string(from: manifest.createdAt)
            source = manifest.source
            snapshotBytes = manifest.snapshotByteCount
            snapshotBLAKE2b = manifest.snapshotBLAKE2b
            auditRecords = manifest.audit?.recordCount
            auditLastSequence = manifest.audit?.lastSequence
            latestCheckpointSequence = manifest.audit?.latestCheckpoint?.sequence
            auditRecordsVerified = report?.auditRecordsVerified
            envelopesFound = report?.envelopes.found
            envelopesDecrypted = report?.envelopes.decrypted
            envelopesKeyChecked = report?.envelopes.keyChecked
            keyFingerprint = key.fingerprint
        }

        var text: String {
            var lines = [
                file, "  \(kind) snapshot of \(source), \(snapshotBytes) bytes, made \(createdAt)",
                "  BLAKE2b-256 \(snapshotBLAKE2b)", "  backup key fingerprint \(keyFingerprint)",
            ]
            if let auditRecords {
                lines.append(
                    "  audit log: \(auditRecords) records, last sequence \(auditLastSequence.map(String.init) ?? "-"), "
                        + "latest checkpoint \(latestCheckpointSequence.map(String.init) ?? "none")")
            }
            if let auditRecordsVerified { lines.append("  audit chain verified: \(auditRecordsVerified) records") }
            if let envelopesFound {
                lines.append(
                    "  field envelopes: \(envelopesFound) found, \(envelopesDecrypted ?? 0) decrypted, "
                        + "\(envelopesKeyChecked ?? 0) checked for structure and key id only")
            }
            if let seconds { lines.append(String(format: "  took %.2f s", seconds)) }
            return lines.joined(separator: "\n")
        }
    }

    /// Prints the error and exits with its status.
    static func refuse(_ error: BackupError) throws -> Never {
        let code: ExitCode =
            switch error {
            case .wrongKey, .truncated, .tampered, .trailingData, .snapshotMismatch, .auditChainBroken,
                .auditUnavailable, .envelopesUndecryptable:
                CLIExit.negative
            case .key(let keyError): try refuse(keyError)
            case .notABackup, .unsupportedVersion, .malformed, .wrongKind: CLIExit.dataError
            case .destinationExists: CLIExit.cannotCreate
            case .io(_, let operation, _): operation == "open" ? CLIExit.noInput : CLIExit.internalError
            case .database, .postgresTool, .crypto: CLIExit.internalError
            case .scratchDatabaseUnavailable: CLIExit.noInput
            }
        try fail(error.description, code)
    }

    /// Prints the backup key's error (file, problem and fix, never the key) and exits with its status.
    static func refuse(_ error: KeyError) throws -> Never {
        let code: ExitCode =
            switch error {
            case .keyMissing, .directoryMissing: CLIExit.noInput
            case .exists: CLIExit.cannotCreate
            case .io, .secureMemory, .unavailable: CLIExit.internalError
            default: CLIExit.dataError
            }
        try fail("backup key: \(error.description); fix: \(error.fix)", code)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new backup key file (mode 0600; refuses to overwrite, exit 73).",
            discussion: "Keep a copy where the backups' restorers can reach it and an attacker of the server cannot.")

        @Option(name: .customLong("out"), help: "The key file to create.")
        var output: String
        @OptionGroup var format: OutputOptions

        func run() async throws {
            let key: BackupKey
            do {
                key = try BackupKey.generate()
                try key.write(to: output)
            } catch { try BackupCommand.refuse(error) }
            format.emit(
                ["file": output, "fingerprint": key.fingerprint], text: "\(output)  fingerprint \(key.fingerprint)")
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Snapshot a database while it runs and write it encrypted to a new file (mode 0600).",
            discussion: """
                SQLite: VACUUM INTO (one read transaction; writers keep going). PostgreSQL: pg_dump over the URL's
                verified TLS. The file is written beside --out and moved into place when complete; an existing
                --out is refused (exit 73).
                """)

        @OptionGroup var key: KeyOption
        @OptionGroup var database: DatabaseOptions
        @Option(name: .customLong("out"), help: "The backup file to create.")
        var output: String
        @Option(name: .customLong("pg-dump"), help: "The pg_dump program (match the server's major version).")
        var pgDump = "pg_dump"
        @OptionGroup var format: OutputOptions

        func run() async throws {
            let backupKey = try key.load()
            let start = ContinuousClock.now
            let manifest: BackupManifest
            do {
                if let sqlite = database.sqlite {
                    manifest = try await DatabaseBackup.createSQLite(database: sqlite, key: backupKey, to: output)
                } else {
                    manifest = try await DatabaseBackup.createPostgres(
                        url: try DatabaseOptions.postgresURL(), key: backupKey, to: output, pgDump: pgDump)
                }
            } catch let error as BackupError { try BackupCommand.refuse(error) }
            var report = ManifestReport(file: output, manifest: manifest, key: backupKey)
            report.seconds = BackupCommand.seconds(since: start)
            format.emit(report, text: report.text)
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decrypt a backup and check it: manifest hash, audit chain, field envelopes.",
            discussion: """
                Any changed, missing or reordered byte, a wrong key or a cut file is refused (exit 1). An SQLite
                snapshot is opened read-only: SQLite's quick_check, its audit chain (give --keys or --chain-key-file)
                and every field envelope (by its format marker) against --field-keys. A PostgreSQL dump is restored
                into a scratch database that verify creates and drops on the server in PHIGUARD_BACKUP_POSTGRES_URL
                (or PHIGUARD_POSTGRES_URL; the role needs CREATEDB) and checked the same way.
                """)

        @Argument(help: "The backup file.")
        var backup: String
        @OptionGroup var key: KeyOption
        @OptionGroup var verification: VerificationOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            let backupKey = try key.load()
            let options = try verification.options()
            let start = ContinuousClock.now
            let result: BackupVerificationReport
            do {
                result = try await DatabaseBackup.verify(
                    backup: backup, key: backupKey, options: options, scratchDirectory: verification.scratch)
            } catch { try BackupCommand.refuse(error) }
            var report = ManifestReport(file: backup, manifest: result.manifest, key: backupKey, report: result)
            report.seconds = BackupCommand.seconds(since: start)
            format.emit(report, text: report.text + "\n  verified")
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup, verified before and after; refuses to overwrite without --force.",
            discussion: """
                SQLite: the snapshot is decrypted beside --to (mode 0600), verified, synced and renamed over it (its
                -wal and -shm files are removed first: stop the application), then verified again. PostgreSQL: the
                dump is verified in a scratch database on the same server, then runs with psql --single-transaction
                into the URL's database, which must have no tables unless --force, and that database is verified.
                """)

        @Argument(help: "The backup file.")
        var backup: String
        @OptionGroup var key: KeyOption
        @Option(name: .customLong("to"), help: "The SQLite database file to restore to.")
        var destination: String?
        @Flag(
            name: .customLong("postgres"),
            help: "Restore into the PostgreSQL database in PHIGUARD_BACKUP_POSTGRES_URL (or PHIGUARD_POSTGRES_URL).")
        var postgres = false
        @Flag(help: "Replace an existing database file, or restore into a database that has tables.")
        var force = false
        @OptionGroup var verification: VerificationOptions
        @OptionGroup var format: OutputOptions

        func validate() throws {
            guard (destination != nil) != postgres else {
                throw ValidationError("give exactly one of --to, --postgres")
            }
        }

        func run() async throws {
            let backupKey = try key.load()
            let start = ContinuousClock.now
            var report: ManifestReport
            do {
                if let destination {
                    let result = try await DatabaseBackup.restoreSQLite(
                        backup: backup, key: backupKey, to: destination, force: force,
                        options: try verification.options())
                    report = ManifestReport(
                        file: destination, manifest: result.manifest, key: backupKey, report: result)
                } else {
                    let url = try DatabaseOptions.postgresURL()
                    let result = try await DatabaseBackup.restorePostgres(
                        backup: backup, key: backupKey, url: url, force: force, psql: verification.psql,
                        options: try verification.options(), scratchDirectory: verification.scratch)
                    report = ManifestReport(
                        file: url.description, manifest: result.manifest, key: backupKey, report: result)
                }
            } catch let error as BackupError { try BackupCommand.refuse(error) }
            report.seconds = BackupCommand.seconds(since: start)
            format.emit(report, text: report.text + "\n  restored and verified")
        }
    }
}
