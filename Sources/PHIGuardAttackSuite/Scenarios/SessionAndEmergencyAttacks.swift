// Attacks 18 and 19: break-glass misuse; session fixation, dead tokens and edited session rows.

extension AttackScenario {
    /// Attack 18.
    static let breakGlassMisuse = AttackScenario(
        "attack-18-break-glass-misuse",
        "Break-glass without a justification, for another patient than granted, after sign-out, by a role not allowed",
        requires: [.breakGlass]
    ) { probe in
        let fixture = probe.fixture
        let target = probe.target
        guard let emergency = fixture.emergencyUser else {
            return .notApplicable(reason: "the fixture names no user allowed to break the glass")
        }
        guard let session = try await probe.signIn(emergency) else {
            return .inconclusive(reason: "the emergency user could not sign in")
        }
        let other = RecordOperation.read(type: fixture.otherRecord.type, id: fixture.otherRecord.id)
        let own = RecordOperation.read(type: fixture.ownRecord.type, id: fixture.ownRecord.id)
        let before = try await target.perform(other, as: session)
        probe.note(
            "emergency user reads the other record before any grant (control)", before.description, breached: false)
        guard !before.isAllowed else {
            return .inconclusive(reason: "the emergency user can read the record without a grant")
        }
        let patientID = fixture.otherRecord.patientID
        for justification in ["", "   "] {
            probe.expectRefused(
                "break the glass for \(patientID) with justification \(justification.debugDescription)",
                try await target.breakGlass(
                    patientID: patientID, reason: "emergency", justification: justification, as: session))
        }
        let granted = try await target.breakGlass(
            patientID: patientID, reason: "emergency", justification: "Unconscious in the ED; allergy check needed",
            as: session)
        probe.note("break the glass for \(patientID) with a justification", granted.description, breached: false)
        guard granted.isAllowed else { return .inconclusive(reason: "a justified break-glass was refused") }
        let during = try await target.perform(other, as: session)
        probe.note("read the granted patient's record (control)", during.description, breached: false)
        try await probe.expectRefused(own, as: session, "emergency user, grant for \(patientID) only")
        if let patient = try await probe.signIn(fixture.patient) {
            probe.expectRefused(
                "patient: break the glass for \(patientID)",
                try await target.breakGlass(
                    patientID: patientID, reason: "emergency", justification: "A patient trying this", as: patient))
        }
        try await target.signOut(session)
        try await probe.expectRefused(other, as: session, "the signed-out session")
        if let again = try await probe.signIn(emergency) {
            try await probe.expectRefused(other, as: again, "a new session of the same user (grant not re-invoked)")
        }
        return nil
    }

    /// Attack 19.
    static let sessionAttacks = AttackScenario(
        "attack-19-session-attacks",
        "Session fixation, a token after sign-out or password change, a session row edited in the database"
    ) { probe in
        let fixture = probe.fixture
        let target = probe.target
        let patient = fixture.patient
        let own = RecordOperation.read(type: fixture.ownRecord.type, id: fixture.ownRecord.id)
        let other = RecordOperation.read(type: fixture.otherRecord.type, id: fixture.otherRecord.id)

        // Fixation: the victim signs in presenting a session the attacker obtained.
        let planted =
            target.capabilities.contains(.registration)
            ? try await target.beginRegistration(clientAddress: "198.51.100.19")
            : AttackSession(token: "attacker-chosen-session-value-0000000000")
        let outcome = try await target.signIn(
            loginName: patient.loginName, password: patient.password, clientAddress: "198.51.100.19",
            presenting: planted)
        probe.note(
            "victim signs in presenting an attacker's session", outcome.session == planted ? "kept it" : "new session",
            breached: outcome.session == planted)
        if case .secondFactorRequired(let pending) = outcome {
            let code = try await target.currentSecondFactorCode(for: patient)
            let done = try await target.sendSecondFactorCode(code, session: pending, clientAddress: "198.51.100.19")
            probe.note(
                "second factor", done.session == planted ? "kept the planted session" : done.description,
                breached: done.session == planted)
        }
        try await probe.expectRefused(own, as: planted, "the attacker's planted session")

        // Sign-out.
        guard let signedOut = try await probe.signIn(patient) else {
            return .inconclusive(reason: "the fixture patient could not sign in")
        }
        try await target.signOut(signedOut)
        try await probe.expectRefused(own, as: signedOut, "a session after sign-out")

        // Password change ends the other sessions.
        if target.capabilities.contains(.passwordChange), let first = try await probe.signIn(patient),
            let second = try await probe.signIn(patient)
        {
            let changed = try await target.changePassword(second, current: patient.password, new: strongPassword)
            probe.note("change the password in a second session", changed.description, breached: false)
            if case .authenticated(let rotated) = changed {
                try await probe.expectRefused(own, as: first, "the other session after a password change")
                let back = try await target.changePassword(rotated, current: strongPassword, new: patient.password)
                probe.note("change the password back (fixture)", back.description, breached: false)
                guard back.session != nil else {
                    return .inconclusive(reason: "could not restore the fixture password")
                }
            }
        }

        // A session row edited in the database. No `admin` among the claimed roles: policies commonly
        // deny admins PHI outright, which would refuse the read even if the edited row were believed.
        if let storage = target.storage, let session = try await probe.signIn(patient) {
            let layout = storage.layout
            _ = try await storage.execute(
                "UPDATE \(layout.sessionTable) SET \(layout.sessionRolesColumn) = \(storage.placeholder(1)), "
                    + "\(layout.sessionPatientColumn) = \(storage.placeholder(2))",
                [storage.rolesValue(["patient", "physician", "auditor"]), .text(fixture.otherRecord.patientID)])
            try await probe.expectRefused(
                other, as: session,
                "a session whose row now claims staff roles and patient \(fixture.otherRecord.patientID)")
        }
        return nil
    }
}
