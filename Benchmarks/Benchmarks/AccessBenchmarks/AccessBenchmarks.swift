// Issue 5 targets: PHIGuard single-thread decisions/s >= 5,000,000 and within 5x of a bare
// `Set.contains` over the same precomputed answers (same run). Each iteration decides the world's
// 100,000 requests, so decisions/s = 100,000 / wall-clock per iteration. The peers (cedarpy,
// casbin) run on the same world shape in Benchmarks/peers/authz_world.py.
import Benchmark
@_spi(PolicyEvaluation) import PHIGuardAccess

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput],
        maxDuration: .seconds(10),
        maxIterations: 50
    )
    // The world: 10% of the allow rules carry `relationship: careTeam`.
    let world = try! AuthzWorld(relationshipPercent: 10)
    let policy = world.policy
    let clock = SystemClock()
    let actions = AuthzWorld.actions
    let answers = Set(world.requests.indices.filter { world.expected[$0] }.map { world.answerKey(world.requests[$0]) })
    let targets = (0..<200).map { type in actions.map { policy.target(resourceType: "rt\(type)", action: $0) } }
    let engine = AccessEngine(policy: policy)

    Benchmark("Access 100k requests: Set.contains over precomputed answers (floor)") { benchmark in
        for _ in benchmark.scaledIterations {
            var allowed = 0
            for request in world.requests where answers.contains(world.answerKey(request)) { allowed += 1 }
            blackHole(allowed)
        }
    }

    Benchmark("Access 100k requests: PHIGuard prepared subject + target") { benchmark in
        for _ in benchmark.scaledIterations {
            var allowed = 0
            for (index, request) in world.requests.enumerated()
            where policy.decide(
                world.prepared[request.user], targets[request.type][request.action], world.resources[index],
                clock: clock
            ).isAllowed {
                allowed += 1
            }
            blackHole(allowed)
        }
    }

    Benchmark("Access 100k requests: PHIGuard prepared subject") { benchmark in
        for _ in benchmark.scaledIterations {
            var allowed = 0
            for (index, request) in world.requests.enumerated()
            where policy.decide(
                world.prepared[request.user], actions[request.action], world.resources[index], clock: clock
            )
            .isAllowed {
                allowed += 1
            }
            blackHole(allowed)
        }
    }

    Benchmark("Access 100k requests: PHIGuard AccessRequest (roles by name)") { benchmark in
        for _ in benchmark.scaledIterations {
            var allowed = 0
            for request in world.accessRequests where policy.decide(request, clock: clock).isAllowed { allowed += 1 }
            blackHole(allowed)
        }
    }

    Benchmark("Access 100k requests: PHIGuard AccessEngine (prepared, policy read per decision)") { benchmark in
        for _ in benchmark.scaledIterations {
            var allowed = 0
            for (index, request) in world.requests.enumerated()
            where engine.decide(world.prepared[request.user], actions[request.action], world.resources[index]).isAllowed
            {
                allowed += 1
            }
            blackHole(allowed)
        }
    }
}
