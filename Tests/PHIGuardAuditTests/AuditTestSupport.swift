import Foundation
import PHIGuardAudit
import Synchronization

/// Keys and events shared by the audit tests.
enum AuditFixtures {
    static func chainKey() throws -> AuditChainKey {
        var bytes = [UInt8](repeating: 7, count: 32)
        return try AuditChainKey(bytes: &bytes)
    }

    static func signingKey() throws -> AuditSigningKey {
        var seed = [UInt8](repeating: 9, count: 32)
        return try AuditSigningKey(seed: &seed)
    }

    static func verifier() throws -> AuditVerifier {
        AuditVerifier(chainKey: try chainKey(), checkpointKey: try signingKey().publicKey)
    }

    static let fixedDate = Date(timeIntervalSince1970: 1_763_884_800)

    /// An event using every field.
    static func fullEvent(_ index: Int = 0) throws -> AuditEvent {
        try AuditEvent(
            kind: .accessDecision, timestamp: 1_763_884_800_000_000 + Int64(index), actorID: "user:42",
            actorRole: "nurse", sessionID: "sess-7", action: "read", resourceType: "Observation",
            resourceID: "obs-\(index)", patientID: "MRN-000123", fields: ["code", "value"], outcome: .allow,
            reason: "policy-match", ruleIDs: ["r1", "r2"], breakGlass: true, breakGlassReason: "ETREAT",
            relatedSequence: 99, attributes: ["a": "1", "b": "2"])
    }

    /// The largest valid event: every string 128 bytes, 256 field names and rule ids, 32 attributes
    /// (about 70 KB encoded, far more than the chainer's initial 1 KiB message buffer).
    static func largestEvent() throws -> AuditEvent {
        func id(_ prefix: String, _ index: Int) -> String {
            let head = "\(prefix)-\(index)-"
            return head + String(repeating: "x", count: AuditIdentifier.maximumLength - head.utf8.count)
        }
        return try AuditEvent(
            kind: .accessDecision, timestamp: 1_763_884_800_000_000, actorID: id("actor", 0), actorRole: id("role", 0),
            sessionID: id("sess", 0), action: id("action", 0), resourceType: id("type", 0), resourceID: id("res", 0),
            patientID: id("MRN", 0), fields: (0..<256).map { id("field", $0) }, outcome: .allow,
            reason: id("reason", 0), ruleIDs: (0..<256).map { id("rule", $0) }, breakGlass: true,
            breakGlassReason: id("bg", 0), relatedSequence: 1,
            attributes: Dictionary(uniqueKeysWithValues: (0..<32).map { (id("key", $0), id("value", $0)) }))
    }

