import Synchronization

/// How an attack went.
public enum AttackVerdict: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Every attempt was refused or had no effect.
    case blocked
    /// At least one attempt got through; what it obtained or what differed.
    case succeeded(evidence: [String])
    /// The app lacks what the attack needs (a capability, a fixture account, a server's files):
    /// nothing was tried. Never counted as blocked.
    case notApplicable(reason: String)
    /// The harness failed before a verdict (a method of the target threw): neither blocked nor
    /// succeeded; treat it as a failure of the run.
    case inconclusive(reason: String)

    /// Whether the attack was blocked.
    public var isBlocked: Bool { self == .blocked }
    /// Whether the attack succeeded.
    public var isSucceeded: Bool { if case .succeeded = self { true } else { false } }

    /// `blocked`, `SUCCEEDED: …`, `not applicable: …` or `inconclusive: …`.
    public var description: String {
        switch self {
        case .blocked: "blocked"
        case .succeeded(let evidence): "SUCCEEDED: " + evidence.joined(separator: "; ")
        case .notApplicable(let reason): "not applicable: \(reason)"
        case .inconclusive(let reason): "inconclusive: \(reason)"
        }
    }
}

/// One thing a scenario tried, and what came back (never a token, a password or a record's values).
public struct AttackAttempt: Sendable, Hashable, Codable {
    /// What was tried.
    public var tried: String
    /// What came back.
    public var got: String
    /// Whether this attempt got through (evidence of a successful attack).
    public var breached: Bool
}

/// The result of one scenario.
public struct AttackResult: Sendable, Hashable, Codable {
    /// The scenario's stable id (`attack-01-registration-bypass`).
    public var id: String
    /// Its title.
    public var title: String
    /// The attempts made, in order.
    public var attempts: [AttackAttempt]
    /// The verdict.
    public var verdict: AttackVerdict
}

/// One attack of the suite: a stable id, a title, the capabilities it needs, and its steps.
public struct AttackScenario: Sendable, Identifiable {
    /// The stable id, `attack-NN-name`.
    public let id: String
    /// One line saying what is attacked.
    public let title: String
    /// What the target must offer; without it the scenario is not applicable.
    public let requirements: Set<AttackCapability>
    let steps: @Sendable (AttackProbe) async throws -> AttackVerdict?

    init(
        _ id: String, _ title: String, requires requirements: Set<AttackCapability> = [],
        steps: @escaping @Sendable (AttackProbe) async throws -> AttackVerdict?
    ) {
        self.id = id
        self.title = title
        self.requirements = requirements
        self.steps = steps
    }

    /// Runs the scenario against `target`.
    public func run(against target: any AttackTarget) async -> AttackResult {
        let missing = requirements.subtracting(target.capabilities)
        guard missing.isEmpty else {
            return AttackResult(
                id: id, title: title, attempts: [],
                verdict: .notApplicable(reason: "needs " + missing.map(\.rawValue).sorted().joined(separator: ", ")))
        }
        let probe = AttackProbe(target)
        let verdict: AttackVerdict
        do {
            // `nil`: the steps ran to the end; the attempts decide.
            verdict = try await steps(probe) ?? probe.verdict
        } catch {
            verdict = .inconclusive(reason: "the target threw \(type(of: error)): \(error)")
        }
        return AttackResult(id: id, title: title, attempts: probe.attempts, verdict: verdict)
    }
}

/// What a scenario's steps use: the target, and the record of attempts.
final class AttackProbe: Sendable {
    let target: any AttackTarget
    private let log = Mutex<[AttackAttempt]>([])

    init(_ target: any AttackTarget) { self.target = target }

    var fixture: AttackFixture { target.fixture }
    var attempts: [AttackAttempt] { log.withLock { $0 } }

    /// `blocked` when no attempt breached, else `succeeded` with each breach.
    var verdict: AttackVerdict {
        let breaches = attempts.filter(\.breached).map { "\($0.tried) → \($0.got)" }
        return breaches.isEmpty ? .blocked : .succeeded(evidence: breaches)
    }

    /// Records an attempt.
    func note(_ tried: String, _ got: String, breached: Bool) {
        log.withLock { $0.append(AttackAttempt(tried: tried, got: got, breached: breached)) }
    }

    /// Records `response`; a breach if it was allowed.
    @discardableResult
    func expectRefused(_ tried: String, _ response: AttackResponse) -> AttackResponse {
        note(tried, response.description, breached: response.isAllowed)
        return response
    }

    /// Performs `operation` as `session` and expects a refusal.
    @discardableResult
    func expectRefused(_ operation: RecordOperation, as session: AttackSession, _ who: String) async throws
        -> AttackResponse
    {
        expectRefused("\(who): \(operation)", try await target.perform(operation, as: session))
    }

    /// Signs `account` in completely (password, then a current code if it has a second factor).
    /// `nil` (and a breach-free note) when the app refuses: the scenario cannot go on.
    func signIn(_ account: AttackAccount, address: String = "198.51.100.7") async throws -> AttackSession? {
        let first = try await target.signIn(
            loginName: account.loginName, password: account.password, clientAddress: address, presenting: nil)
        switch first {
        case .authenticated(let session): return session
        case .refused(let refusal):
            note("sign in as \(account.loginName) (fixture)", "refused: \(refusal)", breached: false)
            return nil
        case .secondFactorRequired(let pending):
            let code = try await target.currentSecondFactorCode(for: account)
            let second = try await target.sendSecondFactorCode(code, session: pending, clientAddress: address)
            guard case .authenticated(let session) = second else {
                note("second factor for \(account.loginName) (fixture)", second.description, breached: false)
                return nil
            }
            return session
        }
    }

    /// The record operations that read or change `record`, as far as the target offers them.
    func verbs(on record: AttackRecord, field: String) -> [RecordOperation] {
        var operations: [RecordOperation] = [.read(type: record.type, id: record.id)]
        if target.capabilities.contains(.recordUpdate) {
            operations.append(.update(type: record.type, id: record.id, changes: [field: "attack"]))
        }
        if target.capabilities.contains(.recordDelete) {
            operations.append(.delete(type: record.type, id: record.id))
        }
        return operations
    }
}
