/// A record split into the columns the SQL sinks store (shared by `PHIGuardSQLite` and
/// `PHIGuardPostgres`). Lists are JSON arrays of strings, attributes a JSON object with sorted keys.
///
/// Every column takes part in verification: a record is rebuilt from all of them, so editing
/// any column (even an indexed one such as `patient_id`) breaks the chain.
package struct AuditRecordColumns: Sendable {
    package var sequence: Int64
    package var timestamp: Int64
    package var kind: String
    package var actorID: String?
    package var actorRole: String?
    package var sessionID: String?
    package var action: String?
    package var resourceType: String?
    package var resourceID: String?
    package var patientID: String?
    package var fields: String
    package var outcome: String
    package var reason: String?
    package var ruleIDs: String
    package var breakGlass: Bool
    package var breakGlassReason: String?
    package var relatedSequence: Int64?
    package var attributes: String
    package var chain: [UInt8]

    /// The column names in insert order.
    package static let names = [
        "sequence", "timestamp", "kind", "actor_id", "actor_role", "session_id", "action", "resource_type",
        "resource_id", "patient_id", "fields", "outcome", "reason", "rule_ids", "break_glass", "break_glass_reason",
        "related_sequence", "attributes", "chain",
    ]

    package init(
        sequence: Int64, timestamp: Int64, kind: String, actorID: String?, actorRole: String?, sessionID: String?,
        action: String?, resourceType: String?, resourceID: String?, patientID: String?, fields: String,
        outcome: String, reason: String?, ruleIDs: String, breakGlass: Bool, breakGlassReason: String?,
        relatedSequence: Int64?, attributes: String, chain: [UInt8]
    ) {
        self.sequence = sequence
        self.timestamp = timestamp
        self.kind = kind
        self.actorID = actorID
        self.actorRole = actorRole
        self.sessionID = sessionID
        self.action = action
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.patientID = patientID
        self.fields = fields
        self.outcome = outcome
        self.reason = reason
        self.ruleIDs = ruleIDs
        self.breakGlass = breakGlass
        self.breakGlassReason = breakGlassReason
        self.relatedSequence = relatedSequence
        self.attributes = attributes
        self.chain = chain
    }

    package init(_ record: AuditRecord) {
        let event = record.event
        self.init(
            sequence: Int64(bitPattern: record.sequence), timestamp: event.timestamp, kind: event.kind.rawValue,
            actorID: event.actorID, actorRole: event.actorRole, sessionID: event.sessionID, action: event.action,
            resourceType: event.resourceType, resourceID: event.resourceID, patientID: event.patientID,
            fields: Self.encodeList(event.fields), outcome: event.outcome.rawValue, reason: event.reason,
            ruleIDs: Self.encodeList(event.ruleIDs), breakGlass: event.breakGlass,
            breakGlassReason: event.breakGlassReason,
            relatedSequence: event.relatedSequence.map { Int64(bitPattern: $0) },
            attributes: Self.encodeAttributes(event.attributes), chain: record.chain)
    }

    /// The record, or `nil` if a column does not parse or holds a sequence number no writer could have
    /// given (outside ``AuditRecord/possibleSequences``): reported as ``AuditLogEntry/unreadable``.
    package var record: AuditRecord? {
        guard AuditRecord.possibleSequences.contains(UInt64(bitPattern: sequence)),
            relatedSequence.map({ AuditRecord.possibleSequences.contains(UInt64(bitPattern: $0)) }) ?? true,
            let kind = AuditEventKind(rawValue: kind), let outcome = AuditOutcome(rawValue: outcome),
            let fields = Self.decodeList(fields), let ruleIDs = Self.decodeList(ruleIDs),
            let attributes = Self.decodeAttributes(attributes)
        else { return nil }
        let event = AuditEvent(
            unchecked: kind, timestamp: timestamp, actorID: actorID, actorRole: actorRole, sessionID: sessionID,
            action: action, resourceType: resourceType, resourceID: resourceID, patientID: patientID, fields: fields,
            outcome: outcome, reason: reason, ruleIDs: ruleIDs, breakGlass: breakGlass,
            breakGlassReason: breakGlassReason, relatedSequence: relatedSequence.map { UInt64(bitPattern: $0) },
            attributes: attributes)
        return AuditRecord(sequence: UInt64(bitPattern: sequence), event: event, chain: chain)
    }

    package var entry: AuditLogEntry { record.map { .record($0) } ?? .unreadable }

    // Minimal JSON for lists of strings: cheap to write on the hot path, strict to read.

    package static func encodeList(_ values: [String]) -> String {
        if values.isEmpty { return "[]" }
        return "[" + values.map(quote).joined(separator: ",") + "]"
    }

    package static func encodeAttributes(_ values: [String: String]) -> String {
        if values.isEmpty { return "{}" }
        let sorted = values.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return "{" + sorted.map { quote($0.key) + ":" + quote($0.value) }.joined(separator: ",") + "}"
    }

    static func quote(_ value: String) -> String {
        var output = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }

    package static func decodeList(_ text: String) -> [String]? {
        if text == "[]" { return [] }
        var parser = MiniJSONParser(text)
        return parser.parseStringArray()
    }

    package static func decodeAttributes(_ text: String) -> [String: String]? {
        if text == "{}" { return [:] }
        var parser = MiniJSONParser(text)
        return parser.parseStringObject()
    }
}

/// Parses exactly a JSON array of strings or an object of string values (nothing else accepted).
struct MiniJSONParser {
    private let bytes: [UInt8]
    private var index = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    mutating func parseStringArray() -> [String]? {
        guard consume(UInt8(ascii: "[")) else { return nil }
        var values: [String] = []
        if consume(UInt8(ascii: "]")) { return atEnd ? values : nil }
        repeat {
            guard let value = parseString() else { return nil }
            values.append(value)
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]")) && atEnd ? values : nil
    }

    mutating func parseStringObject() -> [String: String]? {
        guard consume(UInt8(ascii: "{")) else { return nil }
        var values: [String: String] = [:]
        if consume(UInt8(ascii: "}")) { return atEnd ? values : nil }
        repeat {
            guard let key = parseString(), consume(UInt8(ascii: ":")), let value = parseString() else { return nil }
            guard values.updateValue(value, forKey: key) == nil else { return nil }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}")) && atEnd ? values : nil
    }

    private var atEnd: Bool { index == bytes.count }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func parseString() -> String? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        var output: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""): return String(validating: output, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escaped)
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count,
                        let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16),
                        code < 0x20
                    else { return nil }
                    output.append(UInt8(code))
                    index += 4
                default: return nil
                }
            case 0..<0x20: return nil
            default: output.append(byte)
            }
        }
        return nil
    }
}
