internal import Foundation
internal import PHIGuardAccess
internal import PHIGuardAudit
public import PHIGuardAuthentication
internal import PHIGuardRecords
internal import PHIGuardSQLite

/// The result of ``Portal/verifyAuditLog(token:)``.
public struct PortalAuditVerification: Sendable, Hashable {
    /// Whether every record verifies and every checkpoint (stored and witnessed) matches.
    public let isIntact: Bool
    /// The records verified (intact logs only; 0 when broken).
    public let records: Int
    /// The checkpoints checked (intact logs only).
    public let checkpointsChecked: Int
    /// The breaks found (0 when intact).
    public let breakCount: Int
    /// The first break, described (`modified at position 41 (…)`), when broken.
    public let firstBreak: String?
}

extension Portal {
    /// The break-glass grants of the signed-in user in force now in this session (for a banner),
    /// soonest expiry first. Reads the grant store only: no PHI, nothing decided. Takes the session
    /// a front end resumed already (``session(_:attempt:)``, or its web adapter's).
    public func activeGrants(in session: AuthenticatedSession) async throws -> [PortalGrant] {
        let records = try await breakGlassStore.activeGrants(
            subjectID: session.principal.subject.id, sessionHandle: session.record.handle, at: engine.clock.now)
        return records.sorted { $0.expiresAt < $1.expiresAt }.map { record in
            PortalGrant(id: record.id, patientIDs: record.patientIDs, expiresAt: record.expiresAt)
        }
    }

    /// Verifies the portal's audit chain read-only, as `phiguard audit verify --witness` does: every
    /// record's chain link, the checkpoints stored beside the log and those in the witness file
    /// (``PortalConfiguration/auditWitnessPath``), so a truncated tail is caught. Only the policy's
    /// `audit-log` readers (auditors) may; the request is decided and audited first.
    public func verifyAuditLog(token: String?) async throws -> PortalAuditVerification {
        let session = try await session(token)
        try await requireAuditLogAccess(session, .read)
        return try await verifyAuditLogWithKeys()
    }

    /// The check ``verifyAuditLog(token:)`` makes, without a session: for the operator, who holds the
    /// key directory already (as `phiguard audit verify --keys` runs offline), and for the attack
    /// suite's tampering scenarios (`package`: it asks for no session, so no app can expose it by
    /// mistake). Flushes the audit queue first.
    package func verifyAuditLogWithKeys() async throws -> PortalAuditVerification {
        try await audit.flush()
        let keys = try PortalKeys(directory: configuration.keyDirectory)
        let verifier = AuditVerifier(chainKey: keys.chainKey, checkpointKey: keys.signingKey.publicKey)
        let checkpoints = try await auditSink.checkpoints() + auditWitness.checkpoints()
        switch try await verifier.verify(auditSink, checkpoints: checkpoints) {
        case .intact(let records, _, let checked):
            return PortalAuditVerification(
                isIntact: true, records: records, checkpointsChecked: checked, breakCount: 0, firstBreak: nil)
        case .broken(let breaks, let total):
            return PortalAuditVerification(
                isIntact: false, records: 0, checkpointsChecked: 0, breakCount: total,
                firstBreak: breaks.first?.description)
        }
    }
}
