import InMemoryLogging
import Logging
import PHIGuardErrors
import PHIGuardPasswords
import Testing

enum ChartError: Error {
    case noteLocked(noteID: String)
    case storageFailed(path: String)
}

extension PublicProblem {
    static let noteLocked = PublicProblem(
        code: "note_locked", status: 409, title: "Note locked", detail: "The note is locked for editing.")
}

class StorageFailure: Error, @unchecked Sendable {}  // no stored state
final class DiskFull: StorageFailure, @unchecked Sendable {}

@Suite("Registering mappings for app errors")
struct RegistrationTests {
    static func chartMappings() -> ErrorMappings {
        var mappings = ErrorMappings()
        mappings.register(ChartError.self) { error in
            switch error {
            case .noteLocked(let id):
                MappedError(
                    .noteLocked, internalCode: "chart.note_locked", logMessage: "note locked",
                    context: ["note_id": .value(id)])
            case .storageFailed(let path):
                MappedError(
                    .internalError, internalCode: "chart.storage", logMessage: "write failed",
                    context: ["path": .value(path)])
            }
        }
        return mappings
    }

    @Test("a registered app error maps to its problem and logs its context")
    func registered() throws {
        let capture = CapturingReporter(mappings: Self.chartMappings())
        let id = CorrelationID()
        let failure = capture.reporter.report(ChartError.noteLocked(noteID: "n-9"), correlationID: id)
        #expect(failure.problem == .noteLocked)
        #expect(failure.status == 409)
        let entry = try #require(capture.entries(for: id).first)
        #expect(entry.metadata["error.internal_code"] == "chart.note_locked")
        #expect(entry.metadata["error.context"] == .dictionary(["note_id": "n-9"]))

        let storage = capture.reporter.report(ChartError.storageFailed(path: "/srv/x.db"))
        #expect(storage.problem == .internalError)
        #expect(!storage.problemJSON.contains("/srv"))
    }

    @Test("without a registration the same error is a generic 500")
    func unregistered() {
        let capture = CapturingReporter()
        let failure = capture.reporter.report(ChartError.noteLocked(noteID: "n-9"))
        #expect(failure.problem == .internalError)
        #expect(failure.status == 500)
        #expect(failure.problem.detail == PublicProblem.internalError.detail)
    }

    @Test("a registration overrides a PHIGuard conformance")
    func overrides() {
        var mappings = ErrorMappings()
        mappings.register(PasswordHashingError.self) { error in
            MappedError(.invalidRequest, internalCode: "app.password", logMessage: error.description)
        }
        let capture = CapturingReporter(mappings: mappings)
        #expect(capture.reporter.report(PasswordHashingError.overloaded).problem == .invalidRequest)
        // The later of two registrations wins.
        mappings.register(PasswordHashingError.self) { _ in
            MappedError(.rateLimited, internalCode: "app.password2", logMessage: "x")
        }
        #expect(CapturingReporter(mappings: mappings).reporter.report(PasswordHashingError.overloaded).status == 429)
    }

    @Test("a registration for a class also maps its subclasses")
    func subclasses() {
        var mappings = ErrorMappings()
        mappings.register(StorageFailure.self) { _ in
            MappedError(.serviceUnavailable, internalCode: "app.storage", logMessage: "storage failed")
        }
        let capture = CapturingReporter(mappings: mappings)
        #expect(capture.reporter.report(DiskFull()).problem == .serviceUnavailable)
    }

    @Test("a PublicError reported again keeps its id and is not logged twice")
    func reReport() {
        let capture = CapturingReporter()
        let first = capture.reporter.report(ResourceNotFound(resourceType: "Note"))
        let again = capture.reporter.report(first)
        #expect(again == first)
        #expect(capture.entries(for: first.correlationID).count == 1)
    }

    @Test("the error chain is logged link by link, and cut at the configured length")
    func chain() throws {
        let capture = CapturingReporter(configuration: .init(maximumChainLength: 3))
        let id = CorrelationID()
        let inner = ChainLink(code: "link.inner", underlying: PasswordHashingError.overloaded)
        let outer = ChainLink(code: "link.outer", underlying: ChainLink(code: "link.middle", underlying: inner))
        capture.reporter.report(outer, correlationID: id)
        let entry = try #require(capture.entries(for: id).first)
        guard case .array(let links) = entry.metadata["error.chain"] else {
            Issue.record("no chain")
            return
        }
        #expect(links.count == 4)
        #expect(links.first.map { flatten($0).contains("[link.outer]") } == true)
        #expect(links.dropFirst().first.map { flatten($0).contains("[link.middle]") } == true)
        #expect(links.last.map { flatten($0).contains("chain cut at 3 links") } == true)
    }

    @Test("a request logger replaces the reporter's own, and the level filter is respected")
    func requestLogger() {
        let capture = CapturingReporter()
        let request = CapturingReporter()
        var requestLogger = request.reporter.logger
        requestLogger[metadataKey: "request_id"] = "r-1"
        let failure = capture.reporter.report(ResourceNotFound(resourceType: "Note"), logger: requestLogger)
        #expect(capture.entries(for: failure.correlationID).isEmpty)
        #expect(request.entries(for: failure.correlationID).count == 1)

        var quiet = capture.reporter.logger
        quiet.logLevel = .critical
        let unlogged = capture.reporter.report(ResourceNotFound(resourceType: "Note"), logger: quiet)
        #expect(capture.entries(for: unlogged.correlationID).isEmpty)
    }

    @Test("context is capped at 32 fields and the drop is logged")
    func contextCap() throws {
        var context = ErrorContext()
        for index in 0..<40 { context.add("f\(index)", .value("\(index)")) }
        #expect(context.fields.count == ErrorContext.maximumFields)
        #expect(context.droppedFieldCount == 8)
        let capture = CapturingReporter()
        let id = CorrelationID()
        capture.reporter.report(ResourceNotFound(resourceType: "Note"), context: context, correlationID: id)
        let entry = try #require(capture.entries(for: id).first)
        #expect(entry.metadata["error.context_dropped"] == "9")
    }
}

/// An app error that wraps another, for the chain tests.
struct ChainLink: Error, PublicErrorMappable {
    var code: String
    var underlying: (any Error)?

    var errorMapping: MappedError {
        MappedError(.internalError, internalCode: code, logMessage: "chained failure", underlying: underlying)
    }
}
