import Foundation
import Yams

extension AccessPolicy {
    /// The largest policy file accepted (4 MiB).
    public static let maximumYAMLBytes = 4 * 1024 * 1024

    /// Parses a YAML policy file given as its bytes: ``init(yaml:)`` after checking that the bytes are
    /// UTF-8.
    ///
    /// Bytes that are not UTF-8 are a ``PolicyIssue/Code/syntax`` problem located at the first invalid
    /// byte (line, and column counted in the Unicode scalars before it); a file over
    /// ``maximumYAMLBytes`` is a ``PolicyIssue/Code/tooLarge`` problem at 1:1, checked before decoding.
    public init(yamlBytes bytes: some Collection<UInt8>) throws(PolicyValidationError) {
        guard bytes.count <= Self.maximumYAMLBytes else { throw PolicyYAMLReader.tooLargeError }
        try self.init(yaml: try PolicyYAMLReader.decodeUTF8(bytes))
    }

    /// Parses a YAML policy file (schema in the DocC article "Writing Access Policies").
    ///
    /// Collects *every* structural and semantic problem, each with its line and column, and throws them
    /// together; nothing is returned unless the whole policy is valid. Problems that concern the whole
    /// file (too large, empty, unreadable) are located at 1:1; a character YAML does not allow (a
    /// control character) is located where it is.
    public init(yaml: String) throws(PolicyValidationError) {
        guard yaml.utf8.count <= Self.maximumYAMLBytes else { throw PolicyYAMLReader.tooLargeError }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw PolicyValidationError(issues: [PolicyYAMLReader.issue(for: error)])
        } catch {
            throw PolicyValidationError(issues: [PolicyIssue(.syntax, "unreadable YAML", at: .fileStart)])
        }
        var reader = PolicyYAMLReader()
        let policy = reader.read(root)
        var issues = reader.issues
        if let policy {
            // Semantic checks run even after shape problems (on what could be read), so one pass reports
            // everything; the policy is returned only when both found nothing.
            issues += ResolvedPolicy(policy, checkShadowing: issues.isEmpty).issues
            if issues.isEmpty {
                self = policy
                return
            }
        }
        throw PolicyValidationError(issues: issues)
    }
}

/// Walks the YAML node tree into an ``AccessPolicy``, recording every shape problem with its location.
struct PolicyYAMLReader {
    var issues: [PolicyIssue] = []
    private var budget = 200_000

    static let tooLargeError = PolicyValidationError(issues: [
        PolicyIssue(.tooLarge, "policy file is larger than \(AccessPolicy.maximumYAMLBytes) bytes", at: .fileStart)
    ])

