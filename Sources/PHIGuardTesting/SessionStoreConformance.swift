public import Foundation
import PHIGuardAccess
public import PHIGuardAuthentication
import Testing

/// The behaviour every `SessionStore` must show, checked the same way for the in-memory, SQLite and
/// PostgreSQL stores. `store` must be empty.
public enum SessionStoreConformance {
    /// A record with random hash, handle and seal for `accountID`, created at `now` (authenticated
    /// records carry subject attributes): a store must return every field, seal and attributes
    /// included, exactly as stored.
    public static func record(
        accountID: String?, state: SessionState = .authenticated,
        now: Date = Date(timeIntervalSince1970: 1_800_000_000),
        idle: TimeInterval = 900, absolute: TimeInterval = 28_800, label: String? = "Firefox on Linux"
    ) -> SessionRecord {
        let hash = SessionTokenHash(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })!
        let handle = "s-" + (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        return SessionRecord(
            tokenHash: hash, handle: handle, state: state, accountID: accountID,
            roles: state == .authenticated ? ["patient", "portal-user"] : [],
            patientID: state == .authenticated ? "p-7" : nil, strength: state == .authenticated ? .multiFactor : nil,
            createdAt: now, lastSeenAt: now, idleExpiresAt: now.addingTimeInterval(idle),
            absoluteExpiresAt: now.addingTimeInterval(absolute), authenticatedAt: state == .authenticated ? now : nil,
            recentlyAuthenticatedAt: state == .authenticated ? now : nil, clientLabel: label,
            attributes: state == .authenticated ? ["department": "cardiology", "clearance": "2"] : [:],
            seal: (0..<32).map { _ in UInt8.random(in: 0...255) })
    }

    /// Runs every check against `store`.
    public static func check(_ store: any SessionStore) async throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)

        // Insert and read back every field exactly (dates to the microsecond).
        let first = record(accountID: "acct-1", now: now)
        try await store.insert(first)
        #expect(try await store.session(tokenHash: first.tokenHash) == first)
        let pending = record(accountID: "acct-1", state: .awaitingSecondFactor, now: now, label: nil)
        try await store.insert(pending)
        #expect(try await store.session(tokenHash: pending.tokenHash) == pending)
        let registering = record(accountID: nil, state: .registering, now: now)
        try await store.insert(registering)
        #expect(try await store.session(tokenHash: registering.tokenHash) == registering)

        // Duplicates of hash or handle are refused.
        await #expect(throws: SessionStoreError.duplicate) { try await store.insert(first) }
        var sameHandle = record(accountID: "acct-2", now: now)
        sameHandle.handle = first.handle
        await #expect(throws: SessionStoreError.duplicate) { try await store.insert(sameHandle) }

        // Unknown hashes find nothing.
        #expect(try await store.session(tokenHash: record(accountID: nil).tokenHash) == nil)

        // Touch moves last-seen and idle expiry.
        let later = now.addingTimeInterval(60)
        try await store.touch(first.tokenHash, lastSeenAt: later, idleExpiresAt: later.addingTimeInterval(900))
        let touched = try await store.session(tokenHash: first.tokenHash)
        #expect(touched?.lastSeenAt == later)
        #expect(touched?.idleExpiresAt == later.addingTimeInterval(900))

        // Replace is atomic rotation: old hash gone, new present, same handle allowed.
        var rotated = record(accountID: "acct-1", now: now)
        rotated.handle = first.handle
        #expect(try await store.replace(first.tokenHash, with: rotated))
        #expect(try await store.session(tokenHash: first.tokenHash) == nil)
        #expect(try await store.session(tokenHash: rotated.tokenHash) == rotated)
        // Replacing a hash that is gone changes nothing.
        let orphan = record(accountID: "acct-1", now: now)
        #expect(try await store.replace(first.tokenHash, with: orphan) == false)
        #expect(try await store.session(tokenHash: orphan.tokenHash) == nil)

        // Concurrent rotations of one record: exactly one wins.
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                var candidate = record(accountID: "acct-1", now: now)
                candidate.handle = rotated.handle
                let oldHash = rotated.tokenHash
                let replacement = candidate
                group.addTask { try await store.replace(oldHash, with: replacement) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)

        // Listing and bulk removal by account.
        let other = record(accountID: "acct-2", now: now.addingTimeInterval(5))
        try await store.insert(other)
        let listed = try await store.sessions(accountID: "acct-1")
        #expect(listed.count == 2)
        #expect(Set(listed.map(\.handle)) == [rotated.handle, pending.handle])
        let removed = try await store.removeSessions(accountID: "acct-1", except: pending.handle)
        #expect(removed.map(\.handle) == [rotated.handle])
        #expect(try await store.sessions(accountID: "acct-1").map(\.handle) == [pending.handle])
        #expect(try await store.sessions(accountID: "acct-2").map(\.handle) == [other.handle])

        // Remove returns the record once.
        #expect(try await store.remove(pending.tokenHash) == pending)
        #expect(try await store.remove(pending.tokenHash) == nil)

        // Expiry sweep: idle-expired and absolute-expired go, live ones stay.
        let idleGone = record(accountID: "acct-3", now: now, idle: 10)
        let absoluteGone = record(accountID: "acct-3", now: now, idle: 900, absolute: 20)
        let alive = record(accountID: "acct-3", now: now)
        for item in [idleGone, absoluteGone, alive] { try await store.insert(item) }
        let purged = try await store.removeExpired(at: now.addingTimeInterval(30))
        #expect(purged == 2)
        #expect(try await store.sessions(accountID: "acct-3").map(\.handle) == [alive.handle])
    }
}
