import Foundation
import PHIGuardAudit

/// A deterministic pseudo-random generator (SplitMix64), so generated streams are the same every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Generated audit streams: a normal week of a 300-patient clinic, and incidents to plant in it.
enum ClinicStream {
    /// Monday 2026-11-02T00:00:00Z, in microseconds.
    static let weekStart: Int64 = 1_793_577_600_000_000
    static let minute: Int64 = 60_000_000
    static let hour: Int64 = 60 * minute
    static let day: Int64 = 24 * hour

    static func patient(_ index: Int) -> String { "MRN-" + String(format: "%06d", index) }

    /// The monitoring rules the clinic runs: usual hours per role and one restricted (VIP) patient.
    static func configuration() throws -> MonitoringConfiguration {
        try MonitoringConfiguration.load(
            yaml: """
                off-hours-access:
                  time-zone: UTC
                  roles:
                    physician: "07:00-20:00"
                    nurse: "06:30-19:30"
                    nurse-night: "18:30-07:30"
                    receptionist: ["07:30-12:30", "12:30-18:00"]
                restricted-patient-access:
                  patients: [MRN-VIP-001]
                  exempt-actors: ["user:privacy-officer"]
                """)
    }

    private static func access(
        _ actor: String, _ role: String, _ action: String, _ type: String, patient: String, at time: Int64,
        allowed: Bool = true, breakGlass: String? = nil
    ) throws -> AuditEvent {
        try AuditEvent(
            kind: .accessDecision, timestamp: time, actorID: actor, actorRole: role, sessionID: "sess-" + actor,
            action: action, resourceType: type, resourceID: "\(type.lowercased())-\(patient)", patientID: patient,
            fields: allowed ? ["code", "value"] : [], outcome: allowed ? .allow : .deny,
            ruleIDs: [allowed ? "care-team" : "default-deny"], breakGlass: breakGlass != nil,
            breakGlassReason: breakGlass, attributes: breakGlass != nil ? ["break-glass-grant": "break-glass.1"] : [:])
    }

    private static func login(_ actor: String?, ok: Bool, address: String, at time: Int64, reason: String? = nil)
        throws -> AuditEvent
    {
        try AuditEvent(
            kind: ok ? .loginSucceeded : .loginFailed, timestamp: time, actorID: actor, action: "login",
            outcome: ok ? .success : .failure, reason: reason, attributes: ["client-address": address])
    }

    private static func logout(_ actor: String, at time: Int64) throws -> AuditEvent {
        try .session(
            .sessionRevoked, userID: actor, sessionID: "sess-x", reason: "logout",
            at: Date(timeIntervalSince1970: Double(time) / 1e6))
    }

    /// One staff shift: login at `start`, reads of `patients` spread over the shift, logout at `end`.
    private static func shift(
        _ actor: String, role: String, address: String, start: Int64, end: Int64, patients: [String],
        outsiders: [String], random: inout SeededGenerator, into events: inout [AuditEvent]
    ) throws {
        if Int.random(in: 0..<20, using: &random) == 0 {
            events.append(try login(actor, ok: false, address: address, at: start - minute, reason: "wrong-password"))
        }
        events.append(try login(actor, ok: true, address: address, at: start))
        let span = end - start - 30 * minute
        for patient in patients {
            let visit = start + 10 * minute + Int64.random(in: 0..<span, using: &random)
            for (offset, type) in ["Patient", "Observation", "MedicationRequest", "Condition"].prefix(
                Int.random(in: 2...4, using: &random)
            ).enumerated() {
                events.append(
                    try access(actor, role, "read", type, patient: patient, at: visit + Int64(offset) * minute))
            }
            if Int.random(in: 0..<4, using: &random) == 0 {
                events.append(
                    try access(actor, role, "create", "Observation", patient: patient, at: visit + 5 * minute))
            }
        }
        // The odd wrong click on a patient outside the care team.
        if Int.random(in: 0..<5, using: &random) == 0, let other = outsiders.randomElement(using: &random) {
            events.append(
                try access(actor, role, "read", "Observation", patient: other, at: start + span / 2, allowed: false))
        }
        events.append(try logout(actor, at: end))
    }

