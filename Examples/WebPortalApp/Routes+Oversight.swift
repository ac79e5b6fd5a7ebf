internal import Hummingbird
internal import PHIGuardAccess
internal import PHIGuardAuthentication
internal import PHIGuardHummingbird
internal import PHIGuardRecords
internal import PortalCore

struct ReviewForm: Decodable {
    let outcome: String?
}

extension WebPortalApp {
    /// The outcomes an auditor records for a break-glass grant.
    static let reviewOutcomes: Set<String> = ["appropriate", "inappropriate"]

    /// `/review`, `/review/{id}`, `/audit`, `/sessions`, `/sessions/{handle}/end`.
    func addOversightRoutes(to group: RouterGroup<BasicPHIGuardRequestContext>) {
        group.get("/review") { request, context in
            let viewer = try await viewer(request, context)
            let queue = try await portal.breakGlassReviewQueue(token: viewer.token)
            let rows: [[String: String]] = queue.map { item in
                [
                    "id": item.grant.id, "holder": loginNames[item.grant.subjectID] ?? item.grant.subjectID,
                    "patients": item.grant.scope.patientIDs.joined(separator: ", "),
                    "reason": item.grant.reason.category.rawValue, "issued": PageRenderer.time(item.grant.issuedAt),
                    "uses": String(item.uses.count),
                ]
            }
            return try pages.page("review", viewer.page("Break-glass review", ["rows": rows]))
        }
        group.post("/review/{id}") { request, context in
            let id = try context.parameters.require("id")
            let viewer = try await viewer(request, context)
            let form = try await URLEncodedFormDecoder().decode(ReviewForm.self, from: request, context: context)
            let outcome = try Self.required(form.outcome, "outcome")
            guard Self.reviewOutcomes.contains(outcome) else { throw WebPortalError.invalidForm("outcome") }
            try await portal.reviewBreakGlass(token: viewer.token, grantID: id, outcome: outcome)
            return PageRenderer.seeOther("/review")
        }
        group.get("/audit") { request, context in
            let viewer = try await viewer(request, context)
            let report = try await portal.verifyAuditLog(token: viewer.token)
            return try pages.page(
                "audit",
                viewer.page(
                    "Audit verification",
                    [
                        "intact": report.isIntact, "records": report.records,
                        "checkpoints": report.checkpointsChecked, "breaks": report.breakCount,
                        "firstBreak": report.firstBreak ?? "",
                    ]))
        }
        group.get("/sessions") { request, context in
            let viewer = try await viewer(request, context)
            let rows: [[String: Any]] = try await portal.sessions(token: viewer.token).map { summary in
                [
                    "handle": summary.handle, "current": summary.isCurrent, "client": summary.clientLabel ?? "",
                    "created": PageRenderer.time(summary.createdAt), "lastSeen": PageRenderer.time(summary.lastSeenAt),
                    "expires": PageRenderer.time(summary.expiresAt),
                ]
            }
            return try pages.page("sessions", viewer.page("Sessions", ["rows": rows]))
        }
        group.post("/sessions/{handle}/end") { request, context in
            let handle = try context.parameters.require("handle")
            let viewer = try await viewer(request, context)
            _ = try await portal.endSession(token: viewer.token, handle: handle)
            if handle == viewer.session.record.handle {
                context.phiGuard.session?.ended()
                return PageRenderer.seeOther("/sign-in")
            }
            return PageRenderer.seeOther("/sessions")
        }
    }
}
