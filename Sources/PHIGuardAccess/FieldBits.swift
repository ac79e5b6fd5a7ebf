/// A set of up to 256 field indexes of one resource type, as four machine words.
struct FieldBits: Sendable, Hashable {
    static let capacity = 256

    var w0: UInt64 = 0
    var w1: UInt64 = 0
    var w2: UInt64 = 0
    var w3: UInt64 = 0

    static let empty = FieldBits()

    /// The first `count` fields.
    init(firstFields count: Int) {
        for index in 0..<min(count, Self.capacity) { insert(index) }
    }

    init() {}

    var isEmpty: Bool { (w0 | w1 | w2 | w3) == 0 }

    mutating func insert(_ index: Int) {
        let bit = UInt64(1) << UInt64(index & 63)
        switch index >> 6 {
        case 0: w0 |= bit
        case 1: w1 |= bit
        case 2: w2 |= bit
        default: w3 |= bit
        }
    }

    func contains(_ index: Int) -> Bool {
        guard index >= 0, index < Self.capacity else { return false }
        let word: UInt64
        switch index >> 6 {
        case 0: word = w0
        case 1: word = w1
        case 2: word = w2
        default: word = w3
        }
        return word & (UInt64(1) << UInt64(index & 63)) != 0
    }

    @inline(__always) mutating func formUnion(_ other: FieldBits) {
        w0 |= other.w0
        w1 |= other.w1
        w2 |= other.w2
        w3 |= other.w3
    }

    @inline(__always) mutating func subtract(_ other: FieldBits) {
        w0 &= ~other.w0
        w1 &= ~other.w1
        w2 &= ~other.w2
        w3 &= ~other.w3
    }

    func intersects(_ other: FieldBits) -> Bool {
        ((w0 & other.w0) | (w1 & other.w1) | (w2 & other.w2) | (w3 & other.w3)) != 0
    }

    /// The indexes in ascending order.
    var indexes: [Int] {
        (0..<Self.capacity).filter { contains($0) }
    }
}
