import Testing

@testable import PHIGuardFieldEncryption

@Suite("Blind indexes and the planner")
struct BlindIndexTests {
    let root: FieldKey

    init() throws {
        var bytes = [UInt8](repeating: 0x11, count: 32)
        root = try FieldKey(id: "idx", bytes: &bytes)
    }

    @Test("equal normalised inputs give equal index values")
    func equality() throws {
        let ssn = try BlindIndex(
            name: "ssn", table: "patients", field: "ssn", bits: 20, normalization: .digitsOnly, rootKey: root)
        #expect(ssn.value(for: "078-05-1120") == ssn.value(for: "078 05 1120"))
        #expect(ssn.value(for: "078-05-1120") == ssn.value(for: "０７８０５１１２０"))  // full-width digits (NFKC)
        #expect(ssn.value(for: "078-05-1120").bits == 20)
        #expect(ssn.value(for: "078-05-1120").bytes.count == 3)
        #expect(ssn.value(for: "078-05-1120").bytes[2] & 0x0F == 0)  // 4 unused low bits are zero

        let name = try BlindIndex(
            name: "last", table: "patients", field: "last_name", bits: 32, normalization: .caseFolded, rootKey: root)
        #expect(name.value(for: "  O'Brien ") == name.value(for: "o'brien"))
        #expect(name.value(for: "Mary  Ann") == name.value(for: "mary ann"))
        #expect(name.value(for: "Müller") == name.value(for: "Mu\u{0308}ller"))  // NFC/NFKC
        #expect(name.value(for: "Smith") != name.value(for: "Smyth"))

        let exact = try BlindIndex(name: "e", table: "t", field: "f", bits: 64, rootKey: root)
        #expect(exact.value(for: "Café") == exact.value(for: "Cafe\u{0301}"))
        #expect(exact.value(for: "Smith") != exact.value(for: "smith"))
    }

    @Test("compound indexes are unambiguous; indexes and keys are separated")
    func separation() throws {
        let compound = try BlindIndex(
            name: "dob_last", table: "patients", field: "dob+last_name", bits: 64, normalization: .caseFolded,
            rootKey: root)
        #expect(
            compound.value(forParts: ["1980-01-02", "Smith"]) == compound.value(forParts: ["1980-01-02", "SMITH"]))
        #expect(compound.value(forParts: ["ab", "c"]) != compound.value(forParts: ["a", "bc"]))
        let other = try BlindIndex(name: "other", table: "patients", field: "dob+last_name", bits: 64, rootKey: root)
        #expect(other.value(forParts: ["1980-01-02", "smith"]) != compound.value(forParts: ["1980-01-02", "smith"]))
        let otherRoot = try BlindIndex(
            name: "dob_last", table: "patients", field: "dob+last_name", bits: 64, normalization: .caseFolded,
            rootKey: try FieldKey.generate(id: "idx"))
        #expect(
            otherRoot.value(forParts: ["1980-01-02", "smith"]) != compound.value(forParts: ["1980-01-02", "smith"]))
        #expect(throws: BlindIndexError.invalidBitLength(0)) {
            try BlindIndex(name: "x", table: "t", field: "f", bits: 0, rootKey: root)
        }
        #expect(throws: BlindIndexError.invalidBitLength(257)) {
            try BlindIndex(name: "x", table: "t", field: "f", bits: 257, rootKey: root)
        }
    }

    @Test("truncation collides as planned: about population / 2^bits rows per value")
    func collisionsMatchPlan() throws {
        let population = 4_096
        let plan = try BlindIndexPlanner.plan(population: population)
        #expect(plan.recommendedBits == 11)  // log2(4096) - 1
        let index = try BlindIndex(name: "n", table: "t", field: "f", bits: plan.recommendedBits, rootKey: root)
        var buckets: [BlindIndexValue: Int] = [:]
        for row in 0..<population { buckets[index.value(for: "value-\(row)"), default: 0] += 1 }
        // 4096 values into 2^11 buckets: most buckets hold several, on average 2.
        let average = Double(population) / Double(buckets.count)
        #expect(average > 1.5)
        #expect(buckets.count <= 1 << plan.recommendedBits)
    }

    @Test("planner outputs for a few populations")
    func planner() throws {
        // R = 1,000,000: log2 R ≈ 19.93 → 10…18 bits, C = 10^6 / 2^18 ≈ 3.8.
        let million = try BlindIndexPlanner.plan(population: 1_000_000)
        #expect(million.minimumBits == 10)
        #expect(million.maximumBits == 18)
        #expect(million.recommendedBits == 18)
        #expect(abs(million.expectedFalsePositives - 3.814697265625) < 1e-9)

        // R = 100: log2 R ≈ 6.64 → 4…5 bits, C = 100 / 32 = 3.125 (< √100 = 10).
        let hundred = try BlindIndexPlanner.plan(population: 100)
        #expect((hundred.minimumBits, hundred.maximumBits) == (4, 5))
        #expect(hundred.expectedFalsePositives == 3.125)

        // R = 2^32 with another 8-bit index on the field: 8…23 bits.
        let large = try BlindIndexPlanner.plan(population: 1 << 32, otherIndexBits: [8])
        #expect((large.minimumBits, large.maximumBits) == (9, 23))
        #expect(large.expectedFalsePositives == 2)

        // A small input domain caps the length (last four SSN digits: ~13.3 bits).
        let lastFour = try BlindIndexPlanner.plan(population: 1_000_000, inputDomainBits: 13.29)
        #expect(lastFour.maximumBits == 13)

        // R = 8 is the smallest power of two that admits a length (2 bits, C = 2 < √8).
        #expect(try BlindIndexPlanner.plan(population: 8).recommendedBits == 2)
        // Too small: refused.
        for population in [0, 1, 2, 4, 7] {
            #expect(throws: BlindIndexError.populationTooSmall(population: population)) {
                try BlindIndexPlanner.plan(population: population)
            }
        }
        // Too many bits already used by other indexes: refused.
        #expect(throws: BlindIndexError.populationTooSmall(population: 1_000_000)) {
            try BlindIndexPlanner.plan(population: 1_000_000, otherIndexBits: [16, 4])
        }
    }
}
