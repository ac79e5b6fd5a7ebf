import Logging
import PHIGuardErrors
import PHIGuardPostgres
import Testing

/// `PostgresConnectionError`'s public mapping: no server needed.
@Suite("PostgreSQL connection errors: public problems")
struct PostgresConnectionErrorMappingTests {
    static let unavailable: [PostgresConnectionError] = [
        .tlsHandshakeFailed, .tlsUnsupportedByServer, .refusedByServer, .authenticationFailed, .unreachable,
        .timedOut, .failed("NIOConnectionError"),
    ]
    static let misconfigured: [PostgresConnectionError] = [
        .malformedURL, .unsupportedParameter(name: "password"), .unsupportedSSLMode,
        .unreadableRootCertificate(path: "/etc/phiguard/secret-ca.pem"),
    ]

    @Test("a server that cannot serve is 503; a URL PHIGuard refuses is 500; neither shows the case's text")
    func mapping() {
        var logger = Logger(label: "quiet")
        logger.logLevel = .critical
        let reporter = ErrorReporter(logger: logger)
        for error in Self.unavailable {
            let reported = reporter.report(error)
            #expect(reported.problem.status == 503, "\(error)")
            #expect(reported.problem.code == PublicProblem.serviceUnavailable.code, "\(error)")
        }
        for error in Self.misconfigured {
            #expect(reporter.report(error).problem.status == 500, "\(error)")
        }
        for error in Self.unavailable + Self.misconfigured {
            let shown = reporter.report(error).cliMessage
            for leak in ["PostgreSQL", "postgres", "TLS", "pg_hba", "sslmode", "secret-ca", "NIOConnectionError"] {
                #expect(!shown.contains(leak), "\(error): \(shown)")
            }
        }
    }
}
