import ArgumentParser
import Foundation
import PortalCore

/// `audit verify|review`: the auditor's view of the audit log (the policy's `audit-log` readers only;
/// every request is decided and audited, a refusal too).
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Auditors: verify the audit chain and review break-glass use.",
        discussion: """
            There is no `audit export` here: the administrator's `phiguard audit export --sqlite DB --format fhir` \
            exports the log as FHIR AuditEvents (BALP).
            """,
        subcommands: [Verify.self, Review.self], defaultSubcommand: Verify.self)

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
}
