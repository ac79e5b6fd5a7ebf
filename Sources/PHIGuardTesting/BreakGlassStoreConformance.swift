public import Foundation
import PHIGuardAccess
public import PHIGuardRecords
import Testing

/// The behaviour every `BreakGlassStore` must show, checked the same way for the in-memory, SQLite
/// and PostgreSQL stores. `store` must be empty.
public enum BreakGlassStoreConformance {
    /// 2027-01-15T08:00:00Z.
    public static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A grant with a random id for `subjectID` in `sessionHandle`, issued `issuedAfter` seconds
    /// after ``now``, lasting `lifetime` seconds (whole microseconds, so every backend reads it back exactly).
    public static func record(
        subjectID: String = "u-nurse", sessionHandle: String = "s-1", patients: [String] = ["p-1"],
        issuedAfter: TimeInterval = 0, lifetime: TimeInterval = 3600, sequence: UInt64 = 1
    ) -> BreakGlassRecord {
        let id = "bg-" + (0..<12).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let issued: Int64 = 1_800_000_000_123_456 + Int64(issuedAfter * 1_000_000)
        return BreakGlassRecord(
            id: id, subjectID: subjectID, sessionHandle: sessionHandle,
            sessionAuthenticatedAt: micros(1_799_999_939_999_999), patientIDs: patients.sorted(),
            purpose: .emergencyTreatment, sealedJustification: (0..<57).map { _ in UInt8.random(in: 0...255) },
            issuedAt: micros(issued), expiresAt: micros(issued + Int64(lifetime * 1_000_000)), auditSequence: sequence)
    }

    /// A date of whole microseconds, built as the stores build what they read back.
    public static func micros(_ value: Int64) -> Date {
        (try? BreakGlassRecord.storedDate(microseconds: value, column: "")) ?? now
    }

    /// Runs every single-store check against `store`.
    public static func check(_ store: any BreakGlassStore) async throws {
        // Insert and read back every field exactly; a duplicate id is refused.
        let first = record(patients: ["p-2", "p-1"], sequence: UInt64(Int64.max))
        try await store.insert(first)
        #expect(try await store.grant(id: first.id) == first)
        await #expect(throws: BreakGlassStoreError.duplicate) { try await store.insert(first) }
        #expect(try await store.grant(id: "bg-unknown") == nil)

        // Invalid records are refused before they reach storage.
        var noPatients = record()
        noPatients.patientIDs = []
        await #expect(throws: BreakGlassStoreError.invalidRecord("patient_ids")) { try await store.insert(noPatients) }
        var backwards = record()
        backwards.expiresAt = backwards.issuedAt
        await #expect(throws: BreakGlassStoreError.invalidRecord("expires_at")) { try await store.insert(backwards) }
        var tooLate = record()
        tooLate.expiresAt = Date(timeIntervalSince1970: 1e12)
        await #expect(throws: BreakGlassStoreError.invalidRecord("expires_at")) { try await store.insert(tooLate) }
        var hugeSequence = record()
        hugeSequence.auditSequence = UInt64(Int64.max) + 1
        await #expect(throws: BreakGlassStoreError.invalidRecord("audit_sequence")) {
            try await store.insert(hugeSequence)
        }
        #expect(try await store.grant(id: noPatients.id) == nil)

