public import PHIGuardTOTP
import Testing

/// The behaviour every `RecoveryCodeStore` must show, checked the same way for the in-memory, SQLite
/// and PostgreSQL stores. The store must hold no codes for the account ids used here (`codes-…`).
public enum RecoveryCodeStoreConformance {
    /// Runs every check against `store`. Pass a second store object on the same storage as `other`
    /// (another connection, another client, another instance) to check that a code is redeemed
    /// exactly once across both; without it, `store` plays both.
    public static func check(_ store: any RecoveryCodeStore, other: (any RecoveryCodeStore)? = nil) async throws {
        let other = other ?? store
        let hasher = try RecoveryCodeHasher(key: Array(repeating: UInt8(7), count: 32))

        // Nothing stored: nothing to consume.
        let stray = try hasher.generate(count: 1)[0]
        #expect(try await store.remainingCount(accountID: "codes-alice") == 0)
        #expect(try await store.consume(stray.hash, accountID: "codes-alice") == false)

        // Each code works once, from either object; other codes stay.
        let codes = try hasher.generate()
        try await store.replaceCodes(codes.map(\.hash), accountID: "codes-alice")
        #expect(try await other.remainingCount(accountID: "codes-alice") == 10)
        #expect(try await store.consume(codes[0].hash, accountID: "codes-alice"))
        #expect(try await other.consume(codes[0].hash, accountID: "codes-alice") == false)
        #expect(try await hasher.redeem(codes[1].reveal(), accountID: "codes-alice", in: other))
        #expect(try await hasher.redeem(codes[1].reveal(), accountID: "codes-alice", in: store) == false)
        #expect(try await store.remainingCount(accountID: "codes-alice") == 8)
        #expect(try await store.consume(stray.hash, accountID: "codes-alice") == false)

        // Codes belong to one account: bob cannot use alice's.
        let bobCodes = try hasher.generate(count: 3)
        try await store.replaceCodes(bobCodes.map(\.hash), accountID: "codes-bob")
        #expect(try await store.consume(codes[2].hash, accountID: "codes-bob") == false)
        #expect(try await store.consume(bobCodes[0].hash, accountID: "codes-alice") == false)
        #expect(try await store.remainingCount(accountID: "codes-alice") == 8)
        #expect(try await store.remainingCount(accountID: "codes-bob") == 3)

        // A new set replaces the old one whole; an empty set leaves none.
        let renewed = try hasher.generate(count: 4)
        try await other.replaceCodes(renewed.map(\.hash), accountID: "codes-alice")
        #expect(try await store.remainingCount(accountID: "codes-alice") == 4)
        #expect(try await store.consume(codes[3].hash, accountID: "codes-alice") == false)
        #expect(try await store.consume(renewed[3].hash, accountID: "codes-alice"))
        #expect(try await store.remainingCount(accountID: "codes-bob") == 3)
        try await store.replaceCodes([], accountID: "codes-bob")
        #expect(try await other.remainingCount(accountID: "codes-bob") == 0)

        // 32 tasks redeem one code through both objects: exactly one succeeds.
        let raced = try hasher.generate(count: 2)
        try await store.replaceCodes(raced.map(\.hash), accountID: "codes-race")
        let target = raced[0].reveal()
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<32 {
                let instance = index % 2 == 0 ? store : other
                group.addTask { try await hasher.redeem(target, accountID: "codes-race", in: instance) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
        #expect(try await other.remainingCount(accountID: "codes-race") == 1)

        // Ten different codes redeemed at once: each once.
        let many = try hasher.generate()
        try await store.replaceCodes(many.map(\.hash), accountID: "codes-many")
        let redeemed = try await withThrowingTaskGroup(of: Bool.self) { group in
            for (index, code) in many.enumerated() {
                let instance = index % 2 == 0 ? store : other
                group.addTask { try await instance.consume(code.hash, accountID: "codes-many") }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(redeemed == 10)
        #expect(try await store.remainingCount(accountID: "codes-many") == 0)

        // Two concurrent replacements: one set survives whole, never a mix of both.
        let setA = try hasher.generate(count: 5)
        let setB = try hasher.generate(count: 5)
        async let replacedA: Void = store.replaceCodes(setA.map(\.hash), accountID: "codes-replace")
        async let replacedB: Void = other.replaceCodes(setB.map(\.hash), accountID: "codes-replace")
        _ = try await (replacedA, replacedB)
        #expect(try await store.remainingCount(accountID: "codes-replace") == 5)
        var survivingA = 0
        var survivingB = 0
        for code in setA where try await store.consume(code.hash, accountID: "codes-replace") { survivingA += 1 }
        for code in setB where try await store.consume(code.hash, accountID: "codes-replace") { survivingB += 1 }
        #expect([survivingA, survivingB].sorted() == [0, 5])
    }
}
