import ArgumentParser
import Foundation
import PHIGuardAudit
import PHIGuardCrypto

extension AuditCommand {
    /// `--config FILE`: the monitoring rules (the safe defaults without it).
    struct MonitoringOptions: ParsableArguments {
        @Option(name: .customLong("config"), help: "Monitoring rules (YAML); the safe defaults when omitted.")
        var config: String?

        func configuration() throws -> MonitoringConfiguration {
            guard let config else { return .defaults }
            guard FileManager.default.isReadableFile(atPath: config) else {
                try fail("monitoring configuration not found or unreadable", CLIExit.noInput)
            }
            do {
                return try MonitoringConfiguration.load(path: config)
            } catch {
                try fail("\(config):\(error.description)", CLIExit.dataError)
            }
        }
    }

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow a live log and print security alerts (JSON lines) as they happen.",
            discussion: """
                Reads the existing records first without printing their alerts (unless --from-start), prints
                "phiguard: watching from sequence N" on standard error, then polls for new records. With --keys (or
                --chain-key-file) every new record's chain is checked too. Alerts also go to --alerts-file and
                --webhook when given, and with --record are chained into the log itself as security.alert events. Runs
                until interrupted.
                """)

        @OptionGroup var location: LogLocation
        @OptionGroup var monitoring: MonitoringOptions
        @Option(name: .customLong("keys"), help: "A key directory: its chain.key turns on the chain check.")
        var keys: String?
        @Option(name: .customLong("chain-key-file"), help: "The chain key file (turns on the chain check).")
        var chainKeyFile: String?
        @Flag(name: .customLong("from-start"), help: "Print the alerts of the records already in the log too.")
        var fromStart = false
        @Option(name: .customLong("interval-ms"), help: "How often to poll, in milliseconds (50...60000).")
        var intervalMilliseconds = 1000
        @Option(name: .customLong("alerts-file"), help: "Also append each alert (JSON line) to this file.")
        var alertsFile: String?
        @Option(name: .customLong("webhook"), help: "Also POST each alert (JSON) to this http(s) URL.")
        var webhook: String?
        @Flag(
            name: .customLong("record"),
            help: "Also chain each alert into the log as a security.alert event (needs --keys with signing.key).")
        var record = false

        func run() async throws {
            guard (50...60_000).contains(intervalMilliseconds) else {
                throw ValidationError("--interval-ms must be 50...60000")
            }
            let configuration = try monitoring.configuration()
            var chainKey: AuditChainKey?
            if keys != nil || chainKeyFile != nil {
                chainKey = try KeyOptions.parse(
                    (keys.map { ["--keys", $0] } ?? []) + (chainKeyFile.map { ["--chain-key-file", $0] } ?? [])
                ).chainKey()
            }
            var sinks: [any AlertSink] = [StandardOutputAlertSink()]
            if let alertsFile { sinks.append(FileAlertSink(path: alertsFile)) }
            if let webhook {
                guard let url = URL(string: webhook) else { throw ValidationError("--webhook is not a URL") }
                do {
                    sinks.append(try WebhookAlertSink(url: url))
                } catch {
                    throw ValidationError(error.description)
                }
            }
            var recorder: (log: AuditLog, close: @Sendable () async -> Void)?
            if record {
                guard let keys else { throw ValidationError("--record needs --keys (chain.key and signing.key)") }
                let keyOptions = try KeyOptions.parse(["--keys", keys])
                let (sink, closeSink) = try await location.openSink()
                do {
                    let log = try await AuditLog(
                        sink: sink, chainKey: try keyOptions.chainKey(), signingKey: try keyOptions.signingKey())
                    recorder = (log, closeSink)
                } catch {
                    await closeSink()
                    try fail("cannot open the log for recording alerts", CLIExit.internalError)
                }
            }
            let dispatcher = SecurityAlertDispatcher(sinks: sinks, log: recorder?.log)
            let (source, close) = try await location.openSource()
            var watcher = AuditWatcher(
                source: source, monitor: SecurityMonitor(configuration: configuration), chainKey: chainKey)
            do {
                let history = try await watcher.poll()
                if fromStart { for alert in history { await dispatcher.dispatch(alert) } }
                FileHandle.standardError.write(Data("phiguard: watching from sequence \(watcher.lastSequence)\n".utf8))
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(intervalMilliseconds))
                    var alerts = try await watcher.poll()
                    alerts += watcher.advance(to: AuditEvent.timestamp(for: SystemClock().now))
                    for alert in alerts { await dispatcher.dispatch(alert) }
                }
            } catch let error as AuditError {
                await close()
                await recorder?.close()
                try fail(error.description, CLIExit.internalError)
            } catch {
                await close()
                try? await recorder?.log.close()
                await recorder?.close()
                throw error
            }
            await close()
            try? await recorder?.log.close()
            await recorder?.close()
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a review report: per user, per patient, break-glass, alerts (text, JSON or HTML).",
            discussion: """
                --since and --until take a date (2026-11-01), a UTC time (2026-11-01T08:00:00Z) or a span back from
                now (24h, 7d). The HTML page is self-contained (inline SVG charts, no scripts, no external resources).
                The detector replays the whole log, so alerts in the period are the ones `watch` would have raised.
                """)

        enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, html }

        @OptionGroup var location: LogLocation
        @OptionGroup var monitoring: MonitoringOptions
        @Option(help: "The start of the period (a date, a UTC time, or a span such as 7d).")
        var since: String
        @Option(help: "The end of the period (exclusive); the last record when omitted.")
        var until: String?
        @Option(help: "text, json or html.")
        var format: Format = .text
        @Option(name: .customLong("output"), help: "Write the report to this file instead of standard output.")
        var output: String?

        static func parseTime(_ text: String, now: Date) -> Int64? {
            if let last = text.last, let amount = Int(text.dropLast()), amount >= 0, amount <= 100_000 {
                let unit: Double? =
                    switch last {
                    case "h": 3600
                    case "d": 86_400
                    case "m": 60
                    default: nil
                    }
                if let unit { return AuditEvent.timestamp(for: now.addingTimeInterval(-Double(amount) * unit)) }
            }
            let full = ISO8601DateFormatter()
            if let date = full.date(from: text) { return AuditEvent.timestamp(for: date) }
            let day = ISO8601DateFormatter()
            day.formatOptions = [.withFullDate]
            if let date = day.date(from: text) { return AuditEvent.timestamp(for: date) }
            return nil
        }

        func run() async throws {
            let now = SystemClock().now
            guard let start = Self.parseTime(since, now: now) else {
                throw ValidationError("--since must be a date, a UTC time or a span such as 7d")
            }
            var end: Int64?
            if let until {
                guard let parsed = Self.parseTime(until, now: now) else {
                    throw ValidationError("--until must be a date, a UTC time or a span such as 1d")
                }
                end = parsed
            }
            let configuration = try monitoring.configuration()
            let (source, close) = try await location.openSource()
            let report: AuditReviewReport
            do {
                report = try await AuditReviewReport.build(
                    from: source, since: start, until: end, configuration: configuration)
            } catch {
                await close()
                try fail(error.description, CLIExit.internalError)
            }
            await close()
            let rendered: Data =
                switch format {
                case .text: Data((report.text() + "\n").utf8)
                case .json: report.jsonData() + Data("\n".utf8)
                case .html: Data(report.html().utf8)
                }
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: rendered) else {
                    try fail("cannot write \(output)", CLIExit.cannotCreate)
                }
            } else {
                FileHandle.standardOutput.write(rendered)
            }
        }
    }
}