    /// A normal week: 10 physicians (Mon–Fri 08–18, 30 patients each), 10 day nurses (07–19) and 6
    /// night nurses (19–07) on 10 wards, 4 receptionists (Mon–Fri 08–17, searches), and ~60 patients
    /// a day reading their own charts through the portal at any hour.
    static func normalWeek(seed: UInt64 = 2026) throws -> [AuditEvent] {
        var random = SeededGenerator(seed: seed)
        var events: [AuditEvent] = []
        let patients = (1...300).map(patient)
        func team(_ ward: Int) -> [String] { patients.enumerated().filter { $0.offset % 10 == ward }.map(\.element) }
        for dayIndex in 0..<7 {
            let midnight = weekStart + Int64(dayIndex) * day
            let weekday = dayIndex < 5
            if weekday {
                for doctor in 0..<10 {
                    let seen = team(doctor).shuffled(using: &random).prefix(Int.random(in: 12...22, using: &random))
                    try shift(
                        "user:dr-\(doctor)", role: "physician", address: "10.1.0.\(doctor + 10)",
                        start: midnight + 8 * hour, end: midnight + 18 * hour, patients: Array(seen),
                        outsiders: team((doctor + 1) % 10), random: &random, into: &events)
                }
                for desk in 0..<4 {
                    let address = "10.1.1.\(desk + 10)"
                    events.append(try login("user:desk-\(desk)", ok: true, address: address, at: midnight + 8 * hour))
                    for _ in 0..<Int.random(in: 20...35, using: &random) {
                        let time = midnight + 8 * hour + 10 * minute + Int64.random(in: 0..<(8 * hour), using: &random)
                        let who = patients.randomElement(using: &random) ?? patients[0]
                        events.append(
                            try access("user:desk-\(desk)", "receptionist", "search", "Patient", patient: who, at: time)
                        )
                    }
                    events.append(try logout("user:desk-\(desk)", at: midnight + 17 * hour))
                }
            }
            for nurse in 0..<10 {
                let seen = team(nurse).shuffled(using: &random).prefix(Int.random(in: 15...25, using: &random))
                try shift(
                    "user:rn-\(nurse)", role: "nurse", address: "10.1.2.\(nurse + 10)", start: midnight + 7 * hour,
                    end: midnight + 19 * hour, patients: Array(seen), outsiders: team((nurse + 3) % 10),
                    random: &random, into: &events)
            }
            for nurse in 0..<6 {
                let seen = team(nurse).shuffled(using: &random).prefix(Int.random(in: 5...10, using: &random))
                try shift(
                    "user:rn-night-\(nurse)", role: "nurse-night", address: "10.1.3.\(nurse + 10)",
                    start: midnight + 19 * hour, end: midnight + 31 * hour, patients: Array(seen),
                    outsiders: team((nurse + 5) % 10), random: &random, into: &events)
            }
            for visitor in patients.shuffled(using: &random).prefix(60) {
                let actor = "patient:\(visitor)"
                let time = midnight + Int64.random(in: 0..<(day - hour), using: &random)
                let address = "198.51.100.\(Int.random(in: 1...250, using: &random))"
                if Int.random(in: 0..<15, using: &random) == 0 {
                    events.append(
                        try login(actor, ok: false, address: address, at: time - minute, reason: "wrong-password"))
                }
                events.append(try login(actor, ok: true, address: address, at: time))
                for read in 0..<Int.random(in: 1...4, using: &random) {
                    events.append(
                        try access(
                            actor, "patient", "read", "Observation", patient: visitor,
                            at: time + Int64(read + 1) * minute))
                }
                events.append(try logout(actor, at: time + 10 * minute))
            }
        }
        return events
    }

    // MARK: - Planted incidents (Wednesday unless said otherwise)

    static let wednesday = weekStart + 2 * day

    /// A day nurse opens 60 distinct patients' charts in 30 minutes.
    static func bulkAccess() throws -> [AuditEvent] {
        try (1...60).map { index in
            try access(
                "user:rn-2", "nurse", "read", "Observation", patient: patient(index * 5),
                at: wednesday + 14 * hour + Int64(index) * 30_000_000)
        }
    }

