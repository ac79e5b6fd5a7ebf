import Foundation
import PHIGuardAuthentication
import PHIGuardRateLimit
import Synchronization
import Testing

/// SplitMix64: seeded, so a failing case is reproducible from the seed in the test.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}

/// A real in-memory lockout store that also records the key of every attempt the flow admits.
final class KeyRecordingLockoutStore: LockoutStore {
    let inner: InMemoryLockoutStore
    let keys = Mutex<[String]>([])
    init(_ inner: InMemoryLockoutStore) { self.inner = inner }

    func admitAttempt(account: String, address: String) async throws(RateLimitError) -> LockoutAdmission {
        keys.withLock { $0.append(account) }
        return inner.admitAttempt(account: account, address: address)
    }
    func gate(account: String, address: String) async throws(RateLimitError) -> LoginGate {
        keys.withLock { $0.append(account) }
        return inner.gate(account: account, address: address)
    }
    func recordFailure(account: String, address: String) async throws(RateLimitError) -> LockoutEvent {
        inner.recordFailure(account: account, address: address)
    }
    func recordSuccess(account: String) async throws(RateLimitError) { inner.recordSuccess(account: account) }
}

/// Random login names and the spellings of each that must reach the same account.
enum NameVariants {
    static let letters = Array("abcdefghijklmnopqrstuvwxyzéüñøçå")
    static let others = Array("0123456789.-_")
    static let spaces = [" ", "\u{00A0}", "\u{3000}", "\t", "\u{2003}", "\u{202F}"]

    static func randomName(using generator: inout SeededGenerator) -> String {
        let length = Int.random(in: 3...12, using: &generator)
        var name = String(letters.randomElement(using: &generator)!)
        for _ in 1..<length {
            name.append(
                Bool.random(using: &generator)
                    ? letters.randomElement(using: &generator)! : others.randomElement(using: &generator)!)
        }
        return name
    }