    /// `bytes` as a `String`, or a problem located at the first byte that is not UTF-8.
    static func decodeUTF8(_ bytes: some Collection<UInt8>) throws(PolicyValidationError) -> String {
        var iterator = bytes.makeIterator()
        var decoder = Unicode.UTF8()
        var line = 1
        var column = 1
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\n" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            case .emptyInput:
                return String(decoding: bytes, as: UTF8.self)
            case .error:
                throw PolicyValidationError(issues: [
                    PolicyIssue(
                        .syntax, "the policy file is not UTF-8 (an invalid byte sequence)",
                        at: SourceLocation(line: line, column: column))
                ])
            }
        }
    }

    /// The line and column (in Unicode scalars) of the character `offset` characters into `text`.
    static func location(characterOffset offset: Int, in text: String) -> SourceLocation {
        var line = 1
        var column = 1
        for character in text.prefix(max(0, offset)) {
            if character.isNewline {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return SourceLocation(line: line, column: column)
    }

    static func issue(for error: YamlError) -> PolicyIssue {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return PolicyIssue(.syntax, problem, at: SourceLocation(line: mark.line, column: mark.column))
        case .duplicatedKeysInMapping(let duplicates, let context):
            return PolicyIssue(
                .duplicateName, "duplicate key(s) in a mapping: \(duplicates.joined(separator: ", "))",
                at: SourceLocation(line: context.mark.line, column: context.mark.column))
        case .reader(let problem, let offset, _, let yaml):
            return PolicyIssue(
                .syntax, problem, at: offset.map { location(characterOffset: $0, in: yaml) } ?? .fileStart)
        default:
            return PolicyIssue(.syntax, "unreadable YAML", at: .fileStart)
        }
    }

    private mutating func problem(_ code: PolicyIssue.Code, _ message: String, _ node: Node?) {
        issues.append(PolicyIssue(code, message, at: location(node)))
    }

    private func location(_ node: Node?) -> SourceLocation? {
        node?.mark.map { SourceLocation(line: $0.line, column: $0.column) }
    }

    /// Spends one unit of the node budget; false (with one issue) once it runs out.
    private mutating func spend(_ node: Node) -> Bool {
        budget -= 1
        if budget == 0 { problem(.tooLarge, "policy has too many YAML nodes", node) }
        return budget > 0
    }

    /// A mapping's entries by key, reporting keys outside `allowed`.
    private mutating func mapping(_ node: Node, what: String, allowed: Set<String>) -> [String: (
        key: Node, value: Node
    )]? {
        guard spend(node) else { return nil }
        guard case .mapping(let mapping) = node else {
            problem(.schema, "\(what) must be a mapping", node)
            return nil
        }
        var entries: [String: (key: Node, value: Node)] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                problem(.schema, "keys in \(what) must be plain names", key)
                continue
            }
            if allowed.contains(scalar.string) {
                entries[scalar.string] = (key, value)
            } else {
                problem(
                    .schema,
                    "unknown key '\(scalar.string)' in \(what) (expected one of: \(allowed.sorted().joined(separator: ", ")))",
                    key)
            }
        }
        return entries
    }

    private mutating func scalar(_ node: Node, what: String) -> AccessPolicy.Named? {
        guard spend(node) else { return nil }
        guard case .scalar(let scalar) = node else {
            problem(.schema, "\(what) must be a single value", node)
            return nil
        }
        return AccessPolicy.Named(scalar.string, at: location(node))
    }

    /// A list of names; a single name is accepted as a one-element list.
    private mutating func names(_ node: Node, what: String) -> [AccessPolicy.Named] {
        guard spend(node) else { return [] }
        switch node {
        case .scalar:
            return scalar(node, what: what).map { [$0] } ?? []
        case .sequence(let sequence):
            return sequence.compactMap { scalar($0, what: "each entry of \(what)") }
        default:
            problem(.schema, "\(what) must be a name or a list of names", node)
            return []
        }
    }

    private mutating func sequence(_ node: Node, what: String) -> [Node] {
        guard spend(node) else { return [] }
        guard case .sequence(let sequence) = node else {
            problem(.schema, "\(what) must be a list", node)
            return []
        }
        return Array(sequence)
    }

    private mutating func required(
        _ entries: [String: (key: Node, value: Node)], _ key: String, in node: Node, what: String
    ) -> Node? {
        if let entry = entries[key] { return entry.value }
        problem(.schema, "\(what) is missing '\(key)'", node)
        return nil
    }

    mutating func read(_ root: Node?) -> AccessPolicy? {
        guard let root else {
            issues.append(PolicyIssue(.schema, "the policy file is empty", at: .fileStart))
            return nil
        }
        let topKeys: Set<String> = [
            "version", "timeZone", "actions", "sensitivityLabels", "resourceTypes", "roles", "rules", "breakGlass",
        ]
        guard let top = mapping(root, what: "the policy", allowed: topKeys) else { return nil }
        if let version = required(top, "version", in: root, what: "the policy").flatMap({ scalar($0, what: "version") }
        ),
            version.name != "1"
        {
            problem(
                .invalidValue, "unsupported policy version '\(version.name)' (this engine reads version 1)",
                top["version"]?.value)
        }
        var policy = AccessPolicy(resourceTypes: [], roles: [], rules: [])
        if let zone = top["timeZone"].flatMap({ scalar($0.value, what: "timeZone") }) {
            policy.timeZone = zone.name
            policy.timeZoneLocation = zone.location
        }
        policy.actions = top["actions"].map { names($0.value, what: "actions") } ?? []
        policy.sensitivityLabels = top["sensitivityLabels"].map { names($0.value, what: "sensitivityLabels") } ?? []
        if let types = required(top, "resourceTypes", in: root, what: "the policy") {
            policy.resourceTypes = sequence(types, what: "resourceTypes").compactMap { resourceType($0) }
        }
        if let roles = required(top, "roles", in: root, what: "the policy") {
            policy.roles = sequence(roles, what: "roles").compactMap { role($0) }
        }
        if let rules = required(top, "rules", in: root, what: "the policy") {
            policy.rules = sequence(rules, what: "rules").compactMap { rule($0) }
        }
        if let breakGlass = top["breakGlass"] {
            policy.breakGlass = self.breakGlass(breakGlass.value)
        }
        return policy
    }

    private mutating func resourceType(_ node: Node) -> AccessPolicy.ResourceTypeDefinition? {
        guard let entries = mapping(node, what: "a resource type", allowed: ["name", "fields", "actions"]),
            let name = required(entries, "name", in: node, what: "a resource type").flatMap({
                scalar($0, what: "a resource type's name")
            })
        else { return nil }
        return AccessPolicy.ResourceTypeDefinition(
            name: name, fields: entries["fields"].map { names($0.value, what: "fields") } ?? [],
            actions: entries["actions"].map { names($0.value, what: "actions") })
    }

    private mutating func role(_ node: Node) -> AccessPolicy.RoleDefinition? {
        if case .scalar = node {
            return scalar(node, what: "a role").map { AccessPolicy.RoleDefinition(name: $0) }
        }
        guard let entries = mapping(node, what: "a role", allowed: ["name", "inherits", "description"]),
            let name = required(entries, "name", in: node, what: "a role").flatMap({ scalar($0, what: "a role's name") }
            )
        else { return nil }
        if let description = entries["description"] { _ = scalar(description.value, what: "description") }
        return AccessPolicy.RoleDefinition(
            name: name, inherits: entries["inherits"].map { names($0.value, what: "inherits") } ?? [])
    }

    private mutating func rule(_ node: Node) -> AccessPolicy.Rule? {
        let keys: Set<String> = [
            "id", "effect", "roles", "actions", "resourceTypes", "fields", "when", "description",
        ]
        guard let entries = mapping(node, what: "a rule", allowed: keys) else { return nil }
        let id = required(entries, "id", in: node, what: "a rule").flatMap { scalar($0, what: "a rule id") }
        var effect: AccessPolicy.Effect?
        if let value = required(entries, "effect", in: node, what: "a rule").flatMap({ scalar($0, what: "effect") }) {
            effect = AccessPolicy.Effect(rawValue: value.name)
            if effect == nil {
                problem(.schema, "effect must be 'allow' or 'deny', not '\(value.name)'", entries["effect"]?.value)
            }
        }
        let roles = required(entries, "roles", in: node, what: "a rule").map { names($0, what: "roles") }
        let actions = required(entries, "actions", in: node, what: "a rule").map { names($0, what: "actions") }
        let types = required(entries, "resourceTypes", in: node, what: "a rule").map {
            names($0, what: "resourceTypes")
        }
        let fields = entries["fields"].map { names($0.value, what: "fields") }
        let condition = entries["when"].map { self.condition($0.value) } ?? AccessPolicy.Condition()
        if let description = entries["description"] { _ = scalar(description.value, what: "description") }
        guard let id, let effect, let roles, let actions, let types else { return nil }
        return AccessPolicy.Rule(
            id: id, effect: effect, roles: roles, actions: actions, resourceTypes: types, fields: fields,
            condition: condition, location: location(node))
    }

    private mutating func condition(_ node: Node) -> AccessPolicy.Condition {
        var condition = AccessPolicy.Condition()
        let keys: Set<String> = ["relationship", "labelsNoneOf", "labelsAnyOf", "attributes", "timeOfDay"]
        guard let entries = mapping(node, what: "a condition (`when`)", allowed: keys) else { return condition }
        if let relationship = entries["relationship"].flatMap({ scalar($0.value, what: "relationship") }) {
            if let value = AccessPolicy.Relationship(rawValue: relationship.name) {
                condition.relationship = value
                condition.relationshipLocation = relationship.location
            } else {
                problem(
                    .schema, "relationship must be self, careTeam or selfOrCareTeam, not '\(relationship.name)'",
                    entries["relationship"]?.value)
            }
        }
        condition.labelsNoneOf = entries["labelsNoneOf"].map { names($0.value, what: "labelsNoneOf") } ?? []
        condition.labelsAnyOf = entries["labelsAnyOf"].map { names($0.value, what: "labelsAnyOf") } ?? []
        if let attributes = entries["attributes"] {
            condition.attributes = sequence(attributes.value, what: "attributes").compactMap { comparison($0) }
        }
        if let window = entries["timeOfDay"] {
            condition.timeOfDay = timeWindow(window.value)
        }
        return condition
    }

    private mutating func comparison(_ node: Node) -> AccessPolicy.AttributeComparison? {
        let keys: Set<String> = ["resource", "subject", "equals", "notEquals", "equalsSubject", "notEqualsSubject"]
        guard let entries = mapping(node, what: "an attribute comparison", allowed: keys) else { return nil }
        let sides = ["resource", "subject"].filter { entries[$0] != nil }
        let operands = ["equals", "notEquals", "equalsSubject", "notEqualsSubject"].filter { entries[$0] != nil }
        guard sides.count == 1, operands.count == 1, let side = sides.first, let operand = operands.first,
            let key = entries[side].flatMap({ scalar($0.value, what: side) }),
            let value = entries[operand].flatMap({ scalar($0.value, what: operand) })
        else {
            problem(
                .schema,
                "an attribute comparison needs exactly one of resource/subject and one of equals/notEquals/equalsSubject/notEqualsSubject",
                node)
            return nil
        }
        return AccessPolicy.AttributeComparison(
            side: side == "resource" ? .resource : .subject, key: key.name,
            operand: operand.hasSuffix("Subject") ? .subjectAttribute(value.name) : .value(value.name),
            negated: operand.hasPrefix("not"), location: location(node))
    }

    private mutating func timeWindow(_ node: Node) -> AccessPolicy.TimeWindow? {
        guard let entries = mapping(node, what: "timeOfDay", allowed: ["from", "to"]) else { return nil }
        guard let from = required(entries, "from", in: node, what: "timeOfDay").flatMap({ clockTime($0) }),
            let to = required(entries, "to", in: node, what: "timeOfDay").flatMap({ clockTime($0) })
        else { return nil }
        return AccessPolicy.TimeWindow(fromMinute: from, toMinute: to, location: location(node))
    }

    /// `HH:MM`, 00:00 to 23:59.
    private mutating func clockTime(_ node: Node) -> Int? {
        guard let text = scalar(node, what: "a time of day") else { return nil }
        let parts = text.name.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hours = Int(parts[0]),
            let minutes = Int(parts[1]), (0..<24).contains(hours), (0..<60).contains(minutes)
        {
            return hours * 60 + minutes
        }
        problem(.invalidValue, "'\(text.name)' is not a time of day (HH:MM, 00:00 to 23:59)", node)
        return nil
    }

    private mutating func breakGlass(_ node: Node) -> AccessPolicy.BreakGlassPolicy? {
        guard let entries = mapping(node, what: "breakGlass", allowed: ["roles", "maxDuration", "grants"]) else {
            return nil
        }
        let roles = required(entries, "roles", in: node, what: "breakGlass").map { names($0, what: "roles") }
        let duration = required(entries, "maxDuration", in: node, what: "breakGlass").flatMap { durationSeconds($0) }
        let grants = required(entries, "grants", in: node, what: "breakGlass").map {
            sequence($0, what: "grants").compactMap { grant($0) }
        }
        guard let roles, let duration, let grants else { return nil }
        return AccessPolicy.BreakGlassPolicy(
            roles: roles, maximumDurationSeconds: duration, grants: grants, location: location(node))
    }

    private mutating func grant(_ node: Node) -> AccessPolicy.BreakGlassPolicy.Grant? {
        guard
            let entries = mapping(node, what: "a break-glass grant", allowed: ["actions", "resourceTypes", "fields"]),
            let actions = required(entries, "actions", in: node, what: "a break-glass grant").map({
                names($0, what: "actions")
            }),
            let types = required(entries, "resourceTypes", in: node, what: "a break-glass grant").map({
                names($0, what: "resourceTypes")
            })
        else { return nil }
        return AccessPolicy.BreakGlassPolicy.Grant(
            actions: actions, resourceTypes: types, fields: entries["fields"].map { names($0.value, what: "fields") },
            location: location(node))
    }

    /// `90s`, `30m`, `4h`.
    private mutating func durationSeconds(_ node: Node) -> Int? {
        guard let text = scalar(node, what: "maxDuration") else { return nil }
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600]
        if let unit = text.name.last, let scale = units[unit], let amount = Int(text.name.dropLast()), amount > 0,
            amount <= 1_000_000
        {
            return amount * scale
        }
        problem(.invalidValue, "'\(text.name)' is not a duration (a number followed by s, m or h)", node)
        return nil
    }
}
