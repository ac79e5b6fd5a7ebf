/// One shard's state in ``InMemoryRateLimitStore``: an open-addressing hash table from a key's
/// digest to its theoretical arrival time (TAT).
///
/// The digests are already keyed 64-bit hashes, so their low bits index the table directly (no
/// second hash), and an entry is one 16-byte slot probed linearly: a check usually touches one
/// cache line. The table doubles whenever its load would pass three quarters (as Swift's
/// `Dictionary` does); the shard's key bound keeps it bounded. Digest 0 marks an empty slot;
/// ``InMemoryRateLimitStore`` never produces it.
///
/// The caller serialises access (the shard lock) and calls ``deallocate()`` once.
struct TATTable {
    private struct Slot {
        var digest: UInt64
        var tat: Int64
    }

    /// Where a digest is or would go.
    struct Position {
        fileprivate let index: Int
        /// The TAT stored for the digest; `nil` when the digest is not in the table.
        let storedTAT: Int64?
    }

    private var slots: UnsafeMutablePointer<Slot>
    private var slotCount = 64
    /// The number of digests in the table.
    private(set) var count = 0

    /// An empty table.
    init() {
        slots = Self.emptySlots(slotCount)
    }

    /// Frees the slots. Call once, when the owner goes away.
    func deallocate() { slots.deallocate() }

    /// Finds `digest`.
    func position(of digest: UInt64) -> Position {
        let mask = slotCount - 1
        var index = Int(truncatingIfNeeded: digest) & mask
        while true {
            let slot = slots[index]
            if slot.digest == digest { return Position(index: index, storedTAT: slot.tat) }
            if slot.digest == 0 { return Position(index: index, storedTAT: nil) }
            index = (index + 1) & mask
        }
    }

    /// Stores `tat` for `digest` at `position`, which ``position(of:)`` returned with no change to
    /// the table since. A new digest may grow the table; the caller has checked the key bound.
    mutating func store(_ tat: Int64, for digest: UInt64, at position: Position) {
        if position.storedTAT != nil {
            slots[position.index].tat = tat
            return
        }
        if 4 * (count + 1) > 3 * slotCount {
            rebuild(slotCount: 2 * slotCount) { _ in true }
            set(tat, for: digest)
            return
        }
        slots[position.index] = Slot(digest: digest, tat: tat)
        count += 1
    }

    /// Stores `tat` for `digest`, wherever it is or goes.
    mutating func set(_ tat: Int64, for digest: UInt64) {
        store(tat, for: digest, at: position(of: digest))
    }

    /// Keeps only the digests whose TAT satisfies `keep`.
    mutating func removeAll(keepingTATsWhere keep: (Int64) -> Bool) {
        rebuild(slotCount: slotCount, keep)
    }

    private mutating func rebuild(slotCount newCount: Int, _ keep: (Int64) -> Bool) {
        let old = slots
        let oldCount = slotCount
        slots = Self.emptySlots(newCount)
        slotCount = newCount
        count = 0
        for index in 0..<oldCount where old[index].digest != 0 && keep(old[index].tat) {
            let position = position(of: old[index].digest)
            slots[position.index] = old[index]
            count += 1
        }
        old.deallocate()
    }

    private static func emptySlots(_ count: Int) -> UnsafeMutablePointer<Slot> {
        let slots = UnsafeMutablePointer<Slot>.allocate(capacity: count)
        slots.initialize(repeating: Slot(digest: 0, tat: 0), count: count)
        return slots
    }
}
