import Foundation
import PHIGuardTOTP
import Testing

@Suite("Enrolment: pending until one valid code")
struct EnrollmentTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("A wrong code leaves it pending; a right one activates it with that step")
    func confirm() throws {
        var enrollment = try TOTPEnrollment(issuer: "Clinic", accountName: "ana@example.org")
        #expect(enrollment.state == .pending)
        #expect(enrollment.lastAcceptedStep == nil)
        #expect(enrollment.totp.secret.byteCount == 20)
        let right = try enrollment.totp.code(at: now)
        let wrong = String(format: "%06d", (Int(right)! + 1) % 1_000_000)
        if try enrollment.totp.verify(wrong, at: now, window: 1) == nil {
            #expect(try enrollment.confirm(wrong, at: now) == false)
            #expect(enrollment.state == .pending)
        }
        #expect(try enrollment.confirm(right, at: now))
        let step = try enrollment.totp.timeStep(at: now)
        #expect(enrollment.state == .active(confirmedStep: step))
        // The confirming code cannot be used again.
        #expect(try enrollment.confirm(right, at: now) == false)
    }

    @Test("Malformed codes and labels are typed errors")
    func errors() throws {
        var enrollment = try TOTPEnrollment(issuer: nil, accountName: "bob")
        #expect(throws: TOTPError.malformedCode(.nonDigit)) { try enrollment.confirm("12a456", at: now) }
        #expect(throws: TOTPError.invalidLabel(.colonInName)) {
            try TOTPEnrollment(issuer: "A:B", accountName: "bob")
        }
        #expect(throws: TOTPError.invalidSecretBitCount(64)) {
            try TOTPEnrollment(issuer: nil, accountName: "bob", secretBitCount: 64)
        }
    }
}

@Suite("Recovery codes")
struct RecoveryCodeTests {
    @Test("Ten codes of 120 bits in six groups of four from the unambiguous alphabet, hashed")
    func generate() throws {
        let hasher = RecoveryCodeHasher()
        let codes = try hasher.generate()
        #expect(codes.count == 10)
        let alphabet = Set(RecoveryCodeHasher.alphabet)
        for code in codes {
            let text = code.reveal()
            let groups = text.split(separator: "-")
            #expect(groups.count == 6)
            #expect(groups.allSatisfy { $0.count == 4 && $0.allSatisfy { alphabet.contains($0) } })
            #expect(!text.contains { "01OI".contains($0) })
            #expect(try hasher.hash(text) == code.hash)
            #expect(code.hash.encoded.hasPrefix("rc1$"))
            #expect(try RecoveryCodeHash(encoded: code.hash.encoded) == code.hash)
            #expect(code.description == "<redacted>")
        }
        #expect(Set(codes.map { $0.reveal() }).count == 10)
    }

    @Test("Typed codes are normalised: lower case, spaces and hyphens")
    func normalise() throws {
        let hasher = RecoveryCodeHasher()
        let code = try #require(try hasher.generate(count: 1).first)
        let text = code.reveal()
        #expect(try hasher.hash(text.lowercased()) == code.hash)
        #expect(try hasher.hash(text.replacingOccurrences(of: "-", with: " ")) == code.hash)
        #expect(try hasher.hash(text.replacingOccurrences(of: "-", with: "")) == code.hash)
    }

    @Test("Each code is consumed once, atomically")
    func consume() async throws {
        let hasher = try RecoveryCodeHasher(key: [UInt8](repeating: 7, count: 32))
        let store = InMemoryRecoveryCodeStore()
        let codes = try hasher.generate()
        await store.replaceCodes(codes.map(\.hash), accountID: "a")
        #expect(await store.remainingCount(accountID: "a") == 10)
        let first = codes[3].reveal()
        #expect(try await hasher.redeem(first, accountID: "a", in: store))
        #expect(try await hasher.redeem(first, accountID: "a", in: store) == false)
        #expect(try await hasher.redeem(codes[4].reveal(), accountID: "b", in: store) == false)
        #expect(await store.remainingCount(accountID: "a") == 9)
        // 50 concurrent redemptions of one code: exactly one succeeds.
        let second = codes[5].reveal()
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 { group.addTask { try await hasher.redeem(second, accountID: "a", in: store) } }
            var count = 0
            for try await won in group where won { count += 1 }
            return count
        }
        #expect(wins == 1)
        #expect(await store.remainingCount(accountID: "a") == 8)
        // A new set replaces the old one.
        await store.replaceCodes(try hasher.generate(count: 2).map(\.hash), accountID: "a")
        #expect(try await hasher.redeem(codes[6].reveal(), accountID: "a", in: store) == false)
    }

    @Test("The key matters: another key gives other hashes")
    func keyed() throws {
        let a = try RecoveryCodeHasher(key: [UInt8](repeating: 1, count: 32))
        let b = try RecoveryCodeHasher(key: [UInt8](repeating: 2, count: 32))
        let code = try #require(try a.generate(count: 1).first)
        #expect(try a.hash(code.reveal()) == code.hash)
        #expect(try b.hash(code.reveal()) != code.hash)
        #expect(try RecoveryCodeHasher().hash(code.reveal()) != code.hash)
        #expect(throws: RecoveryCodeError.invalidKeyLength(8)) {
            try RecoveryCodeHasher(key: [UInt8](repeating: 1, count: 8))
        }
    }

    @Test(
        "Malformed codes, hashes and counts are typed errors",
        arguments: [
            "", "ABCD", "ABCD-EFGH-JKLM-NPQR-STUV-WXY0", "ABCD-EFGH-JKLM-NPQR-STUV-WXYZ-2",
            "ABCD_EFGH_JKLM_NPQR_STUV_WXYZ",
            String(repeating: "A", count: 1_000_000),
        ])
    func malformed(text: String) {
        #expect(throws: RecoveryCodeError.malformedCode) { try RecoveryCodeHasher().hash(text) }
    }

    @Test("Malformed stored hashes and counts")
    func malformedHashes() {
        for text in [
            "", "rc1$", "rc2$" + String(repeating: "A", count: 43), "rc1$" + String(repeating: "!", count: 43),
        ] {
            #expect(throws: RecoveryCodeError.malformedHash) { try RecoveryCodeHash(encoded: text) }
        }
        #expect(throws: RecoveryCodeError.invalidCount(0)) { try RecoveryCodeHasher().generate(count: 0) }
        #expect(throws: RecoveryCodeError.invalidCount(101)) { try RecoveryCodeHasher().generate(count: 101) }
    }
}

@Suite("No secret in descriptions")
struct RedactionTests {
    @Test("Secrets, URIs, codes and errors describe themselves without secret material")
    func redaction() throws {
        let secret = try TOTPSecret()
        let base32 = secret.revealBase32()
        #expect(secret.description == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains(base32))
        let totp = TOTP(secret: secret)
        var totpDump = ""
        dump(totp, to: &totpDump)
        #expect(!totpDump.contains(base32))
        let uri = OTPAuthURI(totp: totp, issuer: "Clinic", accountName: "ana@example.org")
        #expect(!uri.description.contains(base32))
        #expect(!uri.description.contains("ana"))
        #expect(!"\(uri)".contains(base32))
        let errors: [TOTPError] = [
            .malformedSecret(.invalidCharacter(offset: 3)), .malformedURI(.missingSecret), .malformedCode(.nonDigit),
        ]
        for error in errors { #expect(!error.description.contains(base32)) }
    }
}
