import Foundation
@_spi(PolicyEvaluation) import PHIGuardAccess
import Synchronization

/// 2026-01-15 at `hour:minute` UTC.
func utc(hour: Int, minute: Int = 0) -> Date {
    Date(timeIntervalSince1970: 1_768_435_200 + TimeInterval(hour * 3600 + minute * 60))
}

/// A directory backed by a fixed table.
struct TableCareTeams: CareTeamDirectory {
    var members: [String: Set<String>]

    func isOnCareTeam(subjectID: String, patientID: String) -> Bool {
        members[subjectID]?.contains(patientID) ?? false
    }
}

/// The sample hospital policy from Examples/Policies.
func hospitalPolicyText() throws -> String {
    try String(
        contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Examples/Policies/hospital.yaml"),
        encoding: .utf8)
}

extension AccessAction {
    /// The sample policy's app-defined signing action.
    static let sign = AccessAction("sign")
}

/// A clock of the app's own, written against `PHIGuardAccess` alone: the clock protocol is
/// re-exported, so a client can implement it without importing anything else.
struct OffsetClock: PHIGuardClock {
    let base: ManualClock
    let offset: Duration

    func wallClockNanoseconds() -> Int64 {
        base.wallClockNanoseconds() + offset.components.seconds * 1_000_000_000
    }
    func monotonicNanoseconds() -> Int64 { base.monotonicNanoseconds() }
}
