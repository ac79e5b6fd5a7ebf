import Foundation
import Yams

/// Expected decisions for a policy, in YAML (`phiguard policy test POLICY TESTS.yaml`, like `opa test`).
///
/// ```yaml
/// tests:
///   - name: a clerk sees contact and billing only
///     request:
///       subject: {id: u-1, roles: [billing-clerk]}
///       action: read
///       resource: {type: chart, patientID: p-1}
///     expect:
///       allowed: true
///       fields: [demographics, contact, insurance, billing]   # optional, exact and ordered
///       reason: allowed                                       # optional
///       rules: [billing-reads-chart]                          # optional, as a set
/// ```
public struct PolicyTestSuite: Sendable, Hashable, Decodable {
    /// One test case.
    public struct TestCase: Sendable, Hashable, Decodable {
        /// A name shown in the results.
        public var name: String
        /// The request.
        public var request: AccessRequestDocument
        /// What the decision must be.
        public var expect: Expectation
    }

    /// The expected decision; only the keys present are checked.
    public struct Expectation: Sendable, Hashable, Decodable {
        /// Allowed or denied.
        public var allowed: Bool
        /// The reason.
        public var reason: AccessDecision.Reason?
        /// The visible fields, in declared order.
        public var fields: [String]?
        /// The deciding rule ids, compared as a set.
        public var rules: [String]?
        /// Whether the decision must be flagged for audit review.
        public var auditReview: Bool?
    }

    /// The result of one case.
    public struct Result: Sendable, Hashable, Encodable {
        /// The case name.
        public var name: String
        /// Whether every expectation held.
        public var passed: Bool
        /// What differed (empty when passed).
        public var failures: [String]
        /// The actual decision (`nil` when the request could not be built).
        public var decision: AccessDecisionDocument?
    }

    /// The cases, in file order.
    public var tests: [TestCase]

    /// The test file could not be read.
    public struct LoadError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong (Yams/decoder message; test files contain no PHI by design).
        public var message: String

        /// The message.
        public var description: String { message }
    }

    /// Parses a YAML test file.
    public init(yaml: String) throws(LoadError) {
        guard yaml.utf8.count <= AccessPolicy.maximumYAMLBytes else {
            throw LoadError(message: "test file is larger than \(AccessPolicy.maximumYAMLBytes) bytes")
        }
        do {
            self = try YAMLDecoder().decode(PolicyTestSuite.self, from: yaml)
        } catch let error as DecodingError {
            throw LoadError(message: Self.describe(error))
        } catch {
            throw LoadError(message: "\(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing key '\(key.stringValue)' at \(path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(context.debugDescription) at \(path(context))"
        @unknown default: return "malformed test file"
        }
    }

    /// Runs every case against `policy`.
    public func run(against policy: CompiledPolicy, careTeams: (any CareTeamDirectory)? = nil) -> [Result] {
        tests.map { test in
            let built: (AccessRequest, Date)
            do {
                built = try test.request.request(under: policy)
            } catch {
                return Result(name: test.name, passed: false, failures: ["request: \(error)"], decision: nil)
            }
            let decision = policy.decide(built.0, careTeams: careTeams, clock: ManualClock(built.1))
            let document = AccessDecisionDocument(decision)
            var failures: [String] = []
            let expect = test.expect
            if document.allowed != expect.allowed {
                failures.append(
                    "expected \(expect.allowed ? "allow" : "deny"), got \(document.allowed ? "allow" : "deny")")
            }
            if let reason = expect.reason, reason != document.reason {
                failures.append("expected reason \(reason.rawValue), got \(document.reason.rawValue)")
            }
            if let fields = expect.fields, fields != document.fields {
                failures.append("expected fields \(fields), got \(document.fields)")
            }
            if let rules = expect.rules, Set(rules) != Set(document.rules) {
                failures.append("expected rules \(rules.sorted()), got \(document.rules.sorted())")
            }
            if let review = expect.auditReview, review != document.auditReview {
                failures.append("expected auditReview \(review), got \(document.auditReview)")
            }
            return Result(name: test.name, passed: failures.isEmpty, failures: failures, decision: document)
        }
    }
}
