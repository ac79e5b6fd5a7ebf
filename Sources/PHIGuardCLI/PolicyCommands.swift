import ArgumentParser
import Foundation
@_spi(PolicyEvaluation) import PHIGuardAccess

/// `phiguard policy …`: validate access policies, decide requests against them, explain and test them.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Validate, query, explain and test PHIGuard access policies (YAML).",
        discussion: "See Documentation/CLI-policy.md for the request JSON format and exit codes.",
        subcommands: [Validate.self, Check.self, Explain.self, Test.self, Plan.self]
    )

    /// The most problems (or warnings) printed for one file; the rest are counted on one more line (in
    /// JSON, `moreProblems`), so a pathological file cannot flood the terminal or a CI log.
    static let maximumPrintedProblems = 100

    /// Reads and compiles a policy file, exiting 66 (unreadable) or 65 (invalid: the first
    /// ``maximumPrintedProblems`` problems listed, each with its line and column, then a count of the rest).
    static func load(_ path: String, output: OutputOptions) throws -> CompiledPolicy {
        // One byte more than the limit is enough to tell that the file is too large.
        let bytes = try readBytes(path, upTo: AccessPolicy.maximumYAMLBytes + 1)
        do {
            return try CompiledPolicy(yamlBytes: bytes)
        } catch {
            let (shown, more) = firstProblems(error.issues)
            if output.json {
                print(jsonLine(ValidationReport(file: path, valid: false, problems: shown, moreProblems: more)))
            } else {
                printProblems(error.issues, file: path, suffix: "")
            }
            try fail("\(path): \(error.issues.count) problem(s); policy not loaded", CLIExit.dataError)
        }
    }

    /// The first ``maximumPrintedProblems`` issues as reports, and how many were left out (`nil` if none).
    static func firstProblems(_ issues: [PolicyIssue]) -> ([ProblemReport], Int?) {
        let shown = issues.prefix(maximumPrintedProblems).map(ProblemReport.init)
        return (shown, issues.count > shown.count ? issues.count - shown.count : nil)
    }

    /// Prints `file:line:column: code: message` for the first ``maximumPrintedProblems`` issues to
    /// standard error, then one line counting the rest.
    static func printProblems(_ issues: [PolicyIssue], file: String, suffix: String) {
        var text = ""
        for issue in issues.prefix(maximumPrintedProblems) {
            text += "\(file):\(issue.location ?? .fileStart): \(issue.code.rawValue): \(issue.message)\(suffix)\n"
        }
        if issues.count > maximumPrintedProblems {
            text += "\(file): \(issues.count - maximumPrintedProblems) more problem(s) not shown\n"
        }
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// At most `limit` bytes of the file at `path`, exiting 66 if it cannot be read.
    static func readBytes(_ path: String, upTo limit: Int) throws -> Data {
        guard let handle = FileHandle(forReadingAtPath: path) else { try fail("cannot read \(path)", CLIExit.noInput) }
        defer { try? handle.close() }
        do {
            return try handle.read(upToCount: limit) ?? Data()
        } catch {
            try fail("cannot read \(path)", CLIExit.noInput)
        }
    }

    static func readFile(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            try fail("cannot read \(path)", CLIExit.noInput)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            try fail("\(path) is not UTF-8", CLIExit.dataError)
        }
        return text
    }

    /// Decodes one request JSON and decides it.
    static func decide(_ json: String, policy: CompiledPolicy) throws(RequestError) -> (AccessRequest, AccessDecision) {
        let document: AccessRequestDocument
        do {
            document = try JSONDecoder().decode(AccessRequestDocument.self, from: Data(json.utf8))
        } catch {
            throw RequestError(message: "malformed request JSON: \(describe(error))")
        }
        do {
            let (request, time) = try document.request(under: policy)
            return (request, policy.decide(request, clock: ManualClock(time)))
        } catch {
            throw RequestError(message: error.description)
        }
    }

    /// Decoding errors name the path and problem, never the values (requests may carry patient ids).
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "not JSON" }
        func path(_ context: DecodingError.Context) -> String {
            let text = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.isEmpty ? "top level" : text
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing key '\(key.stringValue)' at \(path(context))"
        case .typeMismatch(_, let context): return "wrong type at \(path(context))"
        case .valueNotFound(_, let context): return "missing value at \(path(context))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not JSON" : "invalid value at \(path(context))"
        @unknown default: return "malformed"
        }
    }

    struct RequestError: Error {
        var message: String
    }

    struct ProblemReport: Encodable {
        var code: String
        var message: String
        var line: Int
        var column: Int

        /// Every problem of a file has a location; one that concerns the whole file is at 1:1.
        init(_ issue: PolicyIssue) {
            code = issue.code.rawValue
            message = issue.message
            line = (issue.location ?? .fileStart).line
            column = (issue.location ?? .fileStart).column
        }
    }

    struct ValidationReport: Encodable {
        var file: String
        var valid: Bool
        var problems: [ProblemReport]
        /// How many problems were left out after the first ``PolicyCommand/maximumPrintedProblems``.
        var moreProblems: Int?
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a policy file; list every problem with its line and column.",
            discussion: """
                Prints the first 100 problems (file-level ones, such as an empty or non-UTF-8 file, at 1:1) and
                counts the rest. Exit status: 0 valid, 65 invalid, 66 unreadable.
                """)

        @Argument(help: "The policy file (YAML).") var file: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let policy = try PolicyCommand.load(file, output: output)
            // Warnings (deny rules that apply whenever an attribute is absent) do not make a policy invalid.
            if !output.json { PolicyCommand.printProblems(policy.warnings, file: file, suffix: " (warning)") }
            let (warnings, more) = PolicyCommand.firstProblems(policy.warnings)
            output.emit(
                ValidationReport(file: file, valid: true, problems: warnings, moreProblems: more),
                text: "\(file): valid (\(policy.roles.count) roles, \(policy.resourceTypes.count) resource types, "
                    + "\(policy.source.rules.count) rules\(policy.source.breakGlass == nil ? "" : ", break-glass"))")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decide one request (--request JSON) or a stream of JSON lines (--batch).",
            discussion: """
                One request: exit 0 allowed, 1 denied, 65 malformed request or policy, 66 unreadable policy.
                Batch (--batch): reads one request JSON per line from standard input and prints one decision JSON
                per line (or {"error": ..., "line": N}); exit 0 when every line was decided, 65 if any line was
                malformed.
                """)

        @Argument(help: "The policy file (YAML).") var file: String
        @Option(help: "The request as JSON (see Documentation/CLI-policy.md).") var request: String?
        @Flag(help: "Read JSON lines from standard input, print one decision per line.") var batch = false
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard (request != nil) != batch else { throw ValidationError("give exactly one of --request or --batch") }
        }

        func run() async throws {
            let policy = try PolicyCommand.load(file, output: output)
            if batch {
                try runBatch(policy)
                return
            }
            let decision: AccessDecision
            do {
                decision = try PolicyCommand.decide(request ?? "", policy: policy).1
            } catch {
                try fail(error.message, CLIExit.dataError)
            }
            let document = AccessDecisionDocument(decision)
            output.emit(document, text: Self.text(document))
            if !decision.isAllowed { throw CLIExit.negative }
        }

        static func text(_ document: AccessDecisionDocument) -> String {
            var text = document.allowed ? "allow" : "deny"
            text += " (\(document.reason.rawValue))"
            if document.allowed { text += " fields: \(document.fields.joined(separator: ", "))" }
            if !document.rules.isEmpty { text += " rules: \(document.rules.joined(separator: ", "))" }
            if let status = document.breakGlass { text += " break-glass: \(status.rawValue), flagged for review" }
            return text
        }

        struct LineError: Encodable {
            var error: String
            var line: Int
        }

        private func runBatch(_ policy: CompiledPolicy) throws {
            var malformed = false
            var number = 0
            while let line = readLine(strippingNewline: true) {
                number += 1
                if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                if line.utf8.count > 1 << 20 {
                    malformed = true
                    print(jsonLine(LineError(error: "line longer than 1 MiB", line: number)))
                    continue
                }
                do {
                    print(jsonLine(AccessDecisionDocument(try PolicyCommand.decide(line, policy: policy).1)))
                } catch {
                    malformed = true
                    print(jsonLine(LineError(error: error.message, line: number)))
                }
            }
            if malformed { throw CLIExit.dataError }
        }
    }

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decide one request and show every rule considered and why it did or did not apply.",
            discussion: "Exit status: 0 allowed, 1 denied, 65 malformed request or policy, 66 unreadable policy.")

        @Argument(help: "The policy file (YAML).") var file: String
        @Option(help: "The request as JSON.") var request: String
        @OptionGroup var output: OutputOptions

        struct Report: Encodable {
            var decision: AccessDecisionDocument
            var effectiveRoles: [String]
            var rules: [AccessExplanation.Entry]
        }

        func run() async throws {
            let policy = try PolicyCommand.load(file, output: output)
            let document: AccessRequestDocument
            do {
                document = try JSONDecoder().decode(AccessRequestDocument.self, from: Data(request.utf8))
            } catch {
                try fail("malformed request JSON: \(PolicyCommand.describe(error))", CLIExit.dataError)
            }
            let explanation: AccessExplanation
            do {
                let (request, time) = try document.request(under: policy)
                explanation = policy.explain(request, clock: ManualClock(time))
            } catch {
                try fail(error.description, CLIExit.dataError)
            }
            let decision = AccessDecisionDocument(explanation.decision)
            var text = Check.text(decision)
            text += "\neffective roles: \(explanation.effectiveRoles.joined(separator: ", "))"
            if explanation.entries.isEmpty {
                text += "\nno rules cover this resource type and action"
            }
            for entry in explanation.entries {
                let verdict =
                    !entry.roleMatched
                    ? (entry.kind == "break-glass" ? "no active grant" : "role not held")
                    : entry.conditionHeld == true ? "APPLIES" : "condition not met"
                let role = entry.role.isEmpty ? "" : " [\(entry.role)]"
                text += "\n  \(entry.kind) \(entry.ruleID)\(role): \(verdict)"
                if !entry.fields.isEmpty { text += " fields: \(entry.fields.joined(separator: ", "))" }
            }
            output.emit(
                Report(decision: decision, effectiveRoles: explanation.effectiveRoles, rules: explanation.entries),
                text: text)
            if !decision.allowed { throw CLIExit.negative }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run expected-decision tests (YAML) against a policy, like `opa test`.",
            discussion: """
                Exit status: 0 every test passed, 1 some failed, 65 malformed policy or test file,
                66 unreadable file.
                """)

        @Argument(help: "The policy file (YAML).") var file: String
        @Argument(help: "The test file (YAML).") var tests: String
        @OptionGroup var output: OutputOptions

        struct Summary: Encodable {
            var passed: Int
            var failed: Int
            var results: [PolicyTestSuite.Result]
        }

        func run() async throws {
            let policy = try PolicyCommand.load(file, output: output)
            let suite: PolicyTestSuite
            do {
                suite = try PolicyTestSuite(yaml: try PolicyCommand.readFile(tests))
            } catch let error as PolicyTestSuite.LoadError {
                try fail("\(tests): \(error.message)", CLIExit.dataError)
            }
            let results = suite.run(against: policy)
            let failed = results.filter { !$0.passed }.count
            var text = results.map { result in
                result.passed
                    ? "PASS \(result.name)"
                    : "FAIL \(result.name)\n" + result.failures.map { "    \($0)" }.joined(separator: "\n")
            }.joined(separator: "\n")
            text += "\n\(results.count - failed) passed, \(failed) failed"
            output.emit(Summary(passed: results.count - failed, failed: failed, results: results), text: text)
            if failed > 0 { throw CLIExit.negative }
        }
    }
}
