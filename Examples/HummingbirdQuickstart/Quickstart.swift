import Foundation
import Hummingbird
import PHIGuardRateLimit

// The smallest Hummingbird server over PHIGuard: a new SQLite file with demo patients, sign-in with
// password then TOTP, and the charts through PHIGuardHummingbird.
//
//   swift run HummingbirdQuickstart [--port 8080] [--database PATH] [--plain-port N] [--per-account-limit N]
//                                   [--idle-refresh-seconds N]
//
// `--plain-port` also serves the same chart read with no PHIGuard middleware on a second port (the
// benchmark's baseline). `--per-account-limit` is chart API requests a minute per account (600 by default).
// `--idle-refresh-seconds` is `LoginConfiguration.idleRefreshInterval` (the library's default if not
// given; 0 writes the session's idle limit on every request, the behaviour before that setting).

@main
struct Quickstart {
    static func main() async {
        do {
            try await run()
        } catch {
            FileHandle.standardError.write(Data("HummingbirdQuickstart: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run() async throws {
        var port = Int(ProcessInfo.processInfo.environment["PORT"] ?? "") ?? 8080
        var plainPort: Int?
        var perAccount = 600
        var idleRefreshInterval: Duration?
        var databasePath = FileManager.default.temporaryDirectory
            .appendingPathComponent("phiguard-quickstart-\(UUID().uuidString.prefix(8))").appendingPathComponent(
                "portal.sqlite"
            )
            .path
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            guard let value = arguments.next() else { throw QuickstartError.usage("\(argument) needs a value") }
            switch argument {
            case "--port": port = Int(value) ?? port
            case "--plain-port": plainPort = Int(value)
            case "--per-account-limit": perAccount = Int(value) ?? perAccount
            case "--database": databasePath = value
            case "--idle-refresh-seconds":
                guard let seconds = Int(value), seconds >= 0 else {
                    throw QuickstartError.usage("--idle-refresh-seconds needs a whole number of seconds")
                }
                idleRefreshInterval = .seconds(seconds)
            default: throw QuickstartError.usage("unknown option \(argument)")
            }
        }
        try FileManager.default.createDirectory(
            atPath: (databasePath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)

        let services = try await QuickstartServices.open(
            path: databasePath, idleRefreshInterval: idleRefreshInterval)
        let limit = try RateLimit(
            "quickstart-per-account", count: perAccount, per: .seconds(60),
            burst: min(max(1, perAccount / 5), 1_000_000))
        let guarded = Application(
            router: try guardedRouter(services: services, perAccountLimit: limit),
            configuration: .init(address: .hostname("127.0.0.1", port: port)))
        say("PHIGuard quickstart on http://127.0.0.1:\(port)/  (database \(databasePath))")
        say(
            "Demo accounts, password \"\(QuickstartServices.password)\"; add each authenticator (demo only: secrets shown):"
        )
        for (name, uri) in services.authenticators { say("  \(name)  \(uri)") }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await guarded.runService() }
            if let plainPort {
                let plain = Application(
                    router: plainRouter(services: services),
                    configuration: .init(address: .hostname("127.0.0.1", port: plainPort)))
                say("Plain baseline (no PHIGuard middleware) on http://127.0.0.1:\(plainPort)/plain/charts/{id}")
                group.addTask { try await plain.runService() }
            }
            try await group.next()
            group.cancelAll()
        }
        await services.close()
    }
}

/// Writes a line to standard output at once (the benchmark script waits for these lines).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
