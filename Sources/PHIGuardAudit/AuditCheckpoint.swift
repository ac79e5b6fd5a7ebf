internal import PHIGuardCrypto

/// A signed statement "the log had `sequence` records and its chain value was `chain` at `timestamp`".
///
/// The log emits one every ``AuditLog/Configuration/checkpointInterval`` records and on
/// ``AuditLog/flush()`` / ``AuditLog/close()``, stores it in the sink and hands it to the exporter,
/// which should copy it off-host (a WORM bucket, a SIEM, another administrative domain). A log that
/// was cut back below an exported checkpoint is then reported as ``AuditChainBreak/Kind/truncated``.
///
/// The signature is Ed25519 over `"PGC1" ‖ u64 sequence ‖ chain (32 bytes) ‖ i64 timestamp`
/// (big-endian; see <doc:Checkpoints>).
public struct AuditCheckpoint: Sendable, Hashable, Codable {
    /// The sequence number of the last record covered.
    public let sequence: UInt64
    /// That record's chain value.
    public let chain: [UInt8]
    /// When the checkpoint was made, in microseconds since the Unix epoch.
    public let timestamp: Int64
    /// The Ed25519 signature.
    public let signature: [UInt8]

    /// A checkpoint as read from storage or an export (``AuditVerifier`` checks the signature).
    public init(sequence: UInt64, chain: [UInt8], timestamp: Int64, signature: [UInt8]) {
        self.sequence = sequence
        self.chain = chain
        self.timestamp = timestamp
        self.signature = signature
    }

    /// Signs a new checkpoint.
    init(sequence: UInt64, chain: [UInt8], timestamp: Int64, signingKey: AuditSigningKey) {
        self.sequence = sequence
        self.chain = chain
        self.timestamp = timestamp
        signature = signingKey.sign(Self.signedBytes(sequence: sequence, chain: chain, timestamp: timestamp))
    }

    /// Whether the signature is valid under `publicKey`.
    public func isValid(under publicKey: AuditCheckpointPublicKey) -> Bool {
        guard chain.count == 32 else { return false }
        return publicKey.isValidSignature(
            signature, for: Self.signedBytes(sequence: sequence, chain: chain, timestamp: timestamp))
    }

    static func signedBytes(sequence: UInt64, chain: [UInt8], timestamp: Int64) -> [UInt8] {
        var bytes = Array("PGC1".utf8)
        AuditCanonicalEncoding.appendUInt64(sequence, &bytes)
        bytes.append(contentsOf: chain)
        AuditCanonicalEncoding.appendUInt64(UInt64(bitPattern: timestamp), &bytes)
        return bytes
    }

    enum CodingKeys: String, CodingKey {
        case sequence = "seq"
        case chain
        case timestamp = "ts"
        case signature = "sig"
    }

    /// Decodes `{"seq":…,"chain":"<hex>","ts":…,"sig":"<hex>"}`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sequence = try container.decode(UInt64.self, forKey: .sequence)
        timestamp = try container.decode(Int64.self, forKey: .timestamp)
        guard let chain = Hex.decode(try container.decode(String.self, forKey: .chain), maximumByteCount: 512),
            let signature = Hex.decode(try container.decode(String.self, forKey: .signature), maximumByteCount: 512)
        else {
            throw DecodingError.dataCorruptedError(forKey: .chain, in: container, debugDescription: "not hex")
        }
        self.chain = chain
        self.signature = signature
    }

    /// Encodes as `{"seq":…,"chain":"<hex>","ts":…,"sig":"<hex>"}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(Hex.encode(chain), forKey: .chain)
        try container.encode(timestamp, forKey: .timestamp)
        try container.encode(Hex.encode(signature), forKey: .signature)
    }
}
