internal import Foundation

/// The bit lengths a blind index may have for a population, following CipherSweet's rule.
public struct BlindIndexPlan: Sendable, Hashable {
    /// The number of rows the index will cover (plan for the expected size, not today's).
    public let population: Int
    /// The shortest safe length: fewer bits would make a lookup return √rows or more false positives.
    public let minimumBits: Int
    /// The longest safe length: more bits would leave fewer than 2 expected false positives per
    /// value, making the index close to unique for every row.
    public let maximumBits: Int
    /// The length PHIGuard recommends: ``maximumBits`` (the most selective safe length).
    public var recommendedBits: Int { maximumBits }
    /// Expected rows sharing an index value by coincidence at ``recommendedBits`` (together with
    /// the other indexes on the same field): `population / 2^(bits + others)`.
    public let expectedFalsePositives: Double
}

/// Chooses blind-index lengths by CipherSweet's planning rule.
///
/// For a population of `R` rows and indexes on one field whose lengths add up to `T` bits, the
/// expected number of coincidental matches per value is `C = R / 2^T`. CipherSweet requires
/// `2 ≤ C < √R`: at least two coincidences, so an index value never pins down one row, and fewer
/// than √R, so a search still narrows the rows down. Hence, for an index of `L` bits beside
/// other indexes totalling `S` bits,
///
/// ```
/// L ≤ ⌊log₂R − 1⌋ − S        (C ≥ 2)
/// L ≥ ⌊log₂R / 2⌋ + 1 − S     (C < √R)
/// ```
///
/// capped by the input domain (an SSN has about 30 bits; more index bits than that add nothing; with
/// such a cap coincidences come from equal values rather than truncation).
/// When no length satisfies both, ``plan(population:inputDomainBits:otherIndexBits:)`` throws
/// ``BlindIndexError/populationTooSmall(population:)`` (for example 4 rows: only 1 bit could give
/// C ≥ 2, and that already leaves C = √R).
public enum BlindIndexPlanner {
    /// The safe range and recommendation for an index on a field of `population` rows.
    ///
    /// - Parameters:
    ///   - population: the number of rows the field will hold (at least 2).
    ///   - inputDomainBits: log₂ of the number of distinct normalised values (e.g. 30 for SSNs),
    ///     or `nil` if it exceeds any sensible index length.
    ///   - otherIndexBits: the lengths of the other blind indexes on the same field.
    public static func plan(population: Int, inputDomainBits: Double? = nil, otherIndexBits: [Int] = [])
        throws(BlindIndexError) -> BlindIndexPlan
    {
        guard population >= 2 else { throw .populationTooSmall(population: population) }
        let others = otherIndexBits.reduce(0, +)
        let log2R = log2(Double(population))
        var maximum = min(Int((log2R - 1).rounded(.down)) - others, 256)
        var minimum = max(1, Int((log2R / 2).rounded(.down)) + 1 - others)
        guard maximum >= minimum else { throw .populationTooSmall(population: population) }
        // A small input domain caps the length: extra bits cannot separate values that do not exist.
        if let inputDomainBits {
            maximum = max(1, min(maximum, Int(inputDomainBits.rounded(.down))))
            minimum = min(minimum, maximum)
        }
        let expected = Double(population) / pow(2, Double(maximum + others))
        return BlindIndexPlan(
            population: population, minimumBits: minimum, maximumBits: maximum, expectedFalsePositives: expected)
    }
}
