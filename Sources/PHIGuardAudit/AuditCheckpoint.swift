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
        guard let chain = Hex.decode(try container.decode(String.self, forKey: .chain)),
            let signature = Hex.decode(try container.decode(String.self, forKey: .signature))
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

/// Lower-case hex for chain values and signatures in JSON and SQL text.
package enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Lower-case hex of `bytes`.
    package static func encode(_ bytes: [UInt8]) -> String {
        var output = [UInt8]()
        output.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes lower- or upper-case hex; `nil` for odd length or a non-hex character.
    package static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0, utf8.count <= 1024 else { return nil }
        var output = [UInt8]()
        output.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            output.append(high << 4 | low)
            index += 2
        }
        return output
    }

    private static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
