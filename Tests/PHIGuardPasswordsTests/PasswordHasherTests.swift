import Foundation
import Testing

@testable import PHIGuardPasswords

/// Small parameters so the suite stays fast; the production defaults are exercised by the KATs and interop.
let fastParameters = try! Argon2Parameters(memoryKiB: 256, iterations: 1, parallelism: 1)

@Suite("PasswordHasher")
struct PasswordHasherTests {
    let hasher = try! PasswordHasher(configuration: .init(parameters: fastParameters))

    @Test("hash then verify; a wrong password is invalid, not an error")
    func hashAndVerify() async throws {
        let stored = try await hasher.hash("correct horse battery staple")
        #expect(stored.hasPrefix("$argon2id$v=19$m=256,t=1,p=1$"))
        let phc = try PHCString(parsing: stored)
        #expect(phc.salt.count == 16)
        #expect(phc.hash.count == 32)
        #expect(try await hasher.verify("correct horse battery staple", against: stored) == .valid)
        #expect(try await hasher.verify("correct horse battery stapl", against: stored) == .invalid)
        #expect(try await hasher.verify("Correct horse battery staple", against: stored) == .invalid)
    }

    @Test("the default is the OWASP minimum, Argon2id v19")
    func defaults() async throws {
        let stored = try await PasswordHasher().hash("a passphrase of reasonable length")
        #expect(stored.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        #expect(Argon2Parameters.rfc9106LowMemory.description == "m=65536,t=3,p=4")
    }

    @Test("salts are fresh: the same password hashes differently")
    func freshSalts() async throws {
        let first = try await hasher.hash("same")
        let second = try await hasher.hash("same")
        #expect(first != second)
    }

    @Test("NFKC: composed and decomposed spellings, and compatibility forms, verify alike")
    func normalization() async throws {
        let composed = "p\u{00E4}ssw\u{00F6}rd"  // ä, ö as single code points
        let decomposed = "pa\u{0308}sswo\u{0308}rd"  // a + combining diaeresis
        let stored = try await hasher.hash(composed)
        #expect(try await hasher.verify(decomposed, against: stored) == .valid)
        let ligature = try await hasher.hash("\u{FB01}le")  // "ﬁle" with the fi ligature
        #expect(try await hasher.verify("file", against: ligature) == .valid)
    }

