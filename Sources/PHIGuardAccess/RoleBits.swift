/// A set of role indexes: the first 64 roles in one word (no allocation), the rest in an array.
struct RoleBits: Sendable, Hashable {
    var first: UInt64 = 0
    var rest: ContiguousArray<UInt64> = []

    init() {}

    init(_ roles: some Sequence<Int>) {
        for role in roles { insert(role) }
    }

    mutating func insert(_ role: Int) {
        let word = role >> 6
        let bit = UInt64(1) << UInt64(role & 63)
        if word == 0 {
            first |= bit
        } else {
            while rest.count < word { rest.append(0) }
            rest[word - 1] |= bit
        }
    }

    @inline(__always) func contains(word: Int32, mask: UInt64) -> Bool {
        if word == 0 { return first & mask != 0 }
        let index = Int(word) - 1
        return index < rest.count && rest[index] & mask != 0
    }

    func contains(_ role: Int) -> Bool {
        contains(word: Int32(role >> 6), mask: UInt64(1) << UInt64(role & 63))
    }

    mutating func formUnion(_ other: RoleBits) {
        first |= other.first
        if !other.rest.isEmpty {
            while rest.count < other.rest.count { rest.append(0) }
            for index in other.rest.indices { rest[index] |= other.rest[index] }
        }
    }

    func intersects(_ other: RoleBits) -> Bool {
        if first & other.first != 0 { return true }
        for index in 0..<min(rest.count, other.rest.count) where rest[index] & other.rest[index] != 0 {
            return true
        }
        return false
    }

    var isEmpty: Bool { first == 0 && rest.allSatisfy { $0 == 0 } }
}
