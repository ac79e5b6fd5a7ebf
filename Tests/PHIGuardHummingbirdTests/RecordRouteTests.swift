import Foundation
import Hummingbird
import HummingbirdTesting
import PHIGuardAuthentication
import PHIGuardHummingbird
import Testing

@Suite("Guarded-record routes: the signed-in principal, IDOR answered as missing, explicit break-glass")
struct RecordRouteTests {
    static func object(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]) ?? [:]
    }

    /// The body without its per-request `instance`.
    static func shape(_ response: TestResponse) -> NSDictionary {
        var body = object(response)
        body["instance"] = nil
        return NSDictionary(dictionary: body)
    }

    @Test("a patient reads her chart; another patient's chart answers exactly like a missing one")
    func idor() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var alice = Browser()
            _ = try await alice.signIn(client, harness, as: "alice")
            let own = try await alice.send(client, .get, "/charts/c-alice")
            #expect(own.status == .ok)
            let fields = Self.object(own)["fields"] as? [String: String]
            #expect(fields?["name"] == "Alice Example")
            let other = try await alice.send(client, .get, "/charts/c-bob")
            let missing = try await alice.send(client, .get, "/charts/c-nobody")
            #expect(other.status == .notFound)
            #expect(missing.status == .notFound)
            #expect(Self.shape(other).isEqual(to: Self.shape(missing) as? [AnyHashable: Any] ?? [:]))
            #expect(!String(buffer: other.body).contains("Bob"))
            // The list shows her own chart only.
            let list = try await alice.send(client, .get, "/charts")
            let records = Self.object(list)["records"] as? [[String: Any]]
            #expect(records?.compactMap { $0["id"] as? String } == ["c-alice"])
        }
    }

    @Test("updates go through the policy: a patient's PATCH is refused like a missing record, a physician's is applied")
    func update() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var alice = Browser()
            _ = try await alice.signIn(client, harness, as: "alice")
            let refused = try await alice.send(client, .patch, "/charts/c-alice", json: #"{"notes":"mine now"}"#)
            #expect(refused.status == .notFound)
            var drew = Browser()
            _ = try await drew.signIn(client, harness, as: "drew")
            let applied = try await drew.send(client, .patch, "/charts/c-alice", json: #"{"notes":"seen 2027-01-15"}"#)
            #expect(applied.status == .ok)
            let chart = try await alice.send(client, .get, "/charts/c-alice")
            #expect((Self.object(chart)["fields"] as? [String: String])?["notes"] == "seen 2027-01-15")
        }
    }

    @Test("break-glass only when asked: no grant is refused, a grant opens the chart only with the explicit parameter")
    func breakGlass() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.router) { client async throws in
            var drew = Browser()
            let token = try await drew.signIn(client, harness, as: "drew")
            #expect(try await drew.send(client, .get, "/charts/c-alice").status == .notFound)
            let noGrant = try await drew.send(client, .get, "/charts/c-alice?break-glass-patient=p-alice")
            #expect(noGrant.status == .forbidden)
            #expect(Self.object(noGrant)["code"] as? String == "break_glass_refused")
            let invoked = try await drew.send(
                client, .post, "/break-glass",
                form: ["patient": "p-alice", "justification": "unresponsive on arrival"],
                csrf: token)
            #expect(invoked.status == .ok)
            let opened = try await drew.send(client, .get, "/charts/c-alice?break-glass-patient=p-alice")
            #expect(opened.status == .ok)
            #expect((Self.object(opened)["fields"] as? [String: String])?["allergies"] == "penicillin")
            // Without the explicit ask, the active grant is not used.
            #expect(try await drew.send(client, .get, "/charts/c-alice").status == .notFound)
            // The grant opens its patient only.
            #expect(try await drew.send(client, .get, "/charts/c-bob?break-glass-patient=p-alice").status == .notFound)
        }
    }
}
