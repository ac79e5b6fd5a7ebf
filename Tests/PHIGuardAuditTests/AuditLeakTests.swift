import Foundation
import PHIGuardCrypto
import PHIGuardTestSupport
import Testing

@testable import PHIGuardAudit

@Suite("Audit events hold identifiers only: no PHI values, no secrets")
struct AuditLeakTests {
    /// Values a careless caller might have at hand when it records an event.
    static let plantedPHI = [
        "Jane Q. Doe", "jane.doe@example.org phone 555 0100", "Diagnosis: HIV positive", "DOB 1962/03/14 Boston",
        "SELECT * FROM patients WHERE name = 'Doe'", "at PHIGuardAudit.AuditLog.append(_:) (AuditLog.swift:120)",
        "123 Main St, Springfield", "free text note\nsecond line",
    ]
    static let plantedSecrets = [
        "correct horse battery staple", "JBSWY3DPEHPK3PXP+secret=", "Bearer eyJhbGciOi.J9+/x=",
        "sess=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==",
    ]

    @Test("Every string field rejects planted PHI values and secrets, and the error does not echo them")
    func fieldsRejectValues() throws {
        for planted in Self.plantedPHI + Self.plantedSecrets {
            let attempts: [() throws -> AuditEvent] = [
                { try .login(succeeded: false, userID: planted) },
                { try .login(succeeded: false, userID: "u1", reason: planted) },
                { try .session(.sessionCreated, userID: "u1", sessionID: planted) },
                { try .mfa(.mfaFailed, userID: "u1", succeeded: false, factor: planted) },
                {
                    try .accessDecision(
                        actorID: "u1", role: "nurse", action: "read", resourceType: "Observation",
                        patientID: planted, allowed: true)
                },
                {
                    try .accessDecision(
                        actorID: "u1", role: "nurse", action: "read", resourceType: "Observation",
                        fieldsReturned: [planted], allowed: true)
                },
                {
                    try .accessDecision(
                        actorID: "u1", role: "nurse", action: "read", resourceType: "Observation", allowed: true,
                        breakGlass: planted)
                },
                { try .keyRotated(keyRingID: "ring", fromKeyID: planted, toKeyID: "k2") },
                { try .policyReloaded(policyID: "p", version: planted) },
                { try .breakGlassReviewed(sequence: 1, reviewerID: "r", outcome: planted) },
            ]
            for attempt in attempts {
                do {
                    _ = try attempt()
                    Issue.record("a planted value was accepted")
                } catch let error as AuditError {
                    #expect(!error.description.contains(planted))
                    if case .invalidIdentifier = error {} else { Issue.record("unexpected error \(error)") }
                } catch {
                    Issue.record("unexpected error type")
                }
            }
        }
    }

    @Test("Rendered records of every event kind contain no planted PHI, secret or key material")
    func renderedRecordsAreClean() async throws {
        var chainKeyBytes = Array((0..<32).map { _ in UInt8.random(in: 0...255) })
        let chainKeyCopy = chainKeyBytes
        var seed = Array((0..<32).map { _ in UInt8.random(in: 0...255) })
        let seedCopy = seed
        let chainKey = try AuditChainKey(bytes: &chainKeyBytes)
        let signingKey = try AuditSigningKey(seed: &seed)
        #expect(chainKeyBytes.allSatisfy { $0 == 0 } && seed.allSatisfy { $0 == 0 })

        let sink = InMemoryAuditSink()
        let log = try await AuditLog(sink: sink, chainKey: chainKey, signingKey: signingKey)
        let kinds = try AuditFixtures.everyKind()
        #expect(Set(kinds.map(\.kind)) == Set(AuditEventKind.allCases))
        for event in kinds { try await log.append(event) }
        try await log.close()

        var rendered: [String] = [chainKey.description, signingKey.description, "\(chainKey)", "\(signingKey)"]
        let exporter = FHIRAuditEventExporter(sourceID: "portal-1")
        let encoder = JSONEncoder()
        for record in sink.allEntries.records {
            rendered.append(String(decoding: try encoder.encode(record), as: UTF8.self))
            rendered.append(try exporter.jsonLine(for: record))
            rendered.append(String(describing: record))
            rendered.append(AuditRecordColumns(record).fields + AuditRecordColumns(record).attributes)
        }
        for checkpoint in try await sink.checkpoints() {
            rendered.append(String(decoding: try encoder.encode(checkpoint), as: UTF8.self))
        }
        let keyForms = [chainKeyCopy, seedCopy].flatMap { bytes in
            [bytes.hex, Base64.encode(bytes, variant: .standard), Base64.encode(bytes, variant: .standardUnpadded)]
        }
        for text in rendered {
            for planted in Self.plantedPHI + Self.plantedSecrets + keyForms {
                #expect(!text.contains(planted))
            }
        }
    }
}