    @Test("input rules: empty and over-long passwords are typed errors; 1,024 bytes is fine")
    func inputRules() async throws {
        await #expect(throws: PasswordHashingError.emptyPassword) { try await hasher.hash("") }
        await #expect(throws: PasswordHashingError.passwordTooLong(maximumUTF8Bytes: 1_024)) {
            try await hasher.hash(String(repeating: "a", count: 1_025))
        }
        // 1,000 bytes that NFKC expands past the limit: U+FDFA becomes 18 code points (33 bytes).
        await #expect(throws: PasswordHashingError.passwordTooLong(maximumUTF8Bytes: 1_024)) {
            try await hasher.hash(String(repeating: "\u{FDFA}", count: 100))
        }
        let longest = String(repeating: "b", count: 1_024)
        let stored = try await hasher.hash(longest)
        #expect(try await hasher.verify(longest, against: stored) == .valid)
        // Never truncated: a password sharing the first 1,023 bytes does not verify.
        #expect(try await hasher.verify(String(repeating: "b", count: 1_023) + "c", against: stored) == .invalid)
        await #expect(throws: PasswordHashingError.emptyPassword) { try await hasher.verify("", against: stored) }
    }

    @Test(
        "custom parameters are validated",
        arguments: [
            (UInt32(7), UInt32(1), UInt32(1)), (64, 0, 1), (64, 1, 0), (64, 65, 1), (4_194_304, 1, 1),
            (1_000, 2, 10_000),
            (2_097_152, 3, 1),
        ])
    func parameterBounds(memory: UInt32, iterations: UInt32, parallelism: UInt32) {
        #expect(throws: PasswordHashingError.self) {
            try Argon2Parameters(memoryKiB: memory, iterations: iterations, parallelism: parallelism)
        }
    }

    @Test("weaker parameters, older algorithms and versions verify but ask for a rehash")
    func rehash() async throws {
        let weak = try PasswordHasher(
            configuration: .init(parameters: try Argon2Parameters(memoryKiB: 128, iterations: 1, parallelism: 1)))
        let stored = try await weak.hash("migrate me")
        #expect(try await hasher.verify("migrate me", against: stored) == .validNeedsRehash([.parameters]))
        #expect(try await weak.verify("migrate me", against: stored) == .valid)
        // A stronger stored hash does not need a rehash.
        let strong = try PasswordHasher(
            configuration: .init(parameters: try Argon2Parameters(memoryKiB: 512, iterations: 2, parallelism: 1)))
        #expect(try await hasher.verify("migrate me", against: try await strong.hash("migrate me")) == .valid)
        // argon2i, version 16, 8-byte salt (from src/test.c).
        let legacy = "$argon2i$m=256,t=2,p=1$c29tZXNhbHQ$/U3YPXYsSb3q9XxHvc0MLxur+GP960kN9j7emXX8zwY"
        #expect(
            try await hasher.verify("password", against: legacy)
                == .validNeedsRehash([.algorithm, .version, .saltOrHashLength]))
    }

    @Test("peppers: rotation asks for a rehash, unknown ids are errors, a pepper is required to verify")
    func peppers() async throws {
        let p1 = try PasswordPepper.generate(id: "p1")
        let p2 = try PasswordPepper.generate(id: "p2")
        let withP1 = try PasswordHasher(
            configuration: .init(parameters: fastParameters, peppers: try PepperRing(current: p1)))
        let withP2 = try PasswordHasher(
            configuration: .init(parameters: fastParameters, peppers: try PepperRing(current: p2, retired: [p1])))
        let onlyP2 = try PasswordHasher(
            configuration: .init(parameters: fastParameters, peppers: try PepperRing(current: p2)))

        let stored = try await withP1.hash("peppered")
        #expect(try PHCString(parsing: stored).pepperID == "p1")
        #expect(try await withP1.verify("peppered", against: stored) == .valid)
        #expect(try await withP2.verify("peppered", against: stored) == .validNeedsRehash([.pepper]))
        await #expect(throws: PasswordHashingError.unknownPepper(id: "p1")) {
            try await onlyP2.verify("peppered", against: stored)
        }
        await #expect(throws: PasswordHashingError.unknownPepper(id: "p1")) {
            try await hasher.verify("peppered", against: stored)
        }
        // The pepper really is an input: the same PHC string with its keyid removed no longer verifies.
        let stripped = stored.replacingOccurrences(of: ",keyid=cDE", with: "")
        #expect(try await hasher.verify("peppered", against: stripped) == .invalid)
        // Unpeppered hashes verify under a ring but ask to be re-made with the current pepper.
        let plain = try await hasher.hash("plain")
        #expect(try await withP2.verify("plain", against: plain) == .validNeedsRehash([.pepper]))
    }

    @Test("pepper validation and redaction")
    func pepperValidation() throws {
        var short = [UInt8](repeating: 7, count: 15)
        #expect(throws: PasswordHashingError.self) { try PasswordPepper(id: "ok", bytes: &short) }
        #expect(short.allSatisfy { $0 == 0 }, "the caller's copy is zeroed even on failure")
        var bytes = [UInt8](repeating: 0x41, count: 32)
        #expect(throws: PasswordHashingError.self) { try PasswordPepper(id: "too-long-id", bytes: &bytes) }
        var good = [UInt8](repeating: 0x41, count: 32)
        let pepper = try PasswordPepper(id: "v1", bytes: &good)
        #expect(good.allSatisfy { $0 == 0 })
        #expect(!"\(pepper)".contains("AAAA"))
        #expect(throws: PasswordHashingError.self) { try PepperRing(current: pepper, retired: [pepper]) }
    }

    @Test("unknown accounts: same answer as a wrong password")
    func unknownAccount() async throws {
        #expect(await hasher.verifyUnknownAccount("anything") == .invalid)
        #expect(await hasher.verifyUnknownAccount("") == .invalid)
    }

    @Test("200 concurrent verifies with a budget of 4 never run more than 4 Argon2 computations at once")
    func memoryBudget() async throws {
        let budgeted = try PasswordHasher(
            configuration: .init(
                parameters: try Argon2Parameters(memoryKiB: 1_024, iterations: 1, parallelism: 1),
                maximumConcurrentHashes: 4))
        let stored = try await budgeted.hash("budget")
        let results = try await withThrowingTaskGroup(of: PasswordVerification.self) { group in
            for index in 0..<200 {
                group.addTask { try await budgeted.verify(index % 2 == 0 ? "budget" : "wrong", against: stored) }
            }
            return try await group.reduce(into: [PasswordVerification]()) { $0.append($1) }
        }
        #expect(results.filter { $0 == .valid }.count == 100)
        #expect(results.filter { $0 == .invalid }.count == 100)
        #expect(budgeted.peakConcurrentHashes <= 4)
        #expect(budgeted.peakConcurrentHashes >= 2, "the requests did run in parallel")
    }

    @Test("a full queue answers overloaded instead of growing without bound")
    func overload() async throws {
        let tiny = try PasswordHasher(
            configuration: .init(
                parameters: try Argon2Parameters(memoryKiB: 8_192, iterations: 2, parallelism: 1),
                maximumConcurrentHashes: 1, maximumQueuedRequests: 1))
        let outcomes = await withTaskGroup(of: PasswordHashingError?.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    do {
                        _ = try await tiny.hash("queue")
                        return nil
                    } catch {
                        return error as? PasswordHashingError ?? .secureMemoryFailure("unexpected \(error)")
                    }
                }
            }
            return await group.reduce(into: [PasswordHashingError?]()) { $0.append($1) }
        }
        let overloaded = PasswordHashingError.overloaded
        #expect(outcomes.contains { $0 == overloaded })
        #expect(outcomes.contains { $0 == nil })
        #expect(outcomes.allSatisfy { $0 == nil || $0 == overloaded })
    }

    @Test("a cancelled task's queued request is dropped with .cancelled")
    func cancellation() async throws {
        let single = try PasswordHasher(
            configuration: .init(
                parameters: try Argon2Parameters(memoryKiB: 65_536, iterations: 3, parallelism: 1),
                maximumConcurrentHashes: 1))
        let blocker = Task { try await single.hash("first") }
        try await Task.sleep(for: .milliseconds(20))
        let queued = Task { try await single.hash("second") }
        queued.cancel()
        await #expect(throws: PasswordHashingError.cancelled) { try await queued.value }
        _ = try await blocker.value
    }

    @Test("errors never contain the password")
    func errorsAreSafe() async throws {
        let secret = "hunter2-" + String(repeating: "z", count: 1_020)
        do {
            _ = try await hasher.hash(secret)
            Issue.record("expected an error")
        } catch {
            #expect(!error.description.contains("hunter2"))
            #expect(!"\(error)".contains("hunter2"))
        }
    }
}

