// Attacks 11–13: brute force on one account, credential stuffing from one address, TOTP replay.

extension AttackScenario {
    /// Spellings of a login name that should count as the same name: case, full width, whitespace.
    static func nameVariants(_ name: String) -> [String] {
        let fullWidth = String(
            String.UnicodeScalarView(
                name.unicodeScalars.map { scalar in
                    (0x21...0x7E).contains(scalar.value)
                        ? Unicode.Scalar(scalar.value + 0xFEE0) ?? scalar : scalar
                }))
        return [
            name, name.uppercased(), fullWidth, " \(name)", "\(name)\t", name.prefix(1).uppercased() + name.dropFirst(),
        ]
    }

    /// Attack 11.
    static let bruteForce = AttackScenario(
        "attack-11-brute-force",
        "Brute force on one account with name variants and rotating addresses: locked within 100 failures"
    ) { probe in
        let victim = probe.fixture.bruteForceVictim
        let variants = nameVariants(victim.loginName)
        // SP 800-63B §5.2.2 lets an account take at most 100 consecutive failures before it locks.
        let attempts = 100
        var held = 0
        for attempt in 0..<attempts {
            let outcome = try await probe.target.signIn(
                loginName: variants[attempt % variants.count], password: "guess-\(attempt)",
                clientAddress: "10.\(attempt / 250).\(attempt % 250).9", presenting: nil)
            if outcome.session != nil {
                probe.note("guess \(attempt + 1)", outcome.description, breached: true)
            } else {
                held += 1
            }
        }
        probe.note(
            "\(attempts) wrong passwords, name variants, \(attempts) addresses", "\(held) refused", breached: false)
        let right = try await probe.target.signIn(
            loginName: victim.loginName, password: victim.password, clientAddress: "10.9.9.9", presenting: nil)
        probe.note(
            "then the right password from a fresh address", right.description, breached: right.session != nil)
        return nil
    }

    /// Attack 12.
    static let credentialStuffing = AttackScenario(
        "attack-12-credential-stuffing", "Credential stuffing across many accounts from one address: throttled"
    ) { probe in
        let patient = probe.fixture.patient
        let address = "203.0.113.99"
        for attempt in 0..<40 {
            let outcome = try await probe.target.signIn(
                loginName: throwawayName("stuffed\(attempt)"), password: "Password\(attempt)!", clientAddress: address,
                presenting: nil)
            if outcome.session != nil { probe.note("stuffed pair \(attempt + 1)", outcome.description, breached: true) }
        }
        let right = try await probe.target.signIn(
            loginName: patient.loginName, password: patient.password, clientAddress: address, presenting: nil)
        probe.note(
            "40 leaked pairs from \(address), then a valid pair from the same address", right.description,
            breached: right.session != nil)
        return nil
    }

    /// Attack 13.
    static let totpReplay = AttackScenario(
        "attack-13-totp-replay", "A TOTP code replayed in the same and in a second session"
    ) { probe in
        let fixture = probe.fixture
        guard let account = [fixture.clinician, fixture.patient].first(where: \.hasSecondFactor) else {
            return .notApplicable(reason: "no fixture account has a second factor")
        }
        let target = probe.target
        func password() async throws -> AttackSession? {
            let outcome = try await target.signIn(
                loginName: account.loginName, password: account.password, clientAddress: "198.51.100.13",
                presenting: nil)
            if case .secondFactorRequired(let pending) = outcome { return pending }
            probe.note("password of \(account.loginName)", outcome.description, breached: false)
            return nil
        }
        guard let first = try await password() else { return .inconclusive(reason: "the password step was refused") }
        let code = try await target.currentSecondFactorCode(for: account)
        let accepted = try await target.sendSecondFactorCode(code, session: first, clientAddress: "198.51.100.13")
        probe.note("a fresh code", accepted.description, breached: false)
        guard case .authenticated = accepted else { return .inconclusive(reason: "a fresh code was refused") }
        let again = try await target.sendSecondFactorCode(code, session: first, clientAddress: "198.51.100.13")
        probe.note("the same code on the same (now rotated) session", again.description, breached: again.session != nil)
        guard let second = try await password() else { return .inconclusive(reason: "the password step was refused") }
        let replay = try await target.sendSecondFactorCode(code, session: second, clientAddress: "198.51.100.14")
        probe.note("the same code in a second session", replay.description, breached: replay.session != nil)
        return nil
    }
}