        // Active grants: this holder, this session, issued, not expired, not revoked.
        let later = record(issuedAfter: 10)
        let otherSession = record(sessionHandle: "s-2")
        let otherUser = record(subjectID: "u-other")
        let future = record(issuedAfter: 7200)
        let short = record(lifetime: 30)
        for record in [later, otherSession, otherUser, future, short] { try await store.insert(record) }
        let at = now.addingTimeInterval(60)
        #expect(
            try await store.activeGrants(subjectID: "u-nurse", sessionHandle: "s-1", at: at).map(\.id)
                == [first.id, later.id])
        #expect(try await store.activeGrants(subjectID: "u-nurse", sessionHandle: "s-2", at: at) == [otherSession])
        #expect(try await store.activeGrants(subjectID: "u-nobody", sessionHandle: "s-1", at: at).isEmpty)
        // Expiry is exclusive.
        #expect(
            try await store.activeGrants(subjectID: "u-nurse", sessionHandle: "s-1", at: first.expiresAt).map(\.id)
                == [later.id])

        // Revocation: first wins; a revoked grant is no longer active but still readable.
        #expect(try await store.revoke(id: later.id, at: at, by: "u-nurse"))
        #expect(!(try await store.revoke(id: later.id, at: at.addingTimeInterval(5), by: "u-privacy")))
        #expect(!(try await store.revoke(id: "bg-unknown", at: at, by: "u-nurse")))
        let revoked = try #require(try await store.grant(id: later.id))
        #expect(revoked.revocation == BreakGlassRevocation(revokedAt: at, revokedBy: "u-nurse"))
        #expect(
            try await store.activeGrants(subjectID: "u-nurse", sessionHandle: "s-1", at: at).map(\.id) == [first.id])

        // Review: first wins; the queue lists unreviewed grants oldest first, or all of them.
        let all = [first, later, otherSession, otherUser, future, short].sorted {
            ($0.issuedAt, $0.id) < ($1.issuedAt, $1.id)
        }
        #expect(
            try await store.grants(issuedSince: .distantPast, includeReviewed: false, limit: 100).map(\.id)
                == all.map(\.id))
        let mark = BreakGlassReviewMark(reviewerID: "u-privacy", outcome: "justified", reviewedAt: at)
        #expect(try await store.markReviewed(id: first.id, review: mark))
        #expect(
            !(try await store.markReviewed(
                id: first.id, review: BreakGlassReviewMark(reviewerID: "u-x", outcome: "escalated", reviewedAt: at))))
        #expect(!(try await store.markReviewed(id: "bg-unknown", review: mark)))
        #expect(try await store.grant(id: first.id)?.review == mark)
        #expect(
            try await store.grants(issuedSince: .distantPast, includeReviewed: false, limit: 100).map(\.id)
                == all.map(\.id).filter { $0 != first.id })
        #expect(
            try await store.grants(issuedSince: .distantPast, includeReviewed: true, limit: 2).map(\.id)
                == Array(all.map(\.id).prefix(2)))
        #expect(
            try await store.grants(issuedSince: future.issuedAt, includeReviewed: true, limit: 100).map(\.id)
                == [future.id])
    }

    /// Two handles on the same storage (two connections, two clients): a grant stored through one is
    /// seen through the other, and concurrent inserts, revocations and reviews of one grant from both
    /// have exactly one winner. `first` must be empty.
    public static func checkConcurrency(_ first: any BreakGlassStore, _ second: any BreakGlassStore) async throws {
        let stores = [first, second]
        for round in 0..<3 {
            let grant = record(subjectID: "u-\(round)")
            let inserted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<16 {
                    let store = stores[index % 2]
                    group.addTask {
                        do {
                            try await store.insert(grant)
                            return true
                        } catch BreakGlassStoreError.duplicate {
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(inserted == 1)
            #expect(try await second.grant(id: grant.id) == grant)

            let revocations = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<16 {
                    let store = stores[index % 2]
                    group.addTask { try await store.revoke(id: grant.id, at: now, by: "u-\(index)") }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(revocations == 1)

            let reviews = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<16 {
                    let store = stores[index % 2]
                    let mark = BreakGlassReviewMark(reviewerID: "u-r\(index)", outcome: "justified", reviewedAt: now)
                    group.addTask { try await store.markReviewed(id: grant.id, review: mark) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(reviews == 1)
            let stored = try await first.grant(id: grant.id)
            #expect(stored?.revocation != nil && stored?.review != nil)
        }
    }
}
