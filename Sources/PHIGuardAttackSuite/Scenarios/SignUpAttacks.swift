// Attacks 5 and 6: a client-chosen patient id at sign-up, and the sign-up / sign-in / recovery oracles.

/// A password any reasonable policy accepts (long, mixed, not a dictionary phrase).
let strongPassword = "Vq7!-zebra-Lantern-k29-ochre-Mistral"

/// A unique login name for the scenario's throwaway accounts.
func throwawayName(_ tag: String) -> String {
    "attack-\(tag)-\(UInt32.random(in: 100_000...999_999))@example.org"
}

extension AttackScenario {
    /// Attack 5.
    static let clientChosenPatientID = AttackScenario(
        "attack-05-client-chosen-patient-id",
        "Sign-up with a client-chosen patient id: the server must assign ids and links",
        requires: [.registration]
    ) { probe in
        let fixture = probe.fixture
        let target = probe.target
        let name = throwawayName("claim")
        let registration = try await target.beginRegistration(clientAddress: "198.51.100.5")
        let completed = try await target.completeRegistration(
            registration, loginName: name, password: strongPassword, claimedPatientID: fixture.otherRecord.patientID,
            clientAddress: "198.51.100.5")
        probe.note(
            "register \(name) claiming patient \(fixture.otherRecord.patientID)", completed.description, breached: false
        )
        guard completed.isAllowed else { return .inconclusive(reason: "the registration was refused: \(completed)") }
        let outcome = try await target.signIn(
            loginName: name, password: strongPassword, clientAddress: "198.51.100.5", presenting: nil)
        let session: AttackSession
        switch outcome {
        case .authenticated(let signedIn):
            session = signedIn
        case .secondFactorRequired(let pending):
            // The app enrolled an authenticator at sign-up: pass the second factor with its code.
            probe.note("sign in as the new account", outcome.description, breached: false)
            guard let code = try await target.secondFactorCode(forRegistered: name) else {
                return .notApplicable(reason: "a new account cannot sign in without a second factor the target gives")
            }
            let second = try await target.sendSecondFactorCode(code, session: pending, clientAddress: "198.51.100.5")
            guard case .authenticated(let signedIn) = second else {
                probe.note("second factor of the new account", second.description, breached: false)
                return .inconclusive(reason: "the new account's second factor was refused: \(second)")
            }
            session = signedIn
        case .refused:
            probe.note("sign in as the new account", outcome.description, breached: false)
            return .notApplicable(reason: "a new account cannot sign in right after sign-up")
        }
        try await probe.expectRefused(
            .read(type: fixture.otherRecord.type, id: fixture.otherRecord.id), as: session, "new account")
        return nil
    }

