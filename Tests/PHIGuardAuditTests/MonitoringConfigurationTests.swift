import PHIGuardAudit
import Testing

@Suite("Monitoring configuration (YAML)")
struct MonitoringConfigurationTests {
    @Test("the defaults are safe: every rule that needs no list is on")
    func defaults() {
        let defaults = MonitoringConfiguration.defaults
        for rule in SecurityAlertRule.allCases where rule != .offHoursAccess && rule != .restrictedPatientAccess {
            #expect(defaults.isEnabled(rule), "\(rule)")
        }
        #expect(defaults.bulkAccess.maximum == 50)
        #expect(defaults.breakGlassReviewSeconds == 24 * 3600)
    }

    @Test("a full file loads")
    func fullFile() throws {
        let configuration = try MonitoringConfiguration.load(
            yaml: """
                bulk-access: {max-patients: 20, window-minutes: 30}
                off-hours-access:
                  time-zone: America/New_York
                  quiet-minutes: 30
                  roles:
                    nurse: "22:00-06:00"
                    clerk: ["08:00-12:00", "13:00-17:00"]
                break-glass-invoked: {enabled: true}
                break-glass-unreviewed: {after-hours: 8}
                denial-probing: {enabled: false}
                lockout-spike: {max-lockouts: 3, window-minutes: 5}
                credential-stuffing: {max-accounts: 4, window-minutes: 2, address-attribute: ip}
                restricted-patient-access: {patients: [MRN-1, MRN-2], exempt-actors: ["user:po"]}
                limits: {max-tracked-keys: 500, max-pending-break-glass: 100}
                """)
        #expect(configuration.bulkAccess == .init(maximum: 20, windowSeconds: 1800))
        #expect(configuration.offHoursAccess.timeZone == "America/New_York")
        #expect(configuration.offHoursAccess.roles["nurse"] == [.init(start: 1320, end: 360)])
        #expect(configuration.offHoursAccess.roles["clerk"]?.count == 2)
        #expect(configuration.offHoursAccess.quietSeconds == 1800)
        #expect(configuration.breakGlassReviewSeconds == 8 * 3600)
        #expect(!configuration.isEnabled(.denialProbing))
        #expect(configuration.credentialStuffing.maximum == 4)
        #expect(configuration.addressAttribute == "ip")
        #expect(configuration.restrictedPatients == ["MRN-1", "MRN-2"])
        #expect(configuration.maximumTrackedKeys == 500)
        let nurseWindow = try #require(configuration.offHoursAccess.roles["nurse"]?.first)
        #expect(
            nurseWindow.contains(minute: 23 * 60) && nurseWindow.contains(minute: 60)
                && !nurseWindow.contains(minute: 12 * 60))
    }

    @Test(
        "mistakes are typed errors with line and column",
        arguments: [
            ("bulk-access:\n  max-patient: 5\n", 2, 3, "unknown key 'max-patient'"),
            ("bulk-access:\n  max-patients: -1\n", 2, 17, "whole number"),
            ("lockout-spike: {window-minutes: lots}\n", 1, 33, "whole number"),
            ("break-glass-invoked:\n  enabled: false\n", 2, 12, "cannot be disabled"),
            ("audit-verification-failed: {enabled: false}\n", 1, 38, "cannot be disabled"),
            ("off-hours-access:\n  roles:\n    nurse: \"25:00-06:00\"\n", 3, 12, "HH:MM-HH:MM"),
            ("off-hours-access:\n  time-zone: Mars/Olympus\n", 2, 14, "time zone"),
            ("restricted-patient-access:\n  patients: [\"Jane Doe\"]\n", 2, 14, "audit identifiers"),
            ("bulk-access: [1, 2]\n", 1, 14, "must be a mapping"),
            ("nonsense: {}\n", 1, 1, "unknown key 'nonsense'"),
            ("bulk-access: {max-patients: 5\n", 2, 1, ""),
        ])
    func errors(yaml: String, line: Int, column: Int, message: String) {
        do {
            _ = try MonitoringConfiguration.load(yaml: yaml)
            Issue.record("loaded: \(yaml)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.column == column, "\(error)")
            #expect(message.isEmpty || error.message.contains(message), "\(error)")
            #expect(error.description.hasPrefix("\(line):\(column): "))
        }
    }

    @Test("an empty file is the defaults")
    func empty() throws {
        #expect(try MonitoringConfiguration.load(yaml: "") == .defaults)
        #expect(try MonitoringConfiguration.load(yaml: "# nothing\n") == .defaults)
    }
}
