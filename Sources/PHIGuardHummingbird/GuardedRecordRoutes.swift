internal import Foundation
public import Hummingbird
internal import PHIGuardAccess
public import PHIGuardRecords

/// Route helpers over `GuardedRecords` for the signed-in principal of the request: read, update and
/// list, with break-the-glass only when the request asks for it explicitly (``BreakGlassRequest``).
///
/// Every answer that carries PHI is sent with `Cache-Control: no-store`. A record the principal may
/// not see is answered exactly like a missing one (404 `not_found`: `GuardedRecords` throws the one
/// `RecordError.notFoundOrDenied` for both), so an id taken from another patient's URL reveals nothing.
///
/// ```swift
/// let charts = GuardedRecordRoutes(records: chartRecords, emergency: emergencyAccess)
/// charts.register(on: router.group("charts"))   // GET /charts, GET /charts/{id}, PATCH /charts/{id}
/// ```
public struct GuardedRecordRoutes: Sendable {
    /// The guarded records.
    public let records: GuardedRecords
    /// Break-the-glass, when the app offers it.
    public let emergency: EmergencyAccess?

    /// Routes over `records`; break-the-glass requests are answered through `emergency`.
    public init(records: GuardedRecords, emergency: EmergencyAccess? = nil) {
        self.records = records
        self.emergency = emergency
    }

    /// Reads record `id` for the request's principal (401 without one), under the grant the request
    /// asks for, if any.
    public func read(_ id: String, request: Request, context: some PHIGuardRequestContext) async throws
        -> GuardedRecord
    {
        let principal = try context.phiGuard.requirePrincipal()
        let grant = try await grant(for: request, principal: principal)
        return try await records.read(id, as: principal, breakGlass: grant)
    }

    /// Changes fields of record `id` for the request's principal; refused on safe methods.
    @discardableResult
    public func update(
        _ id: String, changes: [String: String], request: Request, context: some PHIGuardRequestContext
    ) async throws -> UInt64 {
        guard !request.method.isSafe else { throw PHIGuardWebError.stateChangeOnSafeMethod }
        let principal = try context.phiGuard.requirePrincipal()
        let grant = try await grant(for: request, principal: principal)
        return try await records.update(id, changes: changes, as: principal, breakGlass: grant)
    }

    /// One page of the records the request's principal may read. Query parameters: `patient` (a
    /// patient id filter), `limit` (1–500, default 50), `after` (the previous page's cursor).
    public func list(request: Request, context: some PHIGuardRequestContext) async throws -> RecordPage {
        let principal = try context.phiGuard.requirePrincipal()
        let grant = try await grant(for: request, principal: principal)
        let query = request.uri.queryParameters
        var filters: [RecordFilter] = []
        if let patient = query["patient"] { filters.append(.patient(String(patient))) }
        var limit = 50
        if let text = query["limit"] {
            guard let value = Int(text) else { throw PHIGuardWebError.invalidRequest }
            limit = value
        }
        return try await records.list(
            as: principal, where: filters, limit: limit, after: query["after"].map(String.init), breakGlass: grant)
    }

    /// The grant the request asks for (``BreakGlassRequest``), or `nil` when it asks for none.
    /// Asking without an active grant for that patient is refused (``PHIGuardWebError/noActiveEmergencyGrant``).
    func grant(for request: Request, principal: AuthenticatedPrincipal) async throws -> EmergencyGrant? {
        guard let asked = BreakGlassRequest(request) else { return nil }
        guard let emergency,
            let grant = try await emergency.activeGrant(for: principal, patientID: asked.patientID)
        else { throw PHIGuardWebError.noActiveEmergencyGrant }
        return grant
    }

    /// Adds `GET /`, `GET /{id}` and `PATCH /{id}` (a JSON object of field name to new value) to
    /// `group`, answering JSON with `Cache-Control: no-store`.
    public func register<Context: PHIGuardRequestContext>(on group: RouterGroup<Context>) {
        group.get { request, context in
            try Self.json(PageBody(try await list(request: request, context: context)))
        }
        group.get("{id}") { request, context in
            let id = try context.parameters.require("id")
            return try Self.json(RecordBody(try await read(id, request: request, context: context)))
        }
        group.patch("{id}") { request, context in
            let id = try context.parameters.require("id")
            let changes: [String: String]
            do {
                changes = try await request.decode(as: [String: String].self, context: context)
            } catch {
                throw PHIGuardWebError.invalidRequest
            }
            let sequence = try await update(id, changes: changes, request: request, context: context)
            return try Self.json(UpdateBody(id: id, auditSequence: sequence))
        }
    }

    /// `value` as JSON with `Cache-Control: no-store`.
    public static func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The JSON of one record: `{"id", "patientID", "fields": {name: value}}` (visible fields only).
    public struct RecordBody: Encodable, Sendable {
        /// The record id.
        public let id: String
        /// The patient the record belongs to.
        public let patientID: String
        /// The fields the decision lets the principal see.
        public let fields: [String: String]

        /// The body of `record`.
        public init(_ record: GuardedRecord) {
            id = record.id
            patientID = record.patientID
            fields = record.values
        }
    }

    /// The JSON of a page: `{"records": [...], "nextCursor": ...}`.
    public struct PageBody: Encodable, Sendable {
        /// The records of the page.
        public let records: [RecordBody]
        /// The cursor of the next page, if any.
        public let nextCursor: String?

        /// The body of `page`.
        public init(_ page: RecordPage) {
            records = page.records.map(RecordBody.init)
            nextCursor = page.nextCursor
        }
    }

    struct UpdateBody: Encodable {
        let id: String
        let auditSequence: UInt64
    }
}

/// An explicit request to read or write under break-the-glass: the query parameter
/// `break-glass-patient=<patient id>`. Without it no grant is ever used, even an active one; with
/// it, the principal's active grant for that patient (from `EmergencyAccess.activeGrant`) must exist.
public struct BreakGlassRequest: Sendable, Hashable {
    /// The query parameter: `break-glass-patient`.
    public static let queryParameter = "break-glass-patient"
    /// The patient the grant must open.
    public let patientID: String

    /// The request's break-the-glass ask, or `nil` when it makes none.
    public init?(_ request: Request) {
        guard let patient = request.uri.queryParameters[Substring(Self.queryParameter)], !patient.isEmpty else {
            return nil
        }
        patientID = String(patient)
    }
}
