import InMemoryLogging
import Logging
import PHIGuardErrors

/// A reporter whose log lines land in memory (no global logging set-up).
struct CapturingReporter {
    let handler: InMemoryLogHandler
    let reporter: ErrorReporter

    init(mappings: ErrorMappings = ErrorMappings(), configuration: ErrorReporter.Configuration = .init()) {
        var handler = InMemoryLogHandler()
        handler.logLevel = .trace
        let captured = handler
        self.handler = handler
        reporter = ErrorReporter(
            logger: Logger(label: "phiguard.errors.test", factory: { _ in captured }), mappings: mappings,
            configuration: configuration)
    }

    /// The log entries carrying `id` as their correlation id.
    func entries(for id: CorrelationID) -> [InMemoryLogHandler.Entry] {
        handler.entries.filter { $0.metadata["correlation_id"] == .string(id.rawValue) }
    }

    /// The one entry for `id`, rendered as text (message and all metadata).
    func logText(for id: CorrelationID) -> String? {
        let found = entries(for: id)
        guard found.count == 1, let entry = found.first else { return nil }
        return "\(entry.level) \(entry.message) " + flatten(entry.metadata)
    }
}

/// Metadata as raw `key=value` text (no escaping, so a newline in a key or value stays a newline).
func flatten(_ metadata: Logger.Metadata) -> String {
    metadata.sorted { $0.key < $1.key }.map { "\($0.key)=" + flatten($0.value) }.joined(separator: " ")
}

func flatten(_ value: Logger.MetadataValue) -> String {
    switch value {
    case .string(let text): text
    case .stringConvertible(let convertible): convertible.description
    case .array(let values): "[" + values.map(flatten).joined(separator: ", ") + "]"
    case .dictionary(let metadata): "{" + flatten(metadata) + "}"
    }
}
