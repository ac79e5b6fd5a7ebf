// A small tour of PHIGuard's password hashing, run by `make demo` until the patient-portal demo lands.
import Foundation
import PHIGuardPasswords

@main
struct PasswordDemo {
    static func main() async {
        do {
            try await run()
        } catch {
            print("demo failed: \(error)")
            exit(1)
        }
    }

    static func run() async throws {
        let hasher = try PasswordHasher()  // OWASP minimum: Argon2id, m=19456 KiB, t=2, p=1; 4 hashes at once
        let clock = ContinuousClock()
        print("PHIGuard password demo (Argon2id via libargon2, \(hasher.configuration.parameters))\n")

        let password = "correct horse battery staple"
        let stored = try await hasher.hash(password)
        print("1. Hashed a password. What you store (hash redacted here, as PHIGuard logs it):")
        print("   \(try PHCString(parsing: stored))\n")

        print("2. Right password   → \(try await hasher.verify(password, against: stored))")
        print("   Wrong password   → \(try await hasher.verify("correct horse battery stapler", against: stored))")
        print(
            "   Unknown account  → \(await hasher.verifyUnknownAccount(password)), after a dummy verify of the same cost"
        )
        var known: [Duration] = []
        var unknown: [Duration] = []
        for _ in 0..<5 {
            known.append(try await clock.measure { _ = try await hasher.verify("a guess", against: stored) })
            unknown.append(await clock.measure { _ = await hasher.verifyUnknownAccount("a guess") })
        }
        print(
            "   (median of 5: known account \(known.sorted()[2].milliseconds) ms, unknown \(unknown.sorted()[2].milliseconds) ms)\n"
        )

        let legacy = "$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$iDoHsJkczCNRjwISH0IL7Bxa65e7yZ8nY0yRqC+7Odw"
        print("3. A legacy argon2i hash from an older system:")
        switch try await hasher.verify("password", against: legacy) {
        case .validNeedsRehash(let reasons):
            let upgraded = try await hasher.hash("password")
            print("   valid, needs rehash (\(reasons.map(\.rawValue).sorted().joined(separator: ", ")))")
            print("   → replaced at login by \(try PHCString(parsing: upgraded))\n")
        case let other:
            print("   \(other)\n")
        }

        print("4. Bad input gets a typed error, never a crash:")
        for input in ["", String(repeating: "x", count: 5_000)] {
            do {
                _ = try await hasher.hash(input)
            } catch {
                print("   \(input.isEmpty ? "empty password" : "5,000-byte password") → \(error)")
            }
        }
        do {
            let planted = "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA"
            _ = try await hasher.verify(password, against: planted)
        } catch {
            print("   a planted hash asking for 4 GiB → \(error)\n")
        }

        let policy = PasswordPolicy(blocklist: ["password1234567", "qwertyuiopasdfg"])
        print("5. NIST SP 800-63B policy (length and blocklist, no composition rules):")
        for candidate in ["Tr0ub4dor&3", "password1234567", "a long and memorable passphrase"] {
            let problems = policy.violations(of: candidate, usage: .singleFactor)
            let verdict =
                problems.isEmpty ? "accepted" : "rejected: " + problems.map(\.description).joined(separator: "; ")
            print("   \"\(candidate)\" → \(verdict)")
        }
    }
}

extension Duration {
    fileprivate var milliseconds: Int {
        Int(components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000)
    }
}
