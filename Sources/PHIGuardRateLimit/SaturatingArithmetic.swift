extension Int64 {
    /// `self + other`, clamped to the `Int64` range: times and counters read from a store can hold any
    /// value, and arithmetic on them must give a (fail-closed) answer, never trap or wrap.
    package func addingSaturated(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// `self - other`, clamped to the `Int64` range.
    package func subtractingSaturated(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }
}
