import ArgumentParser
import Foundation
import PortalCore

/// `audit verify|review|export`: the auditor's view of the audit log (the policy's `audit-log` readers
/// only; every request is decided and audited, a refusal too).
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Auditors: verify the audit chain, review break-glass use, export the log as FHIR AuditEvents.",
        subcommands: [Verify.self, Review.self, Export.self], defaultSubcommand: Verify.self)

    /// The exit status of a log that does not verify (distinct from a refusal's 1).
    static let brokenExitStatus: Int32 = 2

    /// Prints the verification summary and returns whether the log is intact.
    static func printSummary(_ verification: PortalAuditVerification) -> Bool {
        if verification.isIntact {
            print(
                "Audit log intact: \(verification.records) record(s), "
                    + "\(verification.checkpointsChecked) checkpoint(s) checked.")
        } else {
            print(
                "Audit log BROKEN: \(verification.breakCount) break(s); first: \(verification.firstBreak ?? "?")")
        }
        return verification.isIntact
    }

    /// `audit verify`: every chain link and checkpoint (stored and witnessed), read-only.
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the audit chain and its checkpoints (exit status 2 when broken).")

        @OptionGroup var options: PortalOptions

        func run() async throws {
            var intact = true
            try await PortalRunner.run(options) { context in
                intact = AuditCommand.printSummary(try await context.portal.verifyAuditLog(token: context.token))
            }
            if !intact { throw ExitCode(AuditCommand.brokenExitStatus) }
        }
    }

    /// `audit review`: the break-glass review queue (as `break-glass review` prints it), then the
    /// verification summary, so the reviewer knows the records behind the queue are intact.
    struct Review: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The break-glass review queue, then the audit chain's verification (exit status 2 when broken).",
            discussion: "Record a grant's review with `break-glass review --grant ID --outcome O`.")

        @OptionGroup var options: PortalOptions
        @Flag(help: "Include grants already reviewed.")
        var all = false

        func run() async throws {
            var intact = true
            try await PortalRunner.run(options) { context in
                BreakGlassCommand.Review.printQueue(
                    try await context.portal.breakGlassReviewQueue(token: context.token, includeReviewed: all))
                intact = AuditCommand.printSummary(try await context.portal.verifyAuditLog(token: context.token))
            }
            if !intact { throw ExitCode(AuditCommand.brokenExitStatus) }
        }
    }

    /// `audit export --output FILE [--format fhir|balp] [--since T] [--until T]`: the log as NDJSON,
    /// written by the library's exporters to a new file in the export folder (the chart export's
    /// path rules). The policy's `export` on the audit log: auditors only, decided and audited.
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export the audit log as FHIR R4 AuditEvent NDJSON (or IHE BALP) to a new file.",
            discussion: """
                The file is created new (mode 0600) directly in the export folder, under the same rules as \
                `export`. --since/--until take an ISO 8601 date (2026-03-01) or instant \
                (2026-03-01T08:00:00Z); --since is inclusive, --until exclusive. The export does not verify \
                the chain: run `audit verify` first.
                """)

        @OptionGroup var options: PortalOptions
        @Option(help: "fhir: FHIR R4 AuditEvent NDJSON; balp: IHE BALP AuditEvents (NDJSON).")
        var format: String = "fhir"
        @Option(help: "The file to create: a name in the export folder, or a path inside it.")
        var output: String
        @Option(name: .customLong("export-dir"), help: "The export folder (must exist).")
        var exportDirectory = "exports"
        @Option(help: "Only records at or after this date or instant (UTC).")
        var since: String?
        @Option(help: "Only records before this date or instant (UTC).")
        var until: String?

        /// An ISO 8601 instant (`2026-03-01T08:00:00Z`, fractional seconds allowed) or a date
        /// (`2026-03-01`, midnight UTC); nil for anything else.
        static func parseInstant(_ text: String) -> Date? {
            let instant = ISO8601DateFormatter()
            if let date = instant.date(from: text) { return date }
            instant.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = instant.date(from: text) { return date }
            let day = ISO8601DateFormatter()
            day.formatOptions = [.withFullDate]
            return day.date(from: text)
        }

        func validate() throws {
            guard PortalAuditExportFormat(rawValue: format) != nil else {
                throw ValidationError("--format must be fhir or balp")
            }
            for (name, value) in [("--since", since), ("--until", until)] {
                if let value, Self.parseInstant(value) == nil {
                    throw ValidationError(
                        "\(name) must be an ISO 8601 date (2026-03-01) or instant (2026-03-01T08:00:00Z)")
                }
            }
        }

        func run() async throws {
            try await PortalRunner.run(options) { context in
                let export = try await context.portal.exportAuditLog(
                    token: context.token, format: PortalAuditExportFormat(rawValue: format) ?? .fhir,
                    since: since.flatMap(Self.parseInstant), until: until.flatMap(Self.parseInstant),
                    exportDirectory: exportDirectory, output: output)
                print(
                    "Exported \(export.records) audit record(s) to \(export.path) "
                        + "(\(format == "balp" ? "IHE BALP" : "FHIR R4") AuditEvent NDJSON, \(export.lines) line(s)).")
                if export.unreadable > 0 {
                    print("\(export.unreadable) unreadable entr(ies) skipped: run `audit verify`.")
                }
            }
        }
    }
}