    /// One event of every kind, from the factories.
    static func everyKind(at date: Date = fixedDate) throws -> [AuditEvent] {
        [
            try .login(succeeded: true, userID: "user:1", sessionID: "sess-1", method: "password", at: date),
            try .login(succeeded: false, userID: "user:1", reason: "wrong-password", at: date),
            try .mfa(.mfaEnrolled, userID: "user:1", succeeded: true, factor: "totp", at: date),
            try .mfa(.mfaVerified, userID: "user:1", succeeded: true, factor: "totp", at: date),
            try .mfa(.mfaFailed, userID: "user:1", succeeded: false, factor: "totp", reason: "replayed-code", at: date),
            try .mfa(.mfaDisabled, userID: "user:1", succeeded: true, at: date),
            try .mfa(.mfaRecoveryCodeUsed, userID: "user:1", succeeded: true, at: date),
            try .session(.sessionCreated, userID: "user:1", sessionID: "sess-1", at: date),
            try .session(.sessionRefreshed, userID: "user:1", sessionID: "sess-2", at: date),
            try .session(.sessionRevoked, userID: "user:1", sessionID: "sess-2", reason: "logout", at: date),
            try .session(.sessionExpired, userID: "user:1", sessionID: "sess-2", reason: "idle-timeout", at: date),
            try .accessDecision(
                actorID: "user:1", role: "physician", action: "read", resourceType: "Observation", resourceID: "obs-1",
                patientID: "MRN-7", fieldsReturned: ["code", "value"], allowed: true, ruleIDs: ["own-patients"],
                at: date),
            try .accessDecision(
                actorID: "user:2", role: "clerk", action: "update", resourceType: "Patient", resourceID: "MRN-7",
                patientID: "MRN-7", allowed: false, ruleIDs: ["default-deny"], at: date),
            try .accessDecision(
                actorID: "user:3", role: "nurse", action: "read", resourceType: "MedicationRequest",
                resourceID: "med-4", patientID: "MRN-8", fieldsReturned: ["medication"], allowed: true,
                ruleIDs: ["break-glass"], breakGlass: "ETREAT", at: date),
            try .keyRotated(keyRingID: "phi-fields", fromKeyID: "k1", toKeyID: "k2", actorID: "admin:1", at: date),
            try .policyReloaded(policyID: "portal", version: "2026.11.1", actorID: "admin:1", at: date),
            try SecurityAlert(
                rule: .bulkAccess, timestamp: AuditEvent.timestamp(for: date), sequence: 12, actorID: "user:1",
                count: 51, windowSeconds: 3600
            ).auditEvent(),
            try .tamperDetected(table: "phiguard_sessions", rowID: "s-1", actorID: "u-3", at: date),
            try AuditEvent(
                kind: .breakGlassInvoked, timestamp: AuditEvent.timestamp(for: date), actorID: "user:7",
                sessionID: "s-1", action: "break-glass", resourceType: "break-glass-grant", resourceID: "g-1",
                patientID: "MRN-000123", outcome: .success, breakGlass: true, breakGlassReason: "ETREAT",
                attributes: ["break-glass-grant": "g-1"]),
            try AuditEvent(
                kind: .breakGlassRevoked, timestamp: AuditEvent.timestamp(for: date), actorID: "user:7",
                action: "revoke", resourceType: "break-glass-grant", resourceID: "g-1", outcome: .success,
                attributes: ["break-glass-grant": "g-1"]),
            try AuditEvent(
                kind: .breakGlassExpired, timestamp: AuditEvent.timestamp(for: date), actorID: "user:7",
                sessionID: "s-1", action: "expire", resourceType: "break-glass-grant", resourceID: "g-1",
                patientID: "MRN-000123", outcome: .success, reason: "expired", breakGlass: true,
                breakGlassReason: "ETREAT", relatedSequence: 12, attributes: ["break-glass-grant": "g-1"]),
            try .breakGlassReviewed(sequence: 14, reviewerID: "privacy:1", at: date),
        ]
    }

    /// A log of `count` events, written through `AuditLog` into memory.
    static func memoryLog(count: Int, checkpointInterval: UInt64 = 10) async throws -> InMemoryAuditSink {
        let sink = InMemoryAuditSink()
        let log = try await AuditLog(
            sink: sink, chainKey: try chainKey(), signingKey: try signingKey(),
            configuration: .init(batchSize: 64, checkpointInterval: checkpointInterval))
        let kinds = try everyKind()
        for index in 0..<count {
            try await log.append(kinds[index % kinds.count], durability: .queued)
        }
        try await log.close()
        return sink
    }
}

/// A sink whose failures tests switch on and off.
final class FlakySink: AuditSink, AuditRecordSource {
    struct Failure: Error {}
    let inner = InMemoryAuditSink()
    private let failing = Mutex(false)
    private let delay: Duration?

    init(failing: Bool = false, delay: Duration? = nil) {
        self.failing.withLock { $0 = failing }
        self.delay = delay
    }

    func setFailing(_ value: Bool) { failing.withLock { $0 = value } }

    func append(_ records: [AuditRecord], checkpoints: [AuditCheckpoint], expectingAfter: AuditRecord?) async throws {
        if let delay { try await Task.sleep(for: delay) }
        if failing.withLock({ $0 }) { throw Failure() }
        try await inner.append(records, checkpoints: checkpoints, expectingAfter: expectingAfter)
    }

    func lastRecord() async throws -> AuditRecord? {
        if failing.withLock({ $0 }) { throw Failure() }
        return try await inner.lastRecord()
    }

    func entries(from position: Int, limit: Int) async throws -> [AuditLogEntry] {
        try await inner.entries(from: position, limit: limit)
    }

    func checkpoints() async throws -> [AuditCheckpoint] { try await inner.checkpoints() }
}

extension AuditRecord {
    /// A copy with a different event (to simulate an edit).
    func replacingEvent(_ event: AuditEvent) -> AuditRecord {
        AuditRecord(sequence: sequence, event: event, chain: chain)
    }
}

extension Array where Element == AuditLogEntry {
    var records: [AuditRecord] {
        compactMap { if case .record(let record) = $0 { record } else { nil } }
    }
}
