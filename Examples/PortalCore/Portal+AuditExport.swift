public import Foundation
internal import PHIGuardAccess
internal import PHIGuardAudit

/// A format of ``Portal/exportAuditLog(token:format:since:until:exportDirectory:output:)``, each one of
/// the library's exporters (the ones `phiguard audit export` uses).
public enum PortalAuditExportFormat: String, Sendable, Hashable, CaseIterable {
    /// FHIR R4 `AuditEvent` NDJSON, one resource per record (`FHIRAuditEventExporter`).
    case fhir
    /// IHE Basic Audit Log Patterns `AuditEvent`s as NDJSON (`BALPAuditEventExporter`): the lines
    /// that exporter writes per record (one per patient of a patient query; none for kinds BALP does
    /// not cover).
    case balp
}

/// What ``Portal/exportAuditLog(token:format:since:until:exportDirectory:output:)`` wrote.
public struct PortalAuditExport: Sendable, Hashable {
    /// The file written (in the export folder).
    public let path: String
    /// The records exported (those in the time range).
    public let records: Int
    /// The lines written (one per record for FHIR; BALP's count differs, see ``PortalAuditExportFormat/balp``).
    public let lines: Int
    /// The entries of the log that could not be read (skipped; run `audit verify`).
    public let unreadable: Int
}

extension Portal {
    /// The `source.observer` id the portal's audit exports name.
    public static let auditSourceID = "patient-portal"

    /// Exports the audit log as NDJSON to a new file in the export folder, for auditors.
    ///
    /// - **Path first**: `output` is checked against `exportDirectory` under the chart export's rules
    ///   (``PortalExportError``) before anything is decided or read.
    /// - **The policy decides**: the policy's `export` action on the `audit-log` (auditors only),
    ///   decided and audited (the access-decision event, a refusal too) before the log is read; a
    ///   refusal is ``PortalError/notPermitted(_:)`` with `audit-log`.
    /// - **The range**: records whose timestamp is at or after `since` and before `until` (either
    ///   may be omitted). The export's own decision event is in the file when the range covers now.
    /// - **The exporters**: the library's `FHIRAuditEventExporter` / `BALPAuditEventExporter`, with
    ///   ``auditSourceID`` as the observer. The export does not verify the chain (``verifyAuditLog(token:)``
    ///   does); unreadable entries are skipped and counted.
    public func exportAuditLog(
        token: String?, format: PortalAuditExportFormat = .fhir, since: Date? = nil, until: Date? = nil,
        exportDirectory: String, output: String
    ) async throws -> PortalAuditExport {
        // Signed in first: the path check looks at the file system, which no stranger may probe.
        let session = try await session(token)
        let destination = try PortalExportPath(output: output, exportDirectory: exportDirectory)
        try await requireAuditLogAccess(session, AccessAction("export"))
        try await audit.flush()
        let lower = since.map(Self.microseconds)
        let upper = until.map(Self.microseconds)
        let fhir = FHIRAuditEventExporter(sourceID: Self.auditSourceID)
        let balp = BALPAuditEventExporter(sourceID: Self.auditSourceID)
        var bytes: [UInt8] = []
        var records = 0
        var lines = 0
        var unreadable = 0
        var position = 0
        let batch = 1_000
        while true {
            let chunk = try await auditSink.entries(from: position, limit: batch)
            for entry in chunk {
                guard case .record(let record) = entry else {
                    unreadable += 1
                    continue
                }
                let timestamp = record.event.timestamp
                if let lower, timestamp < lower { continue }
                if let upper, timestamp >= upper { continue }
                let rendered: [String]
                switch format {
                case .fhir: rendered = [try fhir.jsonLine(for: record)]
                case .balp: rendered = try balp.jsonLines(for: record)
                }
                for line in rendered {
                    bytes.append(contentsOf: line.utf8)
                    bytes.append(0x0A)
                }
                records += 1
                lines += rendered.count
            }
            position += chunk.count
            if chunk.count < batch { break }
        }
        try destination.writeNew(bytes)
        return PortalAuditExport(path: destination.path, records: records, lines: lines, unreadable: unreadable)
    }

    /// `date` in microseconds since 1970 (the audit timestamp's unit), clamped to `Int64`'s range
    /// (no trapping conversion of a far date).
    static func microseconds(_ date: Date) -> Int64 {
        let value = (date.timeIntervalSince1970 * 1_000_000).rounded(.down)
        guard value.isFinite else { return value < 0 ? .min : .max }
        if value >= 9.2e18 { return .max }
        if value <= -9.2e18 { return .min }
        return Int64(value)
    }
}
