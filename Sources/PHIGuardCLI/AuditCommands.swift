import ArgumentParser
import Foundation
import PHIGuardAudit
import PHIGuardCrypto
import PHIGuardKeys
import PHIGuardPostgres
import PHIGuardSQLite
import PostgresNIO

/// `phiguard audit …`: keys, appending, verification and FHIR export of tamper-evident audit logs.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify and export tamper-evident audit logs (JSON lines, SQLite or PostgreSQL).",
        discussion: "See Documentation/CLI-audit.md. Keys are read from files, never from arguments.",
        subcommands: [Keygen.self, Append.self, Verify.self, Export.self, Unreviewed.self, Watch.self, Report.self]
    )

    /// Where the log is: exactly one of `--file`, `--sqlite`, `--postgres`.
    struct LogLocation: ParsableArguments {
        @Option(name: .customLong("file"), help: "A JSON-lines log (checkpoints in <file>.checkpoints).")
        var file: String?
        @Option(name: .customLong("sqlite"), help: "An SQLite database written by SQLiteAuditSink.")
        var sqlite: String?
        @Flag(
            name: .customLong("postgres"),
            help: "The PostgreSQL database in PHIGUARD_AUDIT_POSTGRES_URL (or PHIGUARD_POSTGRES_URL).")
        var postgres = false
        @Option(name: .customLong("postgres-table-prefix"), help: "Table name prefix in PostgreSQL.")
        var postgresTablePrefix = "phiguard_audit"

        func validate() throws {
            let count = [file != nil, sqlite != nil, postgres].filter { $0 }.count
            guard count == 1 else { throw ValidationError("give exactly one of --file, --sqlite, --postgres") }
        }

        /// Opens the log read-only (nothing is created or changed: a missing table is reported, exit
        /// 66); `close` must be called when done.
        func openSource() async throws -> (source: any AuditRecordSource, close: @Sendable () async -> Void) {
            if let file {
                guard FileManager.default.isReadableFile(atPath: file) else {
                    try fail("audit log file not found or unreadable", CLIExit.noInput)
                }
                let reader = try JSONLinesAuditSink.reader(path: file)
                return (reader, {})
            }
            if let sqlite {
                guard FileManager.default.isReadableFile(atPath: sqlite) else {
                    try fail("SQLite database not found or unreadable", CLIExit.noInput)
                }
                let sink: SQLiteAuditSink
                do {
                    sink = try await SQLiteAuditSink.openReadOnly(path: sqlite)
                } catch {
                    try fail(error.description, CLIExit.noInput)
                }
                return (sink, { try? await sink.close() })
            }
            let (sink, close) = try await openPostgres(readOnly: true)
            return (sink, close)
        }

        /// Opens the log for appending.
        func openSink() async throws -> (sink: any AuditSink, close: @Sendable () async -> Void) {
            if let file { return (try JSONLinesAuditSink(path: file), {}) }
            if let sqlite {
                let sink = try await SQLiteAuditSink.open(path: sqlite)
                return (sink, { try? await sink.close() })
            }
            let (sink, close) = try await openPostgres(readOnly: false)
            return (sink, close)
        }

        /// Connects over TLS as the URL's `sslmode` says (verify-full when absent), checking the
        /// connection first so a TLS or pg_hba.conf mistake is reported at once rather than retried.
        /// `readOnly`: every transaction is read-only (`default_transaction_read_only`), no table is
        /// created, and missing tables are reported.
        private func openPostgres(readOnly: Bool) async throws -> (
            sink: PostgresAuditSink, close: @Sendable () async -> Void
        ) {
            let environment = ProcessInfo.processInfo.environment
            guard let text = environment["PHIGUARD_AUDIT_POSTGRES_URL"] ?? environment["PHIGUARD_POSTGRES_URL"] else {
                try fail("set PHIGUARD_AUDIT_POSTGRES_URL to the database URL", CLIExit.noInput)
            }
            let url: PostgresConnectionURL
            do {
                url = try PostgresConnectionURL(text)
                try await url.checkConnection()
            } catch {
                try fail(error.description, CLIExit.noInput)
            }
            var configuration = url.clientConfiguration()
            if readOnly {
                configuration.options.additionalStartupParameters.append(("default_transaction_read_only", "on"))
            }
            let client = PostgresClient(configuration: configuration)
            let runner = Task { await client.run() }
            let close: @Sendable () async -> Void = {
                runner.cancel()
                await runner.value
            }
            do {
                let sink = try PostgresAuditSink(client: client, tablePrefix: postgresTablePrefix)
                if readOnly { try await sink.verifyTablesExist() } else { try await sink.migrate() }
                return (sink, close)
            } catch {
                await close()
                try fail(error.description, CLIExit.noInput)
            }
        }

        /// The checkpoints stored with the log (used when no exported file is given).
        func storedCheckpointsPath() -> String? { file.map { $0 + ".checkpoints" } }
    }

    /// `--keys DIR` with `chain.key`, `signing.key`, `signing.pub`, or the single-file overrides.
    struct KeyOptions: ParsableArguments {
        @Option(name: .customLong("keys"), help: "A directory made by `phiguard audit keygen`.")
        var directory: String?
        @Option(name: .customLong("chain-key-file"), help: "The chain key file (base64, 32 bytes).")
        var chainKeyFile: String?
        @Option(name: .customLong("public-key"), help: "The checkpoint public key (base64).")
        var publicKey: String?

        func chainKey() throws -> AuditChainKey {
            // Through PHIGuardKeys: owner, mode and symbolic-link checks (a 0644 or linked key is refused).
            do {
                if let chainKeyFile { return try KeyDirectory.auditChainKey(file: chainKeyFile) }
                guard let directory else { throw ValidationError("give --keys or --chain-key-file") }
                return try KeyDirectory(path: directory).auditChainKey()
            } catch let error as KeyError {
                try failKey("chain key", error)
            }
        }

        private func failKey(_ what: String, _ error: KeyError) throws -> Never {
            switch error {
            case .keyMissing, .directoryMissing: try fail("\(what): \(error.description)", CLIExit.noInput)
            default: break
            }
            try fail("\(what): \(error.description); fix: \(error.fix)", CLIExit.dataError)
        }

        func checkpointKey() throws -> AuditCheckpointPublicKey? {
            let text: String
            if let publicKey {
                text = publicKey
            } else if let directory {
                text = try readKeyFile(directory + "/signing.pub")
            } else {
                return nil
            }
            do {
                return try AuditCheckpointPublicKey(base64: text)
            } catch {
                try fail("checkpoint public key: \(error.description)", CLIExit.dataError)
            }
        }

        func signingKey() throws -> AuditSigningKey {
            guard let directory else { throw ValidationError("give --keys") }
            do {
                return try KeyDirectory(path: directory).auditSigningKey()
            } catch {
                try failKey("signing key", error)
            }
        }

        private func readKeyFile(_ path: String) throws -> String {
            guard let data = FileManager.default.contents(atPath: path), data.count <= 4096 else {
                try fail("key file '\(path)' is missing, unreadable or too large", CLIExit.noInput)
            }
            return String(decoding: data, as: UTF8.self)
        }
    }

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create chain.key, signing.key (mode 0600) and signing.pub in a new or empty directory.")

        @Option(name: .customLong("output"), help: "The directory to write the keys to.")
        var output: String
        @OptionGroup var format: OutputOptions

        func run() async throws {
            let manager = FileManager.default
            try? manager.createDirectory(atPath: output, withIntermediateDirectories: true)
            for name in ["chain.key", "signing.key", "signing.pub"]
            where manager.fileExists(atPath: output + "/" + name) {
                try fail("\(output)/\(name) exists; refusing to overwrite a key", CLIExit.dataError)
            }
            let chain = try AuditKeyMaterial.newChainKeyBase64()
            let seed = try AuditKeyMaterial.newSigningSeedBase64()
            let publicKey = try AuditSigningKey(base64: seed).publicKey.base64
            let files: [(String, String, PrivateFile.Access)] = [
                ("chain.key", chain, .ownerOnly), ("signing.key", seed, .ownerOnly),
                ("signing.pub", publicKey, .publiclyReadable),
            ]
            for (name, text, access) in files {
                var bytes = Array((text + "\n").utf8)
                defer { Sodium.zero(&bytes) }
                do {
                    try PrivateFile.write(bytes, to: output + "/" + name, access: access)
                } catch {
                    try fail("cannot write \(output)/\(name)", CLIExit.internalError)
                }
            }
            format.emit(["publicKey": publicKey], text: "checkpoint public key: \(publicKey)")
        }
    }

    /// One event on standard input for `append` (the record JSON without `seq` and `chain`).
    struct EventInput: Decodable {
        var kind: AuditEventKind
        var ts: Int64?
        var actor: String?
        var role: String?
        var session: String?
        var action: String?
        var resourceType: String?
        var resourceID: String?
        var patient: String?
        var fields: [String]?
        var outcome: AuditOutcome
        var reason: String?
        var rules: [String]?
        var breakGlass: Bool?
        var breakGlassReason: String?
        var related: UInt64?
        var attributes: [String: String]?

        func event() throws(AuditError) -> AuditEvent {
            try AuditEvent(
                kind: kind, timestamp: ts ?? AuditEvent.timestamp(for: SystemClock().now), actorID: actor,
                actorRole: role,
                sessionID: session, action: action, resourceType: resourceType, resourceID: resourceID,
                patientID: patient, fields: fields ?? [], outcome: outcome, reason: reason, ruleIDs: rules ?? [],
                breakGlass: breakGlass ?? false, breakGlassReason: breakGlassReason, relatedSequence: related,
                attributes: attributes ?? [:])
        }
    }

    struct Append: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append events (JSON lines on standard input) to a log, chained and checkpointed.",
            discussion: "All lines are checked before any is written; a bad line writes nothing (exit 65).")

        @OptionGroup var location: LogLocation
        @OptionGroup var keys: KeyOptions
        @OptionGroup var format: OutputOptions
        // Small batches make concurrent appenders interleave (the many-writers test uses it).
        @Option(name: .customLong("batch-size"), help: .hidden)
        var batchSize = 1024
        @Option(
            name: .customLong("witness"),
            help: "Also record each checkpoint in this witness file (append-only, one signed checkpoint a line).")
        var witness: String?

        func run() async throws {
            guard (1...100_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1...100000") }
            var events: [AuditEvent] = []
            var number = 0
            let decoder = JSONDecoder()
            while let line = readLine(strippingNewline: true) {
                number += 1
                if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                guard line.utf8.count <= 64 * 1024, events.count < 1_000_000,
                    let input = try? decoder.decode(EventInput.self, from: Data(line.utf8))
                else { try fail("input line \(number) is not an audit event", CLIExit.dataError) }
                do {
                    events.append(try input.event())
                } catch {
                    try fail("input line \(number): \(error.description)", CLIExit.dataError)
                }
            }
            let recorder: FileCheckpointWitness?
            do {
                recorder = try witness.map { (path: String) throws(AuditError) in try FileCheckpointWitness(path: path)
                }
            } catch {
                try fail(error.description, CLIExit.cannotCreate)
            }
            let chainKey = try keys.chainKey()
            let signingKey = try keys.signingKey()
            let (sink, close) = try await location.openSink()
            let log: AuditLog
            do {
                log = try await AuditLog(
                    sink: sink, chainKey: chainKey, signingKey: signingKey,
                    configuration: .init(batchSize: batchSize, maximumPendingEvents: max(batchSize, 65_536)),
                    checkpointExporter: recorder?.exporter())
            } catch {
                // Close the database before leaving (an unclosed connection stops the process).
                await close()
                try fail(error.description, CLIExit.internalError)
            }
            var last: UInt64 = 0
            do {
                for event in events { last = try await log.append(event, durability: .queued) }
                try await log.close()
            } catch {
                await close()
                try fail(error.description, CLIExit.internalError)
            }
            await close()
            format.emit(["appended": events.count, "lastSequence": Int(last)], text: "appended \(events.count) events")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a log's chain and checkpoints; report every broken position.",
            discussion: """
                Exit status: 0 intact, 1 broken (each break's kind and position printed, the first 100), 65 malformed
                key or checkpoint file, 66 log, audit tables or key file missing. The database is opened read-only.
                Pass --checkpoints with the checkpoints exported off-host to detect a
                truncated tail; without it, the checkpoints stored beside the log are used.
                """)

        @OptionGroup var location: LogLocation
        @OptionGroup var keys: KeyOptions
        @Option(name: .customLong("checkpoints"), help: "Exported checkpoints (JSON lines).")
        var checkpointsFile: String?
        @Option(
            name: .customLong("witness"),
            help: "A checkpoint witness file: its checkpoints are checked too (a log behind it is truncated).")
        var witnessFile: String?
        @Flag(name: .customLong("progress"), help: "Show progress on standard error (default: when it is a terminal).")
        var progress = false
        @OptionGroup var format: OutputOptions

        static func verify(
            _ verifier: AuditVerifier, _ source: some AuditRecordSource, _ checkpoints: [AuditCheckpoint]?,
            _ progress: (@Sendable (Int) -> Void)?
        ) async throws(AuditError) -> AuditVerificationReport {
            try await verifier.verify(source, checkpoints: checkpoints, chunkSize: 10_000, progress: progress)
        }

        func run() async throws {
            let verifier = AuditVerifier(chainKey: try keys.chainKey(), checkpointKey: try keys.checkpointKey())
            var checkpoints: [AuditCheckpoint]?
            if let checkpointsFile {
                guard FileManager.default.isReadableFile(atPath: checkpointsFile) else {
                    try fail("checkpoints file not found or unreadable", CLIExit.noInput)
                }
                do {
                    checkpoints = try JSONLinesAuditSink.readCheckpoints(path: checkpointsFile)
                } catch {
                    try fail(error.description, CLIExit.dataError)
                }
            }
            var witnessed: [AuditCheckpoint] = []
            if let witnessFile {
                do {
                    witnessed = try await FileCheckpointWitness.reader(path: witnessFile).checkpoints()
                } catch let error as AuditError {
                    try fail(error.description, error.isDataError ? CLIExit.dataError : CLIExit.noInput)
                } catch {
                    try fail("the checkpoint witness file could not be read", CLIExit.noInput)
                }
            }
            let (source, close) = try await location.openSource()
            if witnessFile != nil {
                do {
                    let base = if let checkpoints { checkpoints } else { try await source.checkpoints() }
                    checkpoints = base + witnessed
                } catch {
                    await close()
                    try fail("could not read the stored checkpoints", CLIExit.internalError)
                }
            }
            let showProgress = progress || isatty(STDERR_FILENO) == 1
            let started = ContinuousClock.now
            let report: AuditVerificationReport
            var reporter: (@Sendable (Int) -> Void)?
            if showProgress {
                reporter = { count in
                    let line = "\rverified \(count) records"
                    FileHandle.standardError.write(Data(line.utf8))
                }
            }
            do {
                report = try await Self.verify(verifier, source, checkpoints, reporter)
            } catch {
                await close()
                try fail(error.description, error.isDataError ? CLIExit.dataError : CLIExit.internalError)
            }
            await close()
            if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
            let elapsed = (ContinuousClock.now - started).seconds
            switch report {
            case .intact(let records, let last, let checked):
                format.emit(
                    VerifyReport(
                        result: "intact", records: records, lastSequence: last, checkpointsChecked: checked,
                        seconds: elapsed),
                    text: "intact: \(records) records (last sequence \(last)), \(checked) checkpoints matched")
            case .broken(let breaks, let total):
                let isFile = location.file != nil
                let listed = breaks.map { BreakReport($0, isFile: isFile) }
                var lines = breaks.map { found in
                    "broken: \(found.kind.rawValue) at position \(found.position)"
                        + (isFile ? " (line \(found.position + 1))" : "")
                        + ", expected sequence \(found.expectedSequence)"
                        + (found.foundSequence.map { ", found \($0)" } ?? "")
                }
                if total > 1 {
                    lines.append(
                        "\(total) breaks" + (total > breaks.count ? " (the first \(breaks.count) listed)" : ""))
                }
                let first = listed.first
                format.emit(
                    VerifyReport(
                        result: "broken", kind: first?.kind, position: first?.position, line: first?.line,
                        expectedSequence: first?.expectedSequence, foundSequence: first?.foundSequence,
                        breaks: listed, breakCount: total, seconds: elapsed),
                    text: lines.joined(separator: "\n"))
                throw CLIExit.negative
            }
        }
    }

    struct VerifyReport: Encodable {
        var result: String
        var records: Int?
        var lastSequence: UInt64?
        var checkpointsChecked: Int?
        var kind: String?
        var position: Int?
        var line: Int?
        var expectedSequence: UInt64?
        var foundSequence: UInt64?
        var breaks: [BreakReport]?
        var breakCount: Int?
        var seconds: Double
    }

    /// One break in `verify --json` output.
    struct BreakReport: Encodable {
        var kind: String
        var position: Int
        var line: Int?
        var expectedSequence: UInt64
        var foundSequence: UInt64?

        init(_ found: AuditChainBreak, isFile: Bool) {
            kind = found.kind.rawValue
            position = found.position
            line = isFile ? found.position + 1 : nil
            expectedSequence = found.expectedSequence
            foundSequence = found.foundSequence
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Print every record as FHIR R4 AuditEvent NDJSON, IHE BALP AuditEvents, RFC 5424 syslog or ECS JSON lines.",
            discussion:
                "Export does not verify; run `phiguard audit verify` first. Unreadable entries are skipped and counted on standard error (exit 1 if any)."
        )

        enum Format: String, ExpressibleByArgument, CaseIterable { case fhir, balp, syslog, ecs }

        @OptionGroup var location: LogLocation
        @Option(
            help:
                "fhir: R4 AuditEvent NDJSON; balp: IHE BALP AuditEvents (NDJSON); syslog: RFC 5424 lines; ecs: Elastic Common Schema JSON lines."
        )
        var format: Format = .fhir
        @Option(name: .customLong("source-id"), help: "The id of the system that wrote the log (source.observer).")
        var sourceID = "phiguard"
        @Option(help: "The site id (source.site).")
        var site: String?
        @Option(help: "The syslog HOSTNAME / ECS host.name (default: this host's name).")
        var hostname: String?

        func run() async throws {
            let exporter = FHIRAuditEventExporter(sourceID: sourceID, site: site)
            let host = hostname ?? ProcessInfo.processInfo.hostName
            let balp = BALPAuditEventExporter(sourceID: sourceID, site: site)
            let syslog = SyslogAuditExporter(hostname: host)
            let ecs = ECSAuditExporter(hostName: host)
            let (source, close) = try await location.openSource()
            var position = 0
            var unreadable = 0
            do {
                while true {
                    let chunk = try await source.entries(from: position, limit: 10_000)
                    for entry in chunk {
                        switch entry {
                        case .record(let record):
                            switch format {
                            case .fhir: print(try exporter.jsonLine(for: record))
                            case .balp: for line in try balp.jsonLines(for: record) { print(line) }
                            case .syslog: print(syslog.line(for: record))
                            case .ecs: print(try ecs.jsonLine(for: record))
                            }
                        case .unreadable: unreadable += 1
                        }
                    }
                    position += chunk.count
                    if chunk.count < 10_000 { break }
                }
            } catch {
                await close()
                try fail("could not read the log", CLIExit.internalError)
            }
            await close()
            if unreadable > 0 { try fail("\(unreadable) unreadable entries were skipped", CLIExit.negative) }
        }
    }

    struct Unreviewed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "unreviewed",
            abstract: "List break-glass accesses that have no review event yet (exit 1 if there are any).")

        @OptionGroup var location: LogLocation
        @OptionGroup var format: OutputOptions

        func run() async throws {
            let (source, close) = try await location.openSource()
            let open: [AuditRecord]
            do {
                open = try await BreakGlassReview.unreviewed(in: source)
            } catch {
                await close()
                try fail(error.description, CLIExit.internalError)
            }
            await close()
            for record in open {
                let event = record.event
                format.emit(
                    [
                        "sequence": "\(record.sequence)", "actor": event.actorID ?? "",
                        "patient": event.patientID ?? "",
                        "reason": event.breakGlassReason ?? "",
                        "recorded": FHIRAuditEventExporter.instant(event.timestamp),
                    ],
                    text: "\(record.sequence)\t\(FHIRAuditEventExporter.instant(event.timestamp))\t"
                        + "\(event.actorID ?? "-")\tpatient \(event.patientID ?? "-")\t\(event.breakGlassReason ?? "-")"
                )
            }
            if !open.isEmpty { throw CLIExit.negative }
        }
    }
}

extension AuditError {
    /// Errors caused by the input (exit 65) rather than the machine (exit 70).
    var isDataError: Bool {
        switch self {
        case .invalidIdentifier, .invalidEvent, .invalidKey, .malformedCheckpoint: true
        case .sinkUnavailable, .sinkFailed, .closed, .unwrittenEvents, .secureMemoryFailure, .storageFailure: false
        }
    }
}
