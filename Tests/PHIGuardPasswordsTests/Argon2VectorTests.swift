import Foundation
import PHIGuardTestSupport
import Testing

@testable import PHIGuardPasswords

/// The Argon2 reference KATs (phc-winner-argon2 kats/, the RFC 9106 §5 inputs, with secret and
/// associated data through `argon2_ctx`) and the src/test.c vectors. See Tests/Fixtures/SOURCES.md.
@Suite("Argon2 reference vectors")
struct Argon2VectorTests {
    struct GenKAT: Decodable {
        struct Vector: Decodable, CustomTestStringConvertible {
            let file, type: String
            let version, m_cost_kib, t_cost, parallelism, tag_len: UInt32
            let password_hex, salt_hex, secret_hex, ad_hex, tag_hex: String
            var testDescription: String { file }
        }
        let vectors: [Vector]
    }

    struct TestC: Decodable {
        struct Hash: Decodable, CustomTestStringConvertible {
            let type: String
            let version, t_cost, m_cost_kib, parallelism, hash_len: UInt32
            let password, salt, hash_hex, encoded: String
            let large_ram_only: Bool
            var testDescription: String { encoded }
        }
        struct VerifyError: Decodable, CustomTestStringConvertible {
            let encoded, password, type, expect: String
            var testDescription: String { "\(expect): \(encoded)" }
        }
        struct ParamError: Decodable, CustomTestStringConvertible {
            let t_cost, m_cost_kib, parallelism: UInt32
            let password, salt, type, expect: String
            var testDescription: String { expect }
        }
        let hash_tests: [Hash]
        let verify_error_tests: [VerifyError]
        let param_error_tests: [ParamError]
    }

    static let genkat = (try? Fixture.decode(GenKAT.self, from: "argon2-kats/genkat_summary.json").vectors) ?? []
    static let testC = try? Fixture.decode(TestC.self, from: "argon2-kats/phc_test_c_vectors.json")

    @Test("the fixtures load")
    func fixturesLoad() throws {
        #expect(Self.genkat.count == 6)
        let testC = try #require(Self.testC)
        #expect(testC.hash_tests.count == 26)
        #expect(testC.verify_error_tests.count == 8)
    }

    @Test("genkat: argon2_ctx with secret and associated data gives the reference tag", arguments: genkat)
    func genkatVector(vector: GenKAT.Vector) throws {
        let password = [UInt8](hex: vector.password_hex)
        let secret = [UInt8](hex: vector.secret_hex)
        let tag = try password.withUnsafeBytes { passwordBytes in
            try secret.withUnsafeBytes { secretBytes in
                try Argon2.tag(
                    variant: try #require(Argon2Variant(rawValue: vector.type)),
                    version: try #require(Argon2Version(rawValue: vector.version)),
                    parameters: Argon2Parameters(
                        memoryKiB: vector.m_cost_kib, iterations: vector.t_cost, parallelism: vector.parallelism),
                    password: passwordBytes, salt: [UInt8](hex: vector.salt_hex), secret: secretBytes,
                    associatedData: [UInt8](hex: vector.ad_hex), tagLength: Int(vector.tag_len))
            }
        }
        #expect(tag.hex == vector.tag_hex)
    }

    @Test("test.c: tags, PHC parsing and verification", arguments: testC?.hash_tests ?? [])
    func testCHash(vector: TestC.Hash) async throws {
        let phc = try PHCString(parsing: vector.encoded)
        #expect(phc.variant.rawValue == vector.type)
        #expect(phc.version.rawValue == vector.version)
        #expect(phc.parameters.memoryKiB == vector.m_cost_kib)
        #expect(phc.parameters.iterations == vector.t_cost)
        #expect(phc.parameters.parallelism == vector.parallelism)
        #expect(phc.salt == Array(vector.salt.utf8))
        #expect(phc.hash.hex == vector.hash_hex)
        #expect(phc.encoded == vector.encoded)

        let hasher = try PasswordHasher()
        let result = try await hasher.verify(vector.password, against: vector.encoded)
        // Every test.c vector uses an 8-byte salt, so each one verifies but asks for a rehash.
        guard case .validNeedsRehash(let reasons) = result else {
            Issue.record("expected validNeedsRehash, got \(result)")
            return
        }
        #expect(reasons.contains(.saltOrHashLength))
        #expect(reasons.contains(.algorithm) == (vector.type != "argon2id"))
        #expect(reasons.contains(.version) == (vector.version == 16))
        #expect(try await hasher.verify(vector.password + "x", against: vector.encoded) == .invalid)
    }

    @Test(
        "test.c: malformed encodings are typed errors, mismatches are invalid",
        arguments: testC?.verify_error_tests ?? [])
    func testCVerifyError(vector: TestC.VerifyError) async throws {
        let hasher = try PasswordHasher()
        switch vector.expect {
        case "ARGON2_VERIFY_MISMATCH":
            #expect(try await hasher.verify(vector.password, against: vector.encoded) == .invalid)
        case "ARGON2_DECODING_FAIL", "ARGON2_SALT_TOO_SHORT":
            await #expect {
                _ = try await hasher.verify(vector.password, against: vector.encoded)
            } throws: { error in
                guard let error = error as? PasswordHashingError, case .malformedHash = error else { return false }
                return true
            }
        default:
            Issue.record("unknown expectation \(vector.expect)")
        }
    }

    @Test("test.c: parameter errors are typed", arguments: testC?.param_error_tests ?? [])
    func testCParamError(vector: TestC.ParamError) throws {
        switch vector.expect {
        case "ARGON2_MEMORY_TOO_LITTLE":
            #expect(throws: PasswordHashingError.self) {
                try Argon2Parameters(
                    memoryKiB: vector.m_cost_kib, iterations: vector.t_cost, parallelism: vector.parallelism)
            }
        case "ARGON2_SALT_TOO_SHORT":
            let parameters = try Argon2Parameters(
                memoryKiB: vector.m_cost_kib, iterations: vector.t_cost, parallelism: vector.parallelism)
            #expect(throws: PasswordHashingError.argon2Failure(code: -6, message: "Salt is too short")) {
                try Array(vector.password.utf8).withUnsafeBytes { password in
                    try Argon2.tag(
                        variant: .argon2id, version: .v19, parameters: parameters, password: password,
                        salt: Array(vector.salt.utf8), tagLength: 32)
                }
            }
        default:
            Issue.record("unknown expectation \(vector.expect)")
        }
    }
}
