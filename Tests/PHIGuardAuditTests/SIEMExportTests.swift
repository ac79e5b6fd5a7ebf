import Foundation
import PHIGuardAudit
import Testing

@Suite("SIEM export: RFC 5424 syslog and Elastic Common Schema")
struct SIEMExportTests {
    static func records() throws -> [AuditRecord] {
        try AuditFixtures.everyKind().enumerated().map { index, event in
            AuditRecord(sequence: UInt64(index + 1), event: event, chain: [UInt8](repeating: UInt8(index), count: 32))
        } + [AuditRecord(sequence: 99, event: try AuditFixtures.fullEvent(), chain: [UInt8](repeating: 1, count: 32))]
    }

    // RFC 5424 §6 ABNF, as a regular expression over one message:
    // SYSLOG-MSG = HEADER SP STRUCTURED-DATA [SP MSG]
    // HEADER = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
    static let printable = "[\\x21-\\x7E]"
    static let paramValue = #"(?:[^"\\\]]|\\["\\\]])*"#
    static let timestamp = #"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})"#

    static func matchesGrammar(_ line: String) -> Bool {
        let name = "[!#-<>-\\\\^-~]{1,32}"  // PRINTUSASCII except '=', ']', '"' (and SP)
        let element = "\\[\(name)(?: \(name)=\"\(paramValue)\")*\\]"
        let pattern =
            "^<(?:[0-9]|[1-9][0-9]|1[0-8][0-9]|19[01])>1 \(timestamp) \(printable){1,255} \(printable){1,48} "
            + "\(printable){1,128} \(printable){1,32} (?:-|(?:\(element))+)(?: .*)?$"
        return line.range(of: pattern, options: .regularExpression) != nil
    }

