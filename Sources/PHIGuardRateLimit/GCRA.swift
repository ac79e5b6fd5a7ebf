/// The GCRA decision for one key, as a pure function of the stored TAT and the time.
///
/// Stores call it with their own state and persistence; the PostgreSQL store runs the same
/// arithmetic in SQL. Times are nanoseconds on the store's clock.
package enum GCRA {
    /// The outcome for one limit.
    package struct Outcome {
        /// Whether the event fits.
        package var allowed: Bool
        /// The TAT to store if the request as a whole is admitted (unchanged when refused).
        package var newTAT: Int64
        /// Events still allowed right now after this one.
        package var remaining: Int
        /// Nanoseconds until one event would be allowed (0 when allowed).
        package var retryAfter: Int64
    }

    /// Decides whether `cost` events at `now` fit `limit`, given the key's stored TAT (`nil`: unseen).
    ///
    /// The arithmetic saturates: a stored TAT near `Int64.max` (which no clock reading reaches) refuses
    /// until the end of time instead of wrapping round to an admission.
    package static func evaluate(storedTAT: Int64?, now: Int64, limit: RateLimit, cost: Int) -> Outcome {
        let tat = max(storedTAT ?? now, now)
        let increment = limit.intervalNanoseconds.multipliedReportingOverflow(by: Int64(cost))
        let newTAT = increment.overflow ? Int64.max : tat.addingSaturated(increment.partialValue)
        let allowAt = newTAT.subtractingSaturated(limit.toleranceNanoseconds)
        if allowAt > now || cost > limit.burst {
            let nextAllowed = tat.addingSaturated(limit.intervalNanoseconds).subtractingSaturated(
                limit.toleranceNanoseconds)
            return Outcome(
                allowed: false, newTAT: tat, remaining: 0, retryAfter: max(0, nextAllowed.subtractingSaturated(now)))
        }
        let remaining = Int(now.subtractingSaturated(allowAt) / limit.intervalNanoseconds)
        return Outcome(allowed: true, newTAT: newTAT, remaining: remaining, retryAfter: 0)
    }

    /// Whether `tat` is a TAT the rules could have stored: never negative (0 is the "long ago" a
    /// PostgreSQL store writes for a new key). A store refuses other rows as corrupt (fail closed).
    package static func isValid(storedTAT tat: Int64) -> Bool { tat >= 0 }
}
