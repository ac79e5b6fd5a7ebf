import Foundation
import Hummingbird
import PHIGuardFieldEncryption
import PHIGuardRecords
import PHIGuardSQLite

/// The same chart read without any of PHIGuard's middleware or guards: no session, no decision, no
/// audit record — the row is fetched from the same SQLite table and decrypted. It exists only as
/// the baseline of `Benchmarks/http/run.sh`; it is served on its own port, never next to the guarded app.
func plainRouter(services: QuickstartServices) -> Router<BasicRequestContext> {
    let router = Router()
    router.get("/plain/charts/{id}") { _, context -> Response in
        let id = try context.parameters.require("id")
        guard let stored = try await services.store.fetch(id, schema: services.schema) else {
            return Response(status: .notFound)
        }
        var fields: [String: String] = [:]
        for field in services.schema.fields {
            guard case .bytes(let envelope) = stored.columns[field.column] else { continue }
            let context = FieldContext(table: services.schema.table, recordID: id, field: field.name)
            fields[field.name] = String(
                decoding: try services.encryptor.decrypt(bytes: envelope, context: context), as: UTF8.self)
        }
        let body = try JSONEncoder().encode(PlainChart(id: id, patientID: stored.patientID, fields: fields))
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
    return router
}

struct PlainChart: Encodable {
    let id: String
    let patientID: String
    let fields: [String: String]
}
