import Foundation
@_spi(PolicyEvaluation) import PHIGuardAccess
import PHIGuardTestSupport
import Testing

/// Every file in Tests/Fixtures/access/broken-policies must be rejected with exactly these problems.
@Suite struct BrokenPolicyTests {
    /// File name → the expected issues as `code line:column`, in file order.
    static let expected: [String: [String]] = [
        "action-not-applicable.yaml": ["unknownAction 9:76"],
        "bad-time-zone.yaml": ["invalidValue 2:11"],
        "deny-shadows-nothing.yaml": ["denyShadowsNothing 10:5", "denyShadowsNothing 11:5"],
        "duplicate-field.yaml": ["duplicateName 4:35"],
        "duplicate-key.yaml": ["duplicateName 10:5"],
        "duplicate-role.yaml": ["duplicateName 10:11"],
        "duplicate-rule-id.yaml": ["duplicateName 10:10"],
        "inheritance-cycle.yaml": ["inheritanceCycle 11:16"],
        "many-errors.yaml": [
            "unknownRole 9:16", "unknownRole 13:13", "unknownResourceType 20:21", "unknownField 26:14",
            "unknownRole 28:11", "unknownField 33:23",
        ],
        "missing-sections.yaml": ["schema 1:1"],
        "repeated-rule.yaml": ["unreachableRule 10:5"],
        "schema-errors.yaml": [
            "schema 10:13", "schema 14:5", "invalidValue 21:25", "schema 22:21", "schema 23:5", "invalidValue 29:16",
        ],
        "shape-and-meaning.yaml": ["unknownRole 9:20", "schema 12:5"],
        "self-inheritance.yaml": ["inheritanceCycle 9:15"],
        "syntax-error.yaml": ["syntax 8:6"],
        "unknown-action.yaml": ["unknownAction 9:65"],
        "unknown-field.yaml": ["unknownField 14:28"],
        "unknown-label.yaml": ["unknownLabel 16:37"],
        "unknown-parent-role.yaml": ["unknownRole 9:16"],
        "unknown-resource-type.yaml": ["unknownResourceType 13:28"],
        "unknown-role.yaml": ["unknownRole 11:20"],
        "unreachable-rule.yaml": ["unreachableRule 13:5"],
        "unsupported-version.yaml": ["invalidValue 1:10"],
    ]

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

    @Test("File-level problems are located at 1:1; bad bytes and control characters where they are")
    func fileLevelProblemsHaveLocations() {
        func located(_ bytes: [UInt8]) -> [String] {
            do {
                _ = try AccessPolicy(yamlBytes: bytes)
                return ["loaded"]
            } catch {
                return error.issues.map { "\($0.code.rawValue) \($0.location.map(\.description) ?? "-")" }
            }
        }
        #expect(located([]) == ["schema 1:1"])
        #expect(located(Array("\n# only a comment\n".utf8)) == ["schema 1:1"])
        #expect(located(Array("version: 1\nroles: [\u{7}]".utf8)) == ["syntax 2:9"])
        #expect(located(Array("version: 1\nroles: [é".utf8) + [0x80]) == ["syntax 2:10"])
        #expect(located([0xFE, 0xFF]) == ["syntax 1:1"])
        #expect(located(Array(repeating: 0x20, count: AccessPolicy.maximumYAMLBytes + 1)) == ["tooLarge 1:1"])
    }

    @Test("Thousands of problems: every one is located, the description lists 100 and counts the rest")
    func manyProblems() {
        let yaml = "version: 1\n" + (0..<5_000).map { "k\($0): 1\n" }.joined()
        do {
            _ = try AccessPolicy(yaml: yaml)
            Issue.record("loaded")
        } catch {
            #expect(error.issues.count == 5_003)
            #expect(error.issues.allSatisfy { $0.location != nil })
            let lines = error.description.split(separator: "\n")
            #expect(lines.count == 1 + 100 + 1)
            #expect(lines.last == "  … and 4903 more")
        }
    }

    /// Rule ids go into audit records, so they must be valid names; `break-glass.` is reserved for
    /// the break-glass grants' rule ids.
    @Test(arguments: ["nurse reads", "rule#1", "break-glass.1", "ok-\u{e9}"])
    func ruleIDsMustBeAuditIdentifiers(id: String) {
        let yaml = """
            version: 1
            resourceTypes: [{name: doc, fields: [a]}]
            roles: [{name: reader}]
            rules: [{id: "\(id)", effect: allow, roles: reader, actions: read, resourceTypes: doc}]
            """
        #expect(throws: PolicyValidationError.self) { try CompiledPolicy(yaml: yaml) }
    }

    @Test func theSamplePolicyLoadsCleanly() throws {
        let policy = try CompiledPolicy(yaml: try hospitalPolicyText())
        #expect(policy.roles.count == 10)
        #expect(policy.resourceTypes.contains("chart"))
    }
}