@Suite("PasswordPolicy")
struct PasswordPolicyTests {
    let policy = PasswordPolicy(blocklist: ["Password123456789", "correcthorsebatterystaple"])

    @Test("SP 800-63B lengths: 15 alone, 8 with MFA, counted in code points")
    func lengths() {
        #expect(policy.violations(of: "short-pw", usage: .withMultiFactor).isEmpty)
        #expect(policy.violations(of: "short-pw", usage: .singleFactor) == [.tooShort(minimum: 15)])
        #expect(policy.violations(of: "seven77", usage: .withMultiFactor) == [.tooShort(minimum: 8)])
        // 8 code points, 16 UTF-8 bytes: long enough with MFA.
        #expect(policy.violations(of: "ääääääää", usage: .withMultiFactor).isEmpty)
        #expect(policy.violations(of: "", usage: .withMultiFactor) == [.tooShort(minimum: 8)])
        #expect(policy.violations(of: String(repeating: "x", count: 2_000), usage: .singleFactor) == [.tooLong])
    }

    @Test("no composition rules; blocklist and context words are case-insensitive")
    func blocklist() {
        #expect(policy.violations(of: "all lower case words here", usage: .singleFactor).isEmpty)
        #expect(policy.violations(of: "PASSWORD123456789", usage: .singleFactor) == [.blocklisted])
        #expect(
            policy.violations(of: "my name is alice smith!", usage: .singleFactor, contextWords: ["Alice"])
                == [.containsContextWord])
    }
}
