import Foundation
import PHIGuardAudit
import Testing

@Suite("Audit review report")
struct ReviewReportTests {
    static func source(_ events: [AuditEvent]) -> StaticSource {
        StaticSource(entries: ClinicStream.records(events).map { .record($0) })
    }

    @Test("per user, per patient, break-glass (reviewed or not) and alerts of the period")
    func contents() async throws {
        let events = try ClinicStream.normalWeek() + ClinicStream.breakGlass() + ClinicStream.bulkAccess()
        let report = try await AuditReviewReport.build(
            from: Self.source(events), since: ClinicStream.wednesday, until: ClinicStream.wednesday + ClinicStream.day,
            configuration: try ClinicStream.configuration())
        let inDay = events.filter {
            $0.timestamp >= ClinicStream.wednesday && $0.timestamp < ClinicStream.wednesday + ClinicStream.day
        }
        #expect(report.records == inDay.count)
        #expect(report.accessDecisions == inDay.filter { $0.kind == .accessDecision }.count)
        // One invocation with its four accesses under the grant, not four entries.
        #expect(report.breakGlass.count == 1 && report.breakGlass[0].reviewer == nil)
        #expect(
            report.breakGlass.first?.grant == ClinicStream.breakGlassGrant && report.breakGlass.first?.accesses == 4)
        #expect(report.unreviewedBreakGlass == 1)
        #expect(Set(report.alerts.map(\.rule)) == [.bulkAccess, .breakGlassInvoked])
        let nurse = try #require(report.users.first { $0.actor == "user:rn-2" })
        let nurseReads = inDay.filter { $0.actorID == "user:rn-2" && $0.kind == .accessDecision }
        #expect(nurse.allowed + nurse.denied == nurseReads.count)
        #expect(nurse.distinctPatients == Set(nurseReads.filter { $0.outcome == .allow }.compactMap(\.patientID)).count)
        #expect(report.users.first?.actor == "user:rn-2", "the busiest user comes first")
        #expect(report.timeline.count == 24 && report.bucketSeconds == 3600)
        #expect(report.timeline.reduce(0) { $0 + $1.allowed + $1.denied } == report.accessDecisions)
        let text = report.text()
        #expect(text.contains("bulk-access") && text.contains("UNREVIEWED"))
        let json = try #require(try JSONSerialization.jsonObject(with: report.jsonData()) as? [String: Any])
        #expect((json["users"] as? [Any])?.count == report.users.count)

        // The review names the grant: the invocation is reviewed.
        let reviewed = try await AuditReviewReport.build(
            from: Self.source(events + [ClinicStream.breakGlassReview(after: ClinicStream.hour)]),
            since: ClinicStream.wednesday, until: ClinicStream.wednesday + ClinicStream.day,
            configuration: try ClinicStream.configuration())
        #expect(reviewed.breakGlass.map(\.reviewer) == ["user:privacy-officer"] && reviewed.unreviewedBreakGlass == 0)
    }

    @Test("the HTML page is self-contained, has no script, and escapes every value")
    func html() async throws {
        let hostile = try await SIEMExportTests.hostileRecord()
        var events = try ClinicStream.normalWeek().filter { $0.timestamp < ClinicStream.weekStart + ClinicStream.day }
        events.append(hostile.event)
        let report = try await AuditReviewReport.build(
            from: Self.source(events), since: ClinicStream.weekStart - 400 * ClinicStream.day)
        let page = report.html()
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(!page.lowercased().contains("<script"), "no script, and the hostile actor is escaped")
        #expect(page.contains("evil&quot;] [x@1 y=&quot;z\\&lt;script&gt;alert(1)&lt;/script&gt;"))
        for external in ["src=", "href=", "url(", "@import", "<link", "<iframe", "<img"] {
            #expect(!page.lowercased().contains(external), "no external resource: \(external)")
        }
        let svgs = page.components(separatedBy: "<svg ").count - 1
        #expect(svgs == 2, "two inline charts")
        #expect(page.contains("Content-Security-Policy"))
        #expect(
            AuditReviewReport.escapeHTML(#"<a href="x">'&'</a>"#)
                == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
    }
}
