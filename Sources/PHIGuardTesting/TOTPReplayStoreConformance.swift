internal import Foundation
public import PHIGuardTOTP
import Testing

/// The behaviour every `TOTPReplayStore` must show, checked the same way for the in-memory, SQLite
/// and PostgreSQL stores. The store must hold no step for the account ids used here (`replay-…`).
public enum TOTPReplayStoreConformance {
    /// Runs every check against `store`. Pass a second store object on the same storage as `other`
    /// (another connection, another client, another instance) to check that the two agree and that
    /// concurrent advances through both accept a step exactly once; without it, `store` plays both.
    public static func check(_ store: any TOTPReplayStore, other: (any TOTPReplayStore)? = nil) async throws {
        let other = other ?? store

        // Nothing stored: no step.
        #expect(try await store.lastAcceptedStep(accountID: "replay-alice") == nil)

        // The first step is accepted (step 0 too), then only later steps.
        #expect(try await store.advance(accountID: "replay-zero", to: 0))
        #expect(try await store.advance(accountID: "replay-zero", to: 0) == false)
        #expect(try await store.lastAcceptedStep(accountID: "replay-zero") == 0)
        #expect(try await store.advance(accountID: "replay-alice", to: 58_000_000))
        #expect(try await store.lastAcceptedStep(accountID: "replay-alice") == 58_000_000)
        #expect(try await store.advance(accountID: "replay-alice", to: 58_000_000) == false)
        #expect(try await store.advance(accountID: "replay-alice", to: 57_999_999) == false)
        #expect(try await store.lastAcceptedStep(accountID: "replay-alice") == 58_000_000)
        #expect(try await store.advance(accountID: "replay-alice", to: 58_000_001))
        // The other object sees the same step, and cannot reuse it.
        #expect(try await other.lastAcceptedStep(accountID: "replay-alice") == 58_000_001)
        #expect(try await other.advance(accountID: "replay-alice", to: 58_000_001) == false)

        // Accounts are independent; the largest step a signed 64-bit column holds round-trips.
        #expect(try await store.advance(accountID: "replay-bob", to: 5))
        #expect(try await store.lastAcceptedStep(accountID: "replay-alice") == 58_000_001)
        #expect(try await store.lastAcceptedStep(accountID: "replay-bob") == 5)
        let largest = UInt64(Int64.max)
        #expect(try await store.advance(accountID: "replay-max", to: largest))
        #expect(try await other.lastAcceptedStep(accountID: "replay-max") == largest)
        #expect(try await other.advance(accountID: "replay-max", to: largest) == false)

        // 64 tasks race for one step through both objects: exactly one wins.
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<64 {
                let target = index % 2 == 0 ? store : other
                group.addTask { try await target.advance(accountID: "replay-race", to: 58_000_010) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
        #expect(try await store.lastAcceptedStep(accountID: "replay-race") == 58_000_010)

        // Racing different steps: the stored step never goes back, the highest always wins, and no
        // step is accepted twice.
        let accepted = try await withThrowingTaskGroup(of: UInt64?.self) { group in
            for index in 0..<64 {
                let target = index % 2 == 0 ? store : other
                let step = UInt64(58_000_020 + index % 16)
                group.addTask { try await target.advance(accountID: "replay-mixed", to: step) ? step : nil }
            }
            return try await group.reduce(into: [UInt64]()) { if let step = $1 { $0.append(step) } }
        }
        #expect(Set(accepted).count == accepted.count)
        #expect(accepted.contains(58_000_035))
        #expect(try await other.lastAcceptedStep(accountID: "replay-mixed") == 58_000_035)

        // Through the verifier: one code submitted 16 times at once, through both objects, is
        // accepted once; the others are replays.
        let totp = TOTP(secret: try TOTPSecret(bytes: Array("12345678901234567890".utf8)))
        let date = Date(timeIntervalSince1970: 1_800_000_000)
        let code = try totp.code(at: date)
        let first = try TOTPVerifier(replayStore: store, lockout: nil)
        let second = try TOTPVerifier(replayStore: other, lockout: nil)
        let results = try await withThrowingTaskGroup(of: TOTPVerificationResult.self) { group in
            for index in 0..<16 {
                let verifier = index % 2 == 0 ? first : second
                group.addTask { try await verifier.verify(code, accountID: "replay-verify", totp: totp, at: date) }
            }
            return try await group.reduce(into: [TOTPVerificationResult]()) { $0.append($1) }
        }
        #expect(results.filter(\.isAccepted).count == 1)
        #expect(results.filter { $0 == .replayed }.count == 15)
    }
}