    @Test("every record is one RFC 5424 message: PRI, version, UTC timestamp, structured data")
    func syslogGrammar() throws {
        let exporter = SyslogAuditExporter(hostname: "portal-1.example.org")
        for record in try Self.records() {
            let line = exporter.line(for: record)
            #expect(Self.matchesGrammar(line), "\(line)")
            #expect(!line.contains("\n"))
            #expect(line.contains(" seq=\"\(record.sequence)\""))
            #expect(line.contains("[phiguard@32473 "))
        }
        let denied = try Self.records()[12]  // update denied
        #expect(exporter.line(for: denied).hasPrefix("<108>1 "))  // 13 * 8 + 4 (warning)
        let allowed = try Self.records()[11]
        #expect(
            exporter.line(for: allowed).hasPrefix(
                "<110>1 2025-11-23T08:00:00.000000Z portal-1.example.org phiguard - access.decision "))
    }

    @Test("SD-PARAM values escape '\"', '\\\\' and ']'; names and header fields stay in the grammar")
    func syslogEscaping() async throws {
        #expect(SyslogAuditExporter.escapeParameterValue(#"a"b\c]d"#) == #"a\"b\\c\]d"#)
        #expect(SyslogAuditExporter.escapeParameterValue("line\nbreak") == "line?break")
        // Stored records are not re-checked, so an edited log may hold anything: it must still parse.
        let hostile = try await Self.hostileRecord()
        let exporter = SyslogAuditExporter(hostname: "host with spaces", appName: "")
        let line = exporter.line(for: hostile)
        #expect(Self.matchesGrammar(line), "\(line)")
        #expect(line.contains(#"actor="evil\"\] [x@1 y=\"z\\<script>"#), "\(line)")
        #expect(line.contains(" host_with_spaces - - "))
    }

    /// A record read back from a JSON-lines file whose actor was edited to hold syslog and HTML metacharacters.
    static func hostileRecord() async throws -> AuditRecord {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("siem-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("log.jsonl").path
        let line =
            #"{"seq":1,"ts":1763884800000000,"kind":"access.decision","actor":"evil\"] [x@1 y=\"z\\<script>alert(1)</script>","#
            + #""role":"nurse","action":"read","resourceType":"Observation","patient":"MRN-1","outcome":"allow","chain":"00"}"#
        try Data((line + "\n").utf8).write(to: URL(fileURLWithPath: path))
        let entries = try await JSONLinesAuditSink.reader(path: path).allEntriesForTests()
        return try #require(entries.first)
    }

    // ECS 8.x field names this exporter may use (from the ECS field reference): base, ecs, event,
    // user, rule, source, service, host; and free-form `labels.*` keys without dots.
    static let ecsFields: Set<String> = [
        "@timestamp", "message", "ecs.version", "event.kind", "event.category", "event.type", "event.action",
        "event.outcome", "event.sequence", "event.id", "event.dataset", "event.module", "event.severity",
        "event.reason", "user.id", "user.roles", "rule.id", "source.address", "service.name", "host.name",
    ]
    static let ecsAllowed: [String: Set<String>] = [
        "event.kind": ["alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal"],
        "event.outcome": ["failure", "success", "unknown"],
        "event.category": [
            "api", "authentication", "configuration", "database", "driver", "email", "file", "host", "iam",
            "intrusion_detection", "library", "malware", "network", "package", "process", "registry", "session",
            "threat", "vulnerability", "web",
        ],
        "event.type": [
            "access", "admin", "allowed", "change", "connection", "creation", "deletion", "denied", "end", "error",
            "group", "indicator", "info", "installation", "protocol", "start", "user",
        ],
    ]

    static func flatten(_ object: [String: Any], prefix: String = "") -> [String: Any] {
        var out: [String: Any] = [:]
        for (key, value) in object {
            let name = prefix.isEmpty ? key : prefix + "." + key
            if let nested = value as? [String: Any], key != "labels" || !prefix.isEmpty {
                out.merge(flatten(nested, prefix: name)) { $1 }
            } else if let labels = value as? [String: Any] {
                for (label, value) in labels { out["labels." + label] = value }
            } else {
                out[name] = value
            }
        }
        return out
    }

    @Test("ECS lines use only ECS field names and allowed categorisation values")
    func ecsFieldNames() throws {
        let exporter = ECSAuditExporter(hostName: "portal-1")
        var sawAlert = false
        let alert = try SecurityAlert(rule: .bulkAccess, timestamp: 1, sequence: 3, actorID: "user:1", count: 51)
            .auditEvent()
        for record in try Self.records() + [AuditRecord(sequence: 100, event: alert, chain: [1])] {
            let line = try exporter.jsonLine(for: record)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let fields = Self.flatten(object)
            for name in fields.keys {
                if name.hasPrefix("labels.") {
                    let key = String(name.dropFirst(7))
                    #expect(key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }, "label \(name)")
                } else {
                    #expect(Self.ecsFields.contains(name), "not an ECS field: \(name)")
                }
            }
            for (field, allowed) in Self.ecsAllowed {
                let values = (fields[field] as? [String]) ?? [(fields[field] as? String)].compactMap { $0 }
                #expect(!values.isEmpty, "\(field) missing")
                for value in values { #expect(allowed.contains(value), "\(field)=\(value)") }
            }
            #expect(fields["event.sequence"] as? Int == Int(record.sequence))
            #expect((fields["@timestamp"] as? String)?.hasSuffix("Z") == true)
            if record.event.kind == .securityAlert {
                sawAlert = true
                #expect(fields["event.kind"] as? String == "alert")
                #expect(fields["rule.id"] as? [String] == ["bulk-access"])
            }
        }
        #expect(sawAlert)
        let full = exporter.document(for: try Self.records().last!)
        let flat = Self.flatten(full)
        #expect(flat["user.id"] as? String == "user:42")
        #expect(flat["labels.patient_id"] as? String == "MRN-000123")
        #expect(flat["labels.break_glass"] as? String == "true")
        #expect(flat["rule.id"] as? [String] == ["r1", "r2"])
    }
}

extension JSONLinesAuditSink {
    /// Every record the file holds (test helper).
    func allEntriesForTests() async throws -> [AuditRecord] {
        try await entries(from: 0, limit: 1_000_000).records
    }
}
