import Foundation
@_spi(PolicyEvaluation) import PHIGuardAccess
import Synchronization

/// A clock the test moves by hand.
final class ManualClock: WallClock {
    private let current: Mutex<Date>

    init(_ start: Date) { current = Mutex(start) }

    func now() -> Date { current.withLock { $0 } }

    func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

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