    /// Fullwidth forms of the ASCII characters (U+FF01…U+FF5E); others unchanged.
    static func fullwidth(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if (0x21...0x7E).contains(scalar.value), let wide = Unicode.Scalar(scalar.value + 0xFEE0) {
                scalars.append(wide)
            } else {
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    static func variants(of name: String, using generator: inout SeededGenerator) -> [String] {
        func space() -> String { spaces.randomElement(using: &generator)! }
        let mixedCase = String(
            name.map { Bool.random(using: &generator) ? Character($0.uppercased()) : $0 })
        return [
            name, name.uppercased(), mixedCase, fullwidth(name), name.decomposedStringWithCanonicalMapping,
            " " + name, name + "  ", "\u{00A0}" + name, name + "\u{3000}", space() + name + space() + space(),
            space() + fullwidth(mixedCase).decomposedStringWithCanonicalMapping + space(),
        ]
    }
}

@Suite("One canonical login name: lookup, lockout and registration agree")
struct LoginNameTests {
    @Test("RFC 8265 mappings: case, width, NFC/NFD and white space at either end give one canonical form")
    func mappings() throws {
        for spelling in [
            "alice", " alice", "alice  ", "ALICE", "Alice", "\u{00A0}alice", "alice\u{3000}", "\talice\n",
            "ａｌｉｃｅ", "ＡＬＩＣＥ",
        ] {
            #expect(try LoginName(spelling).value == "alice", "\(spelling.unicodeScalars.map(\.value))")
        }
        #expect(try LoginName("Ame\u{301}lie").value == "am\u{E9}lie")
        #expect(try LoginName("am\u{E9}lie").throttleKey == (try LoginName("AME\u{301}LIE")).throttleKey)
        #expect(try LoginName("pat@example.org").value == "pat@example.org")
        #expect(LoginName(canonical: "alice")?.value == "alice")
        #expect(LoginName(canonical: "Alice") == nil)
    }

    @Test(
        "refused with a typed error: inner white space, default-ignorables, controls, symbols, empty, too long",
        arguments: [
            ("ali ce", LoginNameError.innerWhiteSpace), ("ali\u{00A0}ce", .innerWhiteSpace),
            ("ali\u{3000}ce", .innerWhiteSpace), ("ali\u{200B}ce", .defaultIgnorableCodePoint),
            ("ali\u{200D}ce", .defaultIgnorableCodePoint), ("ali\u{00AD}ce", .defaultIgnorableCodePoint),
            ("\u{FEFF}alice", .defaultIgnorableCodePoint), ("alice\u{FE0F}", .defaultIgnorableCodePoint),
            ("alice\u{200B}", .defaultIgnorableCodePoint), ("ali\u{7}ce", .controlCharacter),
            ("ali\u{7F}ce", .controlCharacter),
            ("ali\u{202E}ce", .defaultIgnorableCodePoint), ("alice\u{2603}", .disallowedCharacter),
            ("ali\u{E000}ce", .disallowedCharacter), ("", .empty), (" \u{3000}\t", .empty),
            (String(repeating: "a", count: 257), .tooLong(maximum: 256)),
            (String(repeating: "a", count: 5_000), .tooLong(maximum: 256)),
        ])
    func refusals(input: String, expected: LoginNameError) {
        #expect(throws: expected) { try LoginName(input) }
    }

    @Test("property: every spelling of 500 random names canonicalises to the name's own canonical form")
    func canonicalFormProperty() throws {
        var generator = SeededGenerator(state: 0x5EED_0015)
        for _ in 0..<500 {
            let name = NameVariants.randomName(using: &generator)
            let canonical = try LoginName(name)
            #expect(canonical.value == name.precomposedStringWithCanonicalMapping)
            for variant in NameVariants.variants(of: name, using: &generator) {
                let spelled = try LoginName(variant)
                #expect(spelled == canonical, "\(variant.unicodeScalars.map(\.value)) vs \(name)")
                #expect(spelled.throttleKey == canonical.throttleKey)
            }
        }
    }

    @Test(
        "property: spellings that reach one account share one lockout counter (through LoginFlow, 40 random names)"
    )
    func sharedLockoutCounterProperty() async throws {
        var generator = SeededGenerator(state: 0x10C0_0715)
        for round in 0..<40 {
            let name = NameVariants.randomName(using: &generator)
            let variants = NameVariants.variants(of: name, using: &generator)
            let clock = ManualClock()
            // No delays until the lock: the lock comes after exactly one failure per spelling.
            let policy = try LockoutPolicy(
                freeFailures: variants.count - 1, maximumConsecutiveFailures: variants.count,
                lockoutDuration: .seconds(900))
            let store = KeyRecordingLockoutStore(InMemoryLockoutStore(policy: policy, clock: clock))
            let harness = try Harness(
                throttle: store, rateLimits: LoginFlow.RateLimits(perAddress: nil, global: nil), memoryKiB: 64)
            try await harness.addAccount(name, id: "acct-\(round)")
            let expectedKey = try LoginName(name).throttleKey
            // Every spelling reaches the account (the right password gets to the second factor)…
            for variant in variants {
                let progress = try await harness.flow.signIn(
                    loginName: variant, password: Harness.password, clientAddress: "203.0.113.5")
                guard case .awaitingSecondFactor = progress else {
                    Issue.record("\(variant.unicodeScalars.map(\.value)) did not reach the account")
                    continue
                }
            }
            // …and each is counted under the canonical name's one key…
            let keys = Set(store.keys.withLock { $0 })
            #expect(keys == [expectedKey], "name \(name.unicodeScalars.map(\.value)): keys \(keys)")
            // …so one wrong guess per spelling adds up to the lock, which then holds for every spelling.
            for variant in variants {
                await #expect(throws: AuthenticationError.rejected) {
                    try await harness.flow.signIn(loginName: variant, password: "wrong", clientAddress: "203.0.113.5")
                }
            }
            for variant in variants {
                do {
                    _ = try await harness.flow.signIn(
                        loginName: variant, password: Harness.password, clientAddress: "203.0.113.5")
                    Issue.record("\(variant.unicodeScalars.map(\.value)) escaped the lock on \(name)")
                } catch AuthenticationError.tryLater(retryAfter: _) {
                    // held back: the counter was shared
                } catch {
                    Issue.record("unexpected \(error)")
                }
            }
        }
    }

    @Test("a name that cannot be canonicalised is answered like an unknown account, and counted")
    func invalidNameAtSignIn() async throws {
        let policy = try LockoutPolicy(freeFailures: 2, maximumConsecutiveFailures: 3, lockoutDuration: .seconds(600))
        let harness = try Harness(lockout: policy, rateLimits: LoginFlow.RateLimits(perAddress: nil, global: nil))
        try await harness.addAccount("alice", id: "acct-alice")
        func answer(_ name: String, _ password: String, address: String = "192.0.2.7") async -> String {
            do {
                let progress = try await harness.flow.signIn(
                    loginName: name, password: password, clientAddress: address)
                return "\(progress)"
            } catch { return "\(error)" }
        }
        var invalid: [String] = []
        var unknown: [String] = []
        for _ in 0..<4 {
            invalid.append(await answer("ali\u{200B}ce", Harness.password))
            unknown.append(await answer("nobody", Harness.password))
        }
        #expect(invalid == unknown)
        #expect(invalid.prefix(3).allSatisfy { $0 == "\(AuthenticationError.rejected)" })
        #expect(invalid.last?.hasPrefix("too many attempts") == true)
        // The invisible character does not reach alice's account, nor its counter.
        #expect(await answer("alice", Harness.password, address: "192.0.2.8").hasPrefix("awaitingSecondFactor"))
    }

    @Test("the skeleton maps the documented look-alikes")
    func skeletons() throws {
        let alice = try LoginName("alice").skeleton
        for lookAlike in ["\u{430}lice", "al\u{456}ce", "al\u{131}ce", "a1ice", "a|ice", "alic\u{435}"] {
            #expect(try LoginName(lookAlike).skeleton == alice, "\(lookAlike.unicodeScalars.map(\.value))")
        }
        #expect(try LoginName("rnary").skeleton == (try LoginName("mary")).skeleton)
        #expect(try LoginName("b0b").skeleton == (try LoginName("bob")).skeleton)
        #expect(try LoginName("\u{441}\u{43E}\u{440}").skeleton == "cop")  // all-Cyrillic "сор"
        #expect(try LoginName("alice").skeleton != (try LoginName("alina")).skeleton)
    }

    @Test(
        "mixed scripts are refused at registration",
        arguments: ["p\u{430}ypal", "\u{3B1}lice", "ali\u{441}e", "\u{7530}\u{4E2D}taro"])
    func mixedScripts(name: String) throws {
        #expect(throws: LoginNameError.mixedScripts) { try LoginName(name).checkRegistrable() }
    }

    @Test(
        "single-script names, with digits and punctuation, are registrable",
        arguments: [
            "alice", "dr.grey-2", "\u{43C}\u{430}\u{448}\u{430}", "\u{3B5}\u{3BB}\u{3AD}\u{3BD}\u{3B7}",
            "\u{7530}\u{4E2D}", "am\u{E9}lie_1",
        ])
    func singleScript(name: String) throws {
        try LoginName(name).checkRegistrable()
    }
}
