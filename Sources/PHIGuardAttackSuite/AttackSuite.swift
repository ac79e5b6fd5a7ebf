public import Foundation

/// The attack regression suite: PHIGuard's attacks as scenarios an app runs against its own
/// integration (an ``AttackTarget``), from its own test target.
///
/// ```swift
/// let report = await AttackSuite.run(against: MyPortalTarget(...))
/// print(report.table)
/// #expect(report.results.allSatisfy { !$0.verdict.isSucceeded })
/// ```
///
/// Scenarios run one after another, in the order of ``all`` (some lock accounts or tamper with rows
/// and restore them; each restores what it changed or uses fixture accounts reserved for it).
public enum AttackSuite {
    /// Every scenario, in run order.
    public static let all: [AttackScenario] = [
        .registrationBypass, .recoverySessionReadsPHI, .pendingSecondFactorReadsPHI, .registrationSessionByID,
        .clientChosenPatientID, .oracles, .insecureDirectObjectReference, .staffOnlyActions, .searchInjection,
        .exportPathTraversal, .credentialStuffing,
        .totpReplay, .denyBeatsAllow, .ciphertextTampering, .dataAtRest, .breakGlassMisuse, .sessionAttacks,
        .errorLeakage, .bruteForce, .auditTampering,
    ]

    /// The scenario with this id, if any.
    public static func scenario(id: String) -> AttackScenario? { all.first { $0.id == id } }

    /// Runs `scenarios` (all by default) against `target`, one after another.
    public static func run(against target: any AttackTarget, scenarios: [AttackScenario] = all) async -> AttackReport {
        var results: [AttackResult] = []
        for scenario in scenarios { results.append(await scenario.run(against: target)) }
        return AttackReport(results: results)
    }
}

/// The results of a run: a text table for people, `Codable` JSON for tools.
public struct AttackReport: Sendable, Hashable, Codable {
    /// One result per scenario, in run order.
    public var results: [AttackResult]

    /// A report of `results` (for instance the results of several runs, one scenario each, put together).
    public init(results: [AttackResult]) { self.results = results }

    /// The result of scenario `id`, if it ran.
    public func result(id: String) -> AttackResult? { results.first { $0.id == id } }

    /// Results that are neither blocked nor not applicable (succeeded or inconclusive).
    public var failures: [AttackResult] {
        results.filter {
            switch $0.verdict {
            case .blocked, .notApplicable: false
            case .succeeded, .inconclusive: true
            }
        }
    }

    /// One line per scenario: id, verdict, number of attempts; then the totals.
    public var table: String {
        let width = (results.map(\.id.count).max() ?? 0) + 2
        var lines = ["attack".padding(toLength: width, withPad: " ", startingAt: 0) + "attempts  verdict"]
        for result in results {
            lines.append(
                result.id.padding(toLength: width, withPad: " ", startingAt: 0)
                    + String(result.attempts.count).padding(toLength: 10, withPad: " ", startingAt: 0)
                    + result.verdict.description)
        }
        let blocked = results.filter(\.verdict.isBlocked).count
        let succeeded = results.filter(\.verdict.isSucceeded).count
        lines.append(
            "\(results.count) attacks: \(blocked) blocked, \(succeeded) succeeded, "
                + "\(results.count - blocked - succeeded) not applicable or inconclusive")
        return lines.joined(separator: "\n")
    }

    /// The report as pretty-printed JSON (sorted keys).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}