    /// A receptionist reads a chart at 02:30.
    static func offHours() throws -> [AuditEvent] {
        [
            try access(
                "user:desk-1", "receptionist", "read", "Observation", patient: patient(17),
                at: wednesday + 2 * hour + 30 * minute)
        ]
    }

    /// The grant id of the planted break-glass incident.
    static let breakGlassGrant = "break-glass.1"

    /// A physician breaks the glass for a patient outside their team (invoked at 10:00), then reads
    /// four of the patient's records under that grant over the next 40 minutes.
    static func breakGlass() throws -> [AuditEvent] {
        let invoked = try AuditEvent(
            kind: .breakGlassInvoked, timestamp: wednesday + 10 * hour, actorID: "user:dr-3", actorRole: "physician",
            sessionID: "sess-user:dr-3", action: "break-glass", resourceType: "break-glass-grant",
            resourceID: breakGlassGrant, patientID: patient(5), outcome: .success, breakGlass: true,
            breakGlassReason: "ETREAT", attributes: ["break-glass-grant": breakGlassGrant])
        let types = ["MedicationRequest", "Observation", "Condition", "AllergyIntolerance"]
        return try [invoked]
            + types.enumerated().map { index, type in
                try access(
                    "user:dr-3", "physician", "read", type, patient: patient(5),
                    at: wednesday + 10 * hour + Int64(index + 1) * 10 * minute, breakGlass: "ETREAT")
            }
    }

    /// A privacy officer's review of the planted grant, `after` microseconds after the invocation.
    static func breakGlassReview(after: Int64) throws -> AuditEvent {
        try AuditEvent(
            kind: .breakGlassReviewed, timestamp: wednesday + 10 * hour + after, actorID: "user:privacy-officer",
            action: "review", resourceType: "break-glass-grant", resourceID: breakGlassGrant, outcome: .success,
            reason: "justified", attributes: ["break-glass-grant": breakGlassGrant])
    }

    /// A patient account walks through other patients' ids: 15 denials in 5 minutes.
    static func denialProbing() throws -> [AuditEvent] {
        try (1...15).map { index in
            try access(
                "patient:MRN-000042", "patient", "read", "Observation", patient: patient(100 + index),
                at: wednesday + 21 * hour + Int64(index) * 20_000_000, allowed: false)
        }
    }

    /// Eight accounts locked out within five minutes (each from its own address).
    static func lockoutSpike() throws -> [AuditEvent] {
        try (1...8).map { index in
            try login(
                "user:rn-\(index)", ok: false, address: "192.0.2.\(index)",
                at: wednesday + 3 * hour + Int64(index) * 30_000_000, reason: "locked-out")
        }
    }

    /// One address tries 25 accounts in five minutes (a few unknown ones).
    static func credentialStuffing() throws -> [AuditEvent] {
        try (1...25).map { index in
            let known = index % 5 != 0
            return try login(
                known ? "patient:\(patient(index))" : nil, ok: false, address: "203.0.113.9",
                at: wednesday + 4 * hour + Int64(index) * 10_000_000, reason: known ? "wrong-password" : "unknown-user")
        }
    }

    /// A nurse opens the restricted (VIP) patient's chart during her shift.
    static func restrictedPatient() throws -> [AuditEvent] {
        [try access("user:rn-4", "nurse", "read", "Condition", patient: "MRN-VIP-001", at: wednesday + 11 * hour)]
    }

    /// Orders events by time (stable) and numbers them as a log would.
    static func records(_ events: [AuditEvent]) -> [AuditRecord] {
        let ordered = events.enumerated().sorted {
            ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset)
        }
        return ordered.enumerated().map { index, item in
            AuditRecord(sequence: UInt64(index + 1), event: item.element, chain: [UInt8](repeating: 0, count: 32))
        }
    }

    /// Runs a detector over `records` and returns every alert, then advances to the end of the week plus two days.
    static func replay(_ records: [AuditRecord], configuration: MonitoringConfiguration) -> [SecurityAlert] {
        var monitor = SecurityMonitor(configuration: configuration)
        var alerts: [SecurityAlert] = []
        for record in records { alerts += monitor.process(record) }
        alerts += monitor.advance(to: weekStart + 9 * day)
        return alerts
    }
}
