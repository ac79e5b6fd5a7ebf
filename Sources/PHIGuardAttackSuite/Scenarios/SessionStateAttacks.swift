// Attacks 1–4: PHI requested from a session that is not signed in (registration, recovery,
// second-factor pending), the OpenEMR CVE-2018-15152 family.

extension AttackScenario {
    /// Every read (and list) of the fixture's records, own and other.
    static func phiRequests(_ probe: AttackProbe) -> [RecordOperation] {
        let fixture = probe.fixture
        var operations: [RecordOperation] = [
            .read(type: fixture.ownRecord.type, id: fixture.ownRecord.id),
            .read(type: fixture.otherRecord.type, id: fixture.otherRecord.id),
        ]
        if probe.target.capabilities.contains(.recordList) {
            operations.append(.list(type: fixture.ownRecord.type))
        }
        return operations
    }

    /// Attack 1.
    static let registrationBypass = AttackScenario(
        "attack-01-registration-bypass",
        "Registration bypass (OpenEMR CVE-2018-15152): a sign-up session requests PHI",
        requires: [.registration]
    ) { probe in
        let session = try await probe.target.beginRegistration(clientAddress: "198.51.100.1")
        for operation in phiRequests(probe) {
            try await probe.expectRefused(operation, as: session, "registration session")
        }
        return nil
    }

    /// Attack 2.
    static let recoverySessionReadsPHI = AttackScenario(
        "attack-02-recovery-session-phi", "A password-recovery session requests PHI", requires: [.passwordRecovery]
    ) { probe in
        let patient = probe.fixture.patient
        probe.note(
            "request a recovery link for the fixture patient",
            try await probe.target.requestPasswordRecovery(loginName: patient.loginName, clientAddress: "198.51.100.2")
                .description, breached: false)
        guard let session = try await probe.target.openRecoveryLink(for: patient) else {
            return .inconclusive(reason: "the target returned no recovery link for the fixture patient")
        }
        for operation in phiRequests(probe) {
            try await probe.expectRefused(operation, as: session, "recovery session")
        }
        return nil
    }

    /// Attack 3.
    static let pendingSecondFactorReadsPHI = AttackScenario(
        "attack-03-mfa-pending-phi", "A session waiting for its second factor requests PHI"
    ) { probe in
        let fixture = probe.fixture
        guard let account = [fixture.patient, fixture.clinician].first(where: \.hasSecondFactor) else {
            return .notApplicable(reason: "no fixture account has a second factor")
        }
        let outcome = try await probe.target.signIn(
            loginName: account.loginName, password: account.password, clientAddress: "198.51.100.3", presenting: nil)
        guard case .secondFactorRequired(let pending) = outcome else {
            probe.note("password of \(account.loginName)", outcome.description, breached: outcome.session != nil)
            return outcome.session == nil
                ? .inconclusive(reason: "the password step was refused") : probe.verdict
        }
        for operation in phiRequests(probe) {
            try await probe.expectRefused(operation, as: pending, "second-factor-pending session")
        }
        return nil
    }

    /// Attack 4.
    static let registrationSessionByID = AttackScenario(
        "attack-04-registration-session-verbs",
        "A sign-up session reads, updates or deletes a patient's record by id (every verb)",
        requires: [.registration]
    ) { probe in
        let fixture = probe.fixture
        let session = try await probe.target.beginRegistration(clientAddress: "198.51.100.4")
        for record in [fixture.otherRecord, fixture.ownRecord] {
            for operation in probe.verbs(on: record, field: fixture.clinicalField) {
                try await probe.expectRefused(operation, as: session, "registration session")
            }
        }
        return nil
    }
}
