/// Finds break-glass accesses that nobody has reviewed yet.
///
/// Reviews are themselves audit events (``AuditEventKind/breakGlassReviewed`` naming the reviewed
/// record's sequence), so marking an access reviewed never edits the log: use
/// ``AuditLog/markBreakGlassReviewed(sequence:reviewerID:outcome:)``.
public enum BreakGlassReview {
    /// Every break-glass access decision in `source` without a later review, in log order.
    ///
    /// Reads the whole source; it does not verify the chain (run ``AuditVerifier`` for that).
    public static func unreviewed(in source: some AuditRecordSource, chunkSize: Int = 8192) async throws(AuditError)
        -> [AuditRecord]
    {
        var accesses: [AuditRecord] = []
        var reviewed: Set<UInt64> = []
        var position = 0
        while true {
            let chunk: [AuditLogEntry]
            do {
                chunk = try await source.entries(from: position, limit: chunkSize)
            } catch {
                throw .storageFailure("could not read entries")
            }
            for case .record(let record) in chunk {
                switch record.event.kind {
                case .accessDecision where record.event.breakGlass: accesses.append(record)
                case .breakGlassReviewed: if let related = record.event.relatedSequence { reviewed.insert(related) }
                default: break
                }
            }
            position += chunk.count
            if chunk.count < chunkSize { break }
        }
        return accesses.filter { !reviewed.contains($0.sequence) }
    }
}
