import Testing

@testable import PHIGuardPasswords

@Suite("PHC string parser")
struct PHCStringTests {
    static let valid = [
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$dGFndGFndGFndGFndGFndGFndGFndGFndGFndGFnMTI",
        "$argon2i$m=65536,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
        "$argon2d$v=19$m=256,t=2,p=2$c29tZXNhbHQ$tsEVYKap1h6scGt5ovl9aLRGOqOth+AMB+KwHpDFZPs",
        "$argon2id$v=19$m=19456,t=2,p=1,keyid=cDI$c29tZXNhbHRzb21lc2FsdA$dGFndGFndGFndGFndGFndGFndGFndGFndGFndGFnMTI",
    ]

    /// Hand-picked malformed strings and the reason each must give.
    static let malformed: [(String, MalformedHashReason)] = [
        ("", .structure),
        ("$", .structure),
        ("argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .structure),
        ("$argon2id", .structure),
        ("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ", .structure),
        ("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw$extra", .structure),
        ("$argon2id$$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .structure),
        ("$scrypt$ln=16,r=8,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .unsupportedAlgorithm),
        ("$ARGON2ID$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .unsupportedAlgorithm),
        ("$argon2id$v=18$m=19456,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .unsupportedVersion),
        ("$argon2id$v=019$m=19456,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .unsupportedVersion),
        ("$argon2id$v=$m=19456,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .unsupportedVersion),
        ("$argon2id$v=19$t=2,m=19456,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .parameterSyntax),
        ("$argon2id$v=19$m=19456,t=2$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .parameterSyntax),
        ("$argon2id$v=19$m=019456,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .parameterSyntax),
        ("$argon2id$v=19$m=-1,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .parameterSyntax),
        ("$argon2id$v=19$m=+19456,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .parameterSyntax),
        ("$argon2id$v=19$m=4294967296,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .parameterSyntax),
        ("$argon2id$v=19$m=99999999999,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .parameterSyntax),
        ("$argon2id$v=19$m=19456,t=2,p=1,data=YWQ$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .parameterSyntax),
        ("$argon2id$v=19$m=19456,t=2,p=1,$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .parameterSyntax),
        ("$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .parameterBounds),  // 4 GiB
        ("$argon2id$v=19$m=19456,t=0,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .parameterBounds),
        ("$argon2id$v=19$m=19456,t=2,p=10000$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .parameterBounds),
        ("$argon2id$v=19$m=4,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .parameterBounds),
        ("$argon2id$v=19$m=2097152,t=64,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .parameterBounds),
        ("$argon2id$v=19$m=19456,t=2,p=1,keyid=$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .keyID),
        ("$argon2id$v=19$m=19456,t=2,p=1,keyid=!!$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .keyID),
        ("$argon2id$v=19$m=19456,t=2,p=1,keyid=bG9uZ2VyLXRoYW4tOA$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .keyID),
        ("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$dGFndGFndGFndGFndGFnZw", .salt),  // 4-byte salt
        ("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ=$dGFndGFndGFndGFndGFnZw", .salt),  // padded
        ("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHR$dGFndGFndGFndGFndGFnZw", .salt),  // non-canonical bits
        ("$argon2id$v=19$m=19456,t=2,p=1$c29t_XNhbHQ$dGFndGFndGFndGFndGFnZw", .salt),  // URL alphabet
        ("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$dGFn", .hash),  // 3-byte hash
        ("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw==", .hash),
        ("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$" + String(repeating: "A", count: 100), .hash),  // 75 bytes
        ("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$" + String(repeating: "A", count: 600), .tooLong),
        ("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw\n", .tooLong),
        ("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFnä", .tooLong),
        (" $argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$dGFndGFndGFndGFndGFnZw", .tooLong),
    ]

    @Test("valid strings parse and re-encode to themselves", arguments: valid)
    func roundTrip(encoded: String) throws {
        #expect(try PHCString(parsing: encoded).encoded == encoded)
    }

    @Test("the pepper id travels in keyid")
    func keyID() throws {
        #expect(try PHCString(parsing: Self.valid[3]).pepperID == "p2")
        #expect(try PHCString(parsing: Self.valid[0]).pepperID == nil)
    }

    @Test("hand-picked malformed strings give the documented reason", arguments: malformed)
    func malformedReason(encoded: String, reason: MalformedHashReason) {
        #expect(throws: PasswordHashingError.malformedHash(reason)) { try PHCString(parsing: encoded) }
    }

    /// Hundreds of mutants of the valid strings: every truncation, every single-character
    /// substitution from a hostile alphabet, every deletion and duplication. Each either fails with
    /// `malformedHash` or parses to a value whose canonical encoding is exactly the input, so two
    /// spellings of one hash are impossible and nothing crashes.
    @Test("mutants never crash and never parse non-canonically")
    func mutants() {
        var mutants: Set<String> = []
        let substitutes: [Character] = ["$", ",", "=", "0", "9", "A", "/", "+", "-", "_", " ", "é", "\u{0}"]
        for original in Self.valid {
            let characters = Array(original)
            for length in 0..<characters.count { mutants.insert(String(characters[..<length])) }
            for index in characters.indices {
                var deleted = characters
                deleted.remove(at: index)
                mutants.insert(String(deleted))
                var duplicated = characters
                duplicated.insert(characters[index], at: index)
                mutants.insert(String(duplicated))
                for substitute in substitutes where substitute != characters[index] {
                    var changed = characters
                    changed[index] = substitute
                    mutants.insert(String(changed))
                }
            }
        }
        mutants.subtract(Self.valid)
        #expect(mutants.count > 1_000)
        var rejected = 0
        for mutant in mutants {
            do {
                let parsed = try PHCString(parsing: mutant)
                #expect(parsed.encoded == mutant, "accepted a non-canonical spelling")
            } catch {
                guard case .malformedHash = error else {
                    Issue.record("unexpected error \(error)")
                    continue
                }
                rejected += 1
            }
        }
        #expect(rejected > mutants.count / 2)
    }

    @Test("description redacts the hash")
    func descriptionRedacts() throws {
        let phc = try PHCString(parsing: Self.valid[0])
        #expect(phc.description.hasSuffix("$<redacted>"))
        #expect(!phc.description.contains("dGFnd"))
    }
}
