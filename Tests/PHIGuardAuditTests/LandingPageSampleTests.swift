// The code sample of the PHIGuardAudit landing page (Sources/PHIGuardAudit/PHIGuardAudit.docc/
// PHIGuardAudit.md), compiled and run here: keep the two in step.
import Foundation
import PHIGuardAudit
import Testing

/// Where the sample's checkpoints go (an off-host store in a real deployment).
actor OffHostStore {
    var saved: [AuditCheckpoint] = []
    func save(_ checkpoint: AuditCheckpoint) { saved.append(checkpoint) }
}

/// The sample's observation store.
struct ObservationStore {
    func observation(_ id: String) async throws -> String { "observation \(id)" }
}

// MARK: Landing page sample (begin)

func landingPageSample(
    chainKeyFileContents: String, signingKeyFileContents: String, path: String, offHostStore: OffHostStore,
    store: ObservationStore, userID: String, patientID: String, id: String
) async throws -> (observation: String, report: AuditVerificationReport) {
    let chainKey = try AuditChainKey(base64: chainKeyFileContents)
    let signingKey = try AuditSigningKey(base64: signingKeyFileContents)
    let log = try await AuditLog(
        sink: try JSONLinesAuditSink(path: path),  // for example /var/log/portal/audit.jsonl
        chainKey: chainKey, signingKey: signingKey,
        checkpointExporter: { checkpoint in await offHostStore.save(checkpoint) })

    // A PHI read: recorded (committed) first, refused if the event cannot be recorded. (With
    // PHIGuardRecords, `GuardedRecords.read` builds this event from the access decision for you.)
    let observation = try await log.performAudited(
        try .accessDecision(
            actorID: userID, role: "nurse", action: "read", resourceType: "Observation",
            resourceID: id, patientID: patientID, fieldsReturned: ["code", "value"],
            allowed: true, ruleIDs: ["nurse-reads-observations"])
    ) { try await store.observation(id) }

    // Later, an auditor:
    try await log.close()
    let report = try await AuditVerifier(chainKey: chainKey, checkpointKey: signingKey.publicKey)
        .verify(try JSONLinesAuditSink.reader(path: path), checkpoints: await offHostStore.saved)
    return (observation, report)
}

// MARK: Landing page sample (end)

@Suite("The landing page's sample")
struct LandingPageSampleTests {
    @Test("a committed read, then a verification that finds the log intact")
    func sampleRuns() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("landing-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func keyText() -> String { Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString() }
        let (observation, report) = try await landingPageSample(
            chainKeyFileContents: keyText(), signingKeyFileContents: keyText(),
            path: directory.appendingPathComponent("audit.jsonl").path, offHostStore: OffHostStore(),
            store: ObservationStore(), userID: "u-1", patientID: "p-1", id: "obs-1")
        #expect(observation == "observation obs-1")
        guard case .intact(let records, _, _) = report else {
            Issue.record("the sample's log does not verify: \(report)")
            return
        }
        #expect(records >= 1)
    }
}