    /// Attack 6.
    static let oracles = AttackScenario(
        "attack-06-oracles",
        "Sign-up, sign-in and recovery oracles: identical answers, comparable timing, rate limits"
    ) { probe in
        let fixture = probe.fixture
        let target = probe.target
        guard let known = fixture.oracleAccounts.first else {
            return .notApplicable(reason: "the fixture names no oracle account")
        }
        let canReset = target.capabilities.contains(.throttleReset)
        var round = 0
        // Sign-in: a known name with a wrong password against an unknown name.
        let signIn = try await compare(probe, "sign-in", rounds: canReset ? 12 : 1) { isKnown in
            round += 1
            if canReset { try await target.resetThrottling() }
            let account = fixture.oracleAccounts[round % fixture.oracleAccounts.count]
            let name = isKnown ? account.loginName : throwawayName("nobody")
            let outcome = try await target.signIn(
                loginName: name, password: "wrong password \(round)", clientAddress: "192.0.2.\(round % 250 + 1)",
                presenting: nil)
            return outcome.visible
        }
        if !canReset { probe.note("timing", "not compared: the target cannot reset its throttles", breached: false) }
        _ = signIn
        if target.capabilities.contains(.passwordRecovery) {
            _ = try await compare(probe, "recovery request", rounds: canReset ? 12 : 1) { isKnown in
                round += 1
                if canReset { try await target.resetThrottling() }
                let name = isKnown ? known.loginName : throwawayName("nobody")
                return try await target.requestPasswordRecovery(
                    loginName: name, clientAddress: "192.0.2.\(round % 250 + 1)"
                ).visible
            }
            try await expectLimited(probe, "recovery requests for unknown names from one address") {
                try await target.requestPasswordRecovery(
                    loginName: throwawayName("flood"), clientAddress: "203.0.113.61")
            }
        }
        if target.capabilities.contains(.registration) {
            _ = try await compare(probe, "registration", rounds: 1) { isKnown in
                let session = try await target.beginRegistration(clientAddress: "203.0.113.62")
                return try await target.completeRegistration(
                    session, loginName: isKnown ? known.loginName : throwawayName("new"), password: strongPassword,
                    claimedPatientID: nil, clientAddress: "203.0.113.62"
                ).visible
            }
            if canReset { try await target.resetThrottling() }
            try await expectLimited(probe, "registrations from one address") {
                let session = try await target.beginRegistration(clientAddress: "203.0.113.63")
                return try await target.completeRegistration(
                    session, loginName: throwawayName("mass"), password: strongPassword, claimedPatientID: nil,
                    clientAddress: "203.0.113.63")
            }
        }
        if canReset { try await target.resetThrottling() }
        return nil
    }

    /// Runs `attempt` for a known and an unknown name `rounds` times (alternating which goes first),
    /// notes a breach when the answers differ, and when `rounds > 1` compares the fastest run of each
    /// side: outside 0.25–4× is a timing oracle. (The fastest run is the work itself; load only adds
    /// stalls. An early return that skips the password hash is ~100× faster, far outside the band;
    /// a 0.5–2× band saw 0.48 on an honest app on a loaded 2-core machine.)
    static func compare(
        _ probe: AttackProbe, _ what: String, rounds: Int, _ attempt: (_ isKnown: Bool) async throws -> String
    ) async throws -> Bool {
        let clock = ContinuousClock()
        var knownTimes: [Duration] = []
        var unknownTimes: [Duration] = []
        var answers: (known: Set<String>, unknown: Set<String>) = ([], [])
        for index in 0..<rounds {
            for isKnown in index.isMultiple(of: 2) ? [true, false] : [false, true] {
                var answer = ""
                let elapsed = try await clock.measure { answer = try await attempt(isKnown) }
                if isKnown {
                    knownTimes.append(elapsed)
                    answers.known.insert(answer)
                } else {
                    unknownTimes.append(elapsed)
                    answers.unknown.insert(answer)
                }
            }
        }
        let same = answers.known == answers.unknown
        probe.note(
            "\(what) for a known and an unknown name",
            same
                ? "identical answers: \(answers.known.sorted())"
                : "known: \(answers.known.sorted()) unknown: \(answers.unknown.sorted())", breached: !same)
        guard rounds > 1, let fastKnown = knownTimes.min(), let fastUnknown = unknownTimes.min(),
            fastKnown > .zero
        else { return same }
        let ratio = fastUnknown / fastKnown
        let close = ratio > 0.25 && ratio < 4
        probe.note(
            "\(what) timing, fastest of \(rounds) each", "unknown/known = \((ratio * 100).rounded() / 100)",
            breached: !close)
        return same && close
    }

    /// Sends `attempt` up to 40 times; a breach if none is refused.
    static func expectLimited(_ probe: AttackProbe, _ what: String, _ attempt: () async throws -> AttackResponse)
        async throws
    {
        for count in 1...40 {
            let response = try await attempt()
            if let refusal = response.refusal {
                probe.note("\(count) \(what)", "refused: \(refusal)", breached: false)
                return
            }
        }
        probe.note("40 \(what)", "none refused: no rate limit", breached: true)
    }
}
