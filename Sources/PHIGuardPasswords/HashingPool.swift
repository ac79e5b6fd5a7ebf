internal import Dispatch
internal import Foundation
internal import PHIGuardCrypto

/// A fixed set of dedicated threads that run Argon2 computations.
///
/// Argon2 blocks a thread for tens of milliseconds and allocates `m` KiB, so it must not run on
/// Swift's cooperative pool (it would starve other tasks) and must not run unboundedly in parallel
/// (200 logins × 19 MiB). The thread count *is* the memory budget: at most `workers` hashes run at
/// once; the rest wait in a FIFO queue of at most `maximumQueued` entries, and a cancelled task's
/// entry is dropped without running.
final class HashingPool: Sendable {
    private let shared: Shared
    private let maximumQueued: Int

    init(workers: Int, maximumQueued: Int) {
        shared = Shared()
        self.maximumQueued = maximumQueued
        for index in 0..<workers {
            let thread = Thread { [shared] in shared.workLoop() }
            thread.name = "phiguard-argon2-\(index)"
            thread.start()
        }
    }

    deinit { shared.close() }

    /// Runs `work` on a pool thread once a slot is free and returns its result.
    func run<T: Sendable>(
        _ work: @escaping @Sendable () -> Result<T, PasswordHashingError>
    ) async -> Result<T, PasswordHashingError> {
        let job = Job()
        return await withTaskCancellationHandler {
            await withCheckedContinuation {
                (continuation: CheckedContinuation<Result<T, PasswordHashingError>, Never>) in
                let accepted = job.install(
                    run: { continuation.resume(returning: work()) },
                    cancel: { continuation.resume(returning: .failure(.cancelled)) })
                guard accepted else { return }
                if !shared.enqueue(job, limit: maximumQueued) {
                    job.cancel(resuming: { continuation.resume(returning: .failure(.overloaded)) })
                }
            }
        } onCancel: {
            job.cancel()
        }
    }

    /// The most hashes that have run at the same moment since the pool started.
    var peakConcurrency: Int { shared.state.withLock { $0.peak } }

    // MARK: - Internals

    private final class Shared: Sendable {
        struct State {
            var jobs: [Job] = []
            var head = 0
            var closed = false
            var active = 0
            var peak = 0
        }
        let state = Locked(State())
        private let signal = DispatchSemaphore(value: 0)

        func enqueue(_ job: Job, limit: Int) -> Bool {
            let accepted = state.withLock { state -> Bool in
                guard !state.closed, state.jobs.count - state.head < limit else { return false }
                state.jobs.append(job)
                return true
            }
            if accepted { signal.signal() }
            return accepted
        }

        func close() {
            let pending = state.withLock { state -> [Job] in
                state.closed = true
                defer { state.jobs = []; state.head = 0 }
                return Array(state.jobs[state.head...])
            }
            for job in pending { job.cancel() }
            // Wake every worker so each sees `closed` and exits.
            for _ in 0..<64 { signal.signal() }
        }

        func workLoop() {
            while true {
                signal.wait()
                let next = state.withLock { state -> Job?? in
                    guard state.head < state.jobs.count else { return state.closed ? .some(nil) : nil }
                    let job = state.jobs[state.head]
                    state.head += 1
                    if state.head > 1_024, state.head * 2 > state.jobs.count {
                        state.jobs.removeFirst(state.head)
                        state.head = 0
                    }
                    return job
                }
                guard let next else { continue }
                guard let job = next else { return }
                guard let run = job.claim() else { continue }
                state.withLock { state in
                    state.active += 1
                    state.peak = max(state.peak, state.active)
                }
                run()
                state.withLock { $0.active -= 1 }
            }
        }
    }

    private final class Job: Sendable {
        private enum Phase {
            case created
            case cancelledBeforeInstall
            case queued(run: @Sendable () -> Void, cancel: @Sendable () -> Void)
            case done
        }
        private let phase = Locked(Phase.created)

        /// Stores the closures; `false` (after resuming through `cancel`) if the task was already cancelled.
        func install(run: @escaping @Sendable () -> Void, cancel: @escaping @Sendable () -> Void) -> Bool {
            let cancelledEarly = phase.withLock { phase -> Bool in
                if case .cancelledBeforeInstall = phase {
                    phase = .done
                    return true
                }
                phase = .queued(run: run, cancel: cancel)
                return false
            }
            if cancelledEarly { cancel() }
            return !cancelledEarly
        }

        /// A worker takes the job; `nil` if it was cancelled meanwhile.
        func claim() -> (@Sendable () -> Void)? {
            phase.withLock { phase in
                guard case .queued(let run, _) = phase else { return nil }
                phase = .done
                return run
            }
        }

        /// Cancels a job that has not started; resumes its continuation with `resuming`, or with its cancel closure.
        func cancel(resuming override: (@Sendable () -> Void)? = nil) {
            let action = phase.withLock { phase -> (@Sendable () -> Void)? in
                switch phase {
                case .created:
                    phase = .cancelledBeforeInstall
                    return nil
                case .queued(_, let cancel):
                    phase = .done
                    return override ?? cancel
                case .cancelledBeforeInstall, .done:
                    return nil
                }
            }
            action?()
        }
    }
}
