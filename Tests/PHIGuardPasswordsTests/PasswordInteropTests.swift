import Foundation
import PHIGuardTestSupport
import Testing

@testable import PHIGuardPasswords

/// Interop both ways with argon2-cffi (the reference Python binding of libargon2).
@Suite("argon2-cffi interop", .enabled(if: InteropPython.shouldRun))
struct PasswordInteropTests {
    /// NFKC-stable passwords: argon2-cffi hashes raw UTF-8, PHIGuard hashes the NFKC form, so for
    /// text already in NFKC the two agree byte for byte.
    static let passwords = ["password", "correct horse battery staple", "p\u{00E4}ssw\u{00F6}rd ✓ 病历", "x"]

    @Test("hashes PHIGuard makes verify in argon2-cffi, and weaker ones are flagged there too")
    func phiguardToPython() async throws {
        let hasher = try PasswordHasher()  // OWASP minimum
        var cases: [[String]] = []
        for password in Self.passwords { cases.append([password, try await hasher.hash(password)]) }
        let script = """
            import json, sys
            from argon2 import PasswordHasher
            from argon2.exceptions import VerifyMismatchError
            ph = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
            out = []
            for password, encoded in json.load(sys.stdin):
                ok = ph.verify(encoded, password)
                try:
                    ph.verify(encoded, password + "!")
                    wrong = True
                except VerifyMismatchError:
                    wrong = False
                out.append([ok, wrong, ph.check_needs_rehash(encoded)])
            json.dump(out, sys.stdout)
            """
        let results = try InteropPython.exchange(script: script, request: cases, as: [[Bool]].self)
        #expect(results == Array(repeating: [true, false, false], count: Self.passwords.count))
    }

    @Test("hashes argon2-cffi makes verify in PHIGuard")
    func pythonToPhiguard() async throws {
        let script = """
            import json, sys
            from argon2 import PasswordHasher, Type
            passwords = json.load(sys.stdin)
            default = PasswordHasher()  # argon2-cffi 25 defaults: RFC 9106 low-memory (m=65536, t=3, p=4)
            owasp = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
            legacy = PasswordHasher(time_cost=2, memory_cost=4096, parallelism=2, type=Type.I)
            json.dump([[p, default.hash(p), owasp.hash(p), legacy.hash(p)] for p in passwords], sys.stdout)
            """
        let rows = try InteropPython.exchange(script: script, request: Self.passwords, as: [[String]].self)
        #expect(rows.count == Self.passwords.count)
        let hasher = try PasswordHasher()
        for row in rows {
            let password = row[0]
            #expect(row[1].hasPrefix("$argon2id$v=19$m=65536,t=3,p=4$"))
            #expect(try await hasher.verify(password, against: row[1]) == .valid)
            #expect(try await hasher.verify(password, against: row[2]) == .valid)
            #expect(try await hasher.verify(password, against: row[3]) == .validNeedsRehash([.algorithm, .parameters]))
            #expect(try await hasher.verify(password + "!", against: row[1]) == .invalid)
        }
    }
}
