internal import PHIGuardCrypto

/// The JSON form of a record, used by the JSON-lines sink and the CLI (see <doc:RecordFormat>).
///
/// Keys: `seq`, `ts`, `kind`, `actor`, `role`, `session`, `action`, `resourceType`, `resourceID`,
/// `patient`, `fields`, `outcome`, `reason`, `rules`, `breakGlass`, `breakGlassReason`, `related`,
/// `attributes`, `chain` (lower-case hex). Absent optionals, empty lists and a false `breakGlass`
/// are omitted. The JSON is only a carrier: the chain covers the canonical binary encoding of
/// the decoded values, so whitespace or key order do not matter, but every value does.
extension AuditRecord: Codable {
    enum CodingKeys: String, CodingKey {
        case sequence = "seq"
        case timestamp = "ts"
        case kind, actor, role, session, action, resourceType, resourceID, patient, fields, outcome, reason
        case rules, breakGlass, breakGlassReason, related, attributes, chain
    }

    /// Decodes a record; a bad chain hex, or a `seq` or `related` outside 1 to 2^63 − 1, is a decoding
    /// error (the entry reads as ``AuditLogEntry/unreadable``).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let event = AuditEvent(
            unchecked: try c.decode(AuditEventKind.self, forKey: .kind),
            timestamp: try c.decode(Int64.self, forKey: .timestamp),
            actorID: try c.decodeIfPresent(String.self, forKey: .actor),
            actorRole: try c.decodeIfPresent(String.self, forKey: .role),
            sessionID: try c.decodeIfPresent(String.self, forKey: .session),
            action: try c.decodeIfPresent(String.self, forKey: .action),
            resourceType: try c.decodeIfPresent(String.self, forKey: .resourceType),
            resourceID: try c.decodeIfPresent(String.self, forKey: .resourceID),
            patientID: try c.decodeIfPresent(String.self, forKey: .patient),
            fields: try c.decodeIfPresent([String].self, forKey: .fields) ?? [],
            outcome: try c.decode(AuditOutcome.self, forKey: .outcome),
            reason: try c.decodeIfPresent(String.self, forKey: .reason),
            ruleIDs: try c.decodeIfPresent([String].self, forKey: .rules) ?? [],
            breakGlass: try c.decodeIfPresent(Bool.self, forKey: .breakGlass) ?? false,
            breakGlassReason: try c.decodeIfPresent(String.self, forKey: .breakGlassReason),
            relatedSequence: try c.decodeIfPresent(UInt64.self, forKey: .related),
            attributes: try c.decodeIfPresent([String: String].self, forKey: .attributes) ?? [:])
        guard let chain = Hex.decode(try c.decode(String.self, forKey: .chain), maximumByteCount: 512) else {
            throw DecodingError.dataCorruptedError(forKey: .chain, in: c, debugDescription: "chain is not hex")
        }
        let sequence = try c.decode(UInt64.self, forKey: .sequence)
        guard AuditRecord.possibleSequences.contains(sequence),
            event.relatedSequence.map(AuditRecord.possibleSequences.contains) ?? true
        else {
            throw DecodingError.dataCorruptedError(
                forKey: .sequence, in: c, debugDescription: "sequence out of range (1 to 2^63 - 1)")
        }
        self.init(sequence: sequence, event: event, chain: chain)
    }

    /// Encodes a record (omitting absent values).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sequence, forKey: .sequence)
        try c.encode(event.timestamp, forKey: .timestamp)
        try c.encode(event.kind, forKey: .kind)
        try c.encodeIfPresent(event.actorID, forKey: .actor)
        try c.encodeIfPresent(event.actorRole, forKey: .role)
        try c.encodeIfPresent(event.sessionID, forKey: .session)
        try c.encodeIfPresent(event.action, forKey: .action)
        try c.encodeIfPresent(event.resourceType, forKey: .resourceType)
        try c.encodeIfPresent(event.resourceID, forKey: .resourceID)
        try c.encodeIfPresent(event.patientID, forKey: .patient)
        if !event.fields.isEmpty { try c.encode(event.fields, forKey: .fields) }
        try c.encode(event.outcome, forKey: .outcome)
        try c.encodeIfPresent(event.reason, forKey: .reason)
        if !event.ruleIDs.isEmpty { try c.encode(event.ruleIDs, forKey: .rules) }
        if event.breakGlass { try c.encode(true, forKey: .breakGlass) }
        try c.encodeIfPresent(event.breakGlassReason, forKey: .breakGlassReason)
        try c.encodeIfPresent(event.relatedSequence, forKey: .related)
        if !event.attributes.isEmpty { try c.encode(event.attributes, forKey: .attributes) }
        try c.encode(Hex.encode(chain), forKey: .chain)
    }
}
