import Foundation

/// Converts an instant to minutes after local midnight in the policy's time zone.
struct TimeZoneOffsetTable: Sendable {
    let zone: TimeZone

    static let utc = TimeZoneOffsetTable(zone: TimeZone(secondsFromGMT: 0) ?? .current)

    private init(zone: TimeZone) { self.zone = zone }

    init?(identifier: String) {
        if identifier == "UTC" {
            self = .utc
            return
        }
        guard let zone = TimeZone(identifier: identifier) else { return nil }
        self.zone = zone
    }

    func minuteOfDay(_ date: Date) -> Int {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down)) + zone.secondsFromGMT(for: date)
        let day = 86_400
        return ((seconds % day + day) % day) / 60
    }
}
