import Foundation
import InMemoryLogging
import Logging
import PHIGuardAuthentication
import PHIGuardErrors
import PHIGuardPasswords
import Testing

@Suite("RFC 9457 problem+json and the CLI line")
struct ProblemDetailsTests {
    @Test("every catalog problem renders as an RFC 9457 object", arguments: PublicProblem.catalog)
    func shape(problem: PublicProblem) throws {
        let id = try #require(CorrelationID("req-0001.a_b~c"))
        let failure = ErrorReporter(logger: .init(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
            .report(ProblemError(problem: problem), correlationID: id)
        #expect(PublicError.mediaType == "application/problem+json")

        let json = failure.problemJSON
        #expect(!json.contains("\n"))
        let object = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["type", "title", "status", "detail", "instance", "code"])
        // RFC 9457 §3.1: type and instance are URI references (strings), status a JSON number,
        // title and detail strings.
        let type = try #require(object["type"] as? String)
        #expect(type == "urn:phiguard:problem:" + problem.code.replacingOccurrences(of: "_", with: "-"))
        #expect(URL(string: type)?.scheme == "urn")
        #expect(object["status"] as? Int == problem.status)
        #expect(json.contains(#""status":\#(problem.status),"#))  // a JSON integer, not a string
        #expect(failure.status == problem.status)
        #expect(object["title"] as? String == problem.title)
        #expect(object["detail"] as? String == problem.detail)
        #expect(object["instance"] as? String == "req-0001.a_b~c")
        #expect(object["code"] as? String == problem.code)
        #expect(URL(string: "req-0001.a_b~c") != nil)

        // Codable round trip.
        let decoded = try JSONDecoder().decode(ProblemDetails.self, from: Data(json.utf8))
        #expect(decoded == failure.problemDetails)

        // The CLI line.
        #expect(failure.cliMessage == "\(problem.title): \(problem.detail) [\(problem.code), ref req-0001.a_b~c]")
        #expect(!failure.cliMessage.contains("\n"))
    }

    @Test("the exact JSON of one problem")
    func exactJSON() throws {
        let id = try #require(CorrelationID("abc"))
        let failure = ErrorReporter(logger: .init(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
            .report(ResourceNotFound(resourceType: "Patient", id: "p-1"), correlationID: id)
        #expect(
            failure.problemJSON
                == #"{"code":"not_found","detail":"The requested resource was not found.","instance":"abc","#
                + #""status":404,"title":"Not found","type":"urn:phiguard:problem:not-found"}"#)
    }

    @Test("the type base is configurable")
    func typeBase() {
        let reporter = ErrorReporter(
            logger: .init(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }),
            configuration: .init(problemTypeBase: "https://portal.example/problems/"))
        let failure = reporter.report(AuthenticationError.rejected)
        #expect(failure.typeURI == "https://portal.example/problems/authentication-failed")
    }

    @Test("problem literals are normalised instead of trusted")
    func normalisation() {
        let odd = PublicProblem(code: "Bad Code/../x", status: 200, title: "Two\nlines\u{202E}", detail: "a\tb")
        #expect(odd.code == "bad_code____x")
        #expect(odd.status == 500)
        #expect(odd.title == "Two lines ")
        #expect(odd.detail == "a b")
        #expect(PublicProblem(code: "", status: 404, title: "t", detail: "d").code == "internal_error")
    }

    @Test("the stable code table")
    func codeTable() {
        let table = PublicProblem.catalog.map { "\($0.code) \($0.status)" }
        #expect(
            table == [
                "authentication_failed 401", "access_denied 403", "break_glass_refused 403", "not_found 404",
                "conflict 409", "invalid_request 400", "password_not_accepted 422", "login_name_not_accepted 422",
                "justification_required 422", "rate_limited 429",
                "service_unavailable 503", "internal_error 500",
            ])
        #expect(Set(PublicProblem.catalog.map(\.code)).count == PublicProblem.catalog.count)
    }
}

/// An app error that renders as a given problem.
struct ProblemError: Error, PublicErrorMappable {
    var problem: PublicProblem
    var errorMapping: MappedError { MappedError(problem, internalCode: "test.problem", logMessage: "test") }
}

@Suite("Correlation ids")
struct CorrelationIDTests {
    @Test("fresh ids are distinct lowercase UUIDs")
    func fresh() {
        let a = CorrelationID()
        let b = CorrelationID()
        #expect(a != b)
        #expect(a.rawValue.count == 36)
        #expect(a.rawValue == a.rawValue.lowercased())
        #expect(CorrelationID(a.rawValue) == a)
    }

    @Test(
        "ids from outside are accepted only as URI-unreserved text",
        arguments: ["", "a b", "a\nb", "<script>", "a/b", "é", "%41", String(repeating: "a", count: 129)])
    func rejected(text: String) {
        #expect(CorrelationID(text) == nil)
    }

    @Test("valid ids round-trip through Codable; invalid ones do not decode")
    func codable() throws {
        let id = try #require(CorrelationID("Req_42.x~y-z"))
        let data = try JSONEncoder().encode(id)
        #expect(try JSONDecoder().decode(CorrelationID.self, from: data) == id)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(CorrelationID.self, from: Data(#""a\nb""#.utf8))
        }
        #expect(CorrelationID(String(repeating: "a", count: 128)) != nil)
    }
}
