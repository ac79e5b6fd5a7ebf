import Foundation
import PHIGuardAccess
import PHIGuardTestSupport
import Testing

/// Every file in Tests/Fixtures/access/broken-policies must be rejected with exactly these problems.
@Suite struct BrokenPolicyTests {
    /// File name → the expected issues as `code line:column`, in file order.
    static let expected: [String: [String]] = [:]

    static var files: [String] {
        let directory = Fixture.url("access/broken-policies")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    @Test(arguments: files) func rejectedWithLocatedProblems(file: String) throws {
        let text = try String(contentsOf: Fixture.url("access/broken-policies/\(file)"), encoding: .utf8)
        do {
            _ = try CompiledPolicy(yaml: text)
            Issue.record("\(file) loaded but must be rejected")
        } catch {
            let actual = error.issues.map { "\($0.code.rawValue) \($0.location.map(\.description) ?? "-")" }
            #expect(actual == Self.expected[file], "\(file):\n\(error)")
            #expect(error.issues.allSatisfy { $0.location != nil }, "every problem must have a location")
        }
    }

    @Test func theCorpusIsComplete() {
        #expect(Set(Self.files) == Set(Self.expected.keys))
        #expect(Self.files.count >= 20)
    }

    @Test func aHugeOrDeeplyAliasedFileIsRefusedWithoutBlowingUp() {
        // 2^20 expansions if aliases were walked naively; the node budget stops it.
        var yaml = "version: 1\na0: &a0 [x, x]\n"
        for level in 1...20 { yaml += "a\(level): &a\(level) [*a\(level - 1), *a\(level - 1)]\n" }
        yaml += "resourceTypes: *a20\nroles: []\nrules: []\n"
        #expect(throws: PolicyValidationError.self) { try AccessPolicy(yaml: yaml) }
        let big = String(repeating: "#", count: AccessPolicy.maximumYAMLBytes + 1)
        do {
            _ = try AccessPolicy(yaml: big)
            Issue.record("oversized policy accepted")
        } catch {
            #expect(error.issues.map(\.code) == [.tooLarge])
        }
    }

    @Test func theSamplePolicyLoadsCleanly() throws {
        let policy = try CompiledPolicy(yaml: try hospitalPolicyText())
        #expect(policy.roles.count == 10)
        #expect(policy.resourceTypes.contains("chart"))
    }
}
