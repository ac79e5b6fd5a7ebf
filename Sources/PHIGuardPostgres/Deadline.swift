/// Runs `body`, or throws ``DeadlineExceeded`` once `timeout` has passed (cancelling `body`).
///
/// The PostgreSQL stores bound every operation this way: the connection pool keeps retrying an
/// unreachable server far longer than a login request can wait.
func withDeadline<T: Sendable>(
    _ timeout: Duration, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: DeadlineOutcome<T>.self) { group in
        group.addTask { .finished(try await body()) }
        group.addTask {
            try await Task.sleep(for: timeout)
            return .timedOut
        }
        defer { group.cancelAll() }
        guard case .finished(let value) = try await group.next() else { throw DeadlineExceeded() }
        return value
    }
}

/// An operation did not finish within its store's timeout.
struct DeadlineExceeded: Error {}

private enum DeadlineOutcome<T: Sendable>: Sendable {
    case finished(T)
    case timedOut
}
