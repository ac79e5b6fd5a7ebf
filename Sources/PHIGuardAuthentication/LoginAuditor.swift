import Foundation
import Logging
import PHIGuardAccess
import PHIGuardAudit

/// Writes the flow's audit events and counts failures and lockouts (``LoginMetricLabel``). Events of failures and session ends are best effort (a failure
/// to record them is logged at `error`); events of successful sign-in steps are required: if they
/// cannot be recorded, the step is undone and refused.
struct LoginAuditor: Sendable {
    let log: AuditLog?
    let logger: Logger
    let clock: any PHIGuardClock
    let counters: LoginCounters

    /// A failed sign-in or second-factor attempt with its internal reason, and the client address as
    /// attribute `client-address` (what `SecurityMonitor`'s credential-stuffing rule groups by).
    func failure(
        mfa: Bool, account: String?, handle: String? = nil, clientAddress: String? = nil,
        reason: AuthenticationFailureReason
    ) async {
        counters.recordFailure(reason)
        logger.notice(
            mfa ? "second factor rejected" : "sign-in rejected",
            metadata: ["reason": "\(reason.rawValue)", "account": "\(account ?? "-")"])
        await bestEffort {
            let event =
                if mfa, let account {
                    try AuditEvent.mfa(
                        .mfaFailed, userID: account, succeeded: false, reason: reason.rawValue, sessionID: handle,
                        at: clock.now)
                } else {
                    try AuditEvent.login(
                        succeeded: false, userID: account, sessionID: handle, reason: reason.rawValue, at: clock.now)
                }
            return try Self.addingClientAddress(clientAddress, to: event)
        }
    }

    /// A session event (`session.created`, `session.refreshed`, `session.revoked`, `session.expired`).
    func session(_ kind: AuditEventKind, account: String, handle: String, reason: String? = nil) async {
        await bestEffort {
            try AuditEvent.session(kind, userID: account, sessionID: handle, reason: reason, at: clock.now)
        }
    }

    /// A recovery request: `session.created` with reason `recovery-requested` for an account, and
    /// with no actor and reason `recovery-requested-unknown-account` otherwise (the same append either way).
    func recoveryRequested(account: String?, handle: String) async {
        await bestEffort {
            try AuditEvent(
                kind: .sessionCreated, timestamp: AuditEvent.timestamp(for: clock.now), actorID: account,
                sessionID: handle, action: "session", outcome: .success,
                reason: account == nil ? "recovery-requested-unknown-account" : "recovery-requested")
        }
    }

    /// A lockout that started: recorded as a failed sign-in with reason `locked-out`, the lock's
    /// length and the client address.
    func lockout(account: String?, clientAddress: String? = nil, duration: Duration) async {
        counters.recordLockout()
        logger.warning("sign-in locked after repeated failures", metadata: ["account": "\(account ?? "-")"])
        await bestEffort {
            try AuditEvent(
                kind: .loginFailed, timestamp: AuditEvent.timestamp(for: clock.now), actorID: account,
                action: "login",
                outcome: .failure, reason: "locked-out",
                attributes: ["lockout-seconds": "\(duration.components.seconds)"]
                    .merging(Self.clientAddressAttribute(clientAddress)) { kept, _ in kept })
        }
    }

    /// `["client-address": address]` when the address is a valid audit identifier (an IPv4 or IPv6
    /// address is), else nothing: an address the app passed in another form never costs the event.
    static func clientAddressAttribute(_ address: String?) -> [String: String] {
        guard let address, AuditIdentifier.isValid(address) else { return [:] }
        return ["client-address": address]
    }

    /// `event` with the client address attribute added (see ``clientAddressAttribute(_:)``).
    static func addingClientAddress(_ address: String?, to event: AuditEvent) throws(AuditError) -> AuditEvent {
        let extra = clientAddressAttribute(address)
        return extra.isEmpty ? event : try event.adding(attributes: extra)
    }

    /// A stored row that failed its seal check and was refused: `integrity.tamper-detected`, naming
    /// the table and the row, with the account and session the row claimed (untrusted).
    func tampered(table: String, rowID: String, claimedAccount: String?, handle: String? = nil) async {
        counters.recordFailure(.tamperedRecord)
        logger.error("stored row failed its seal check; refused", metadata: ["table": "\(table)"])
        await bestEffort {
            try AuditEvent.tamperDetected(
                table: table, rowID: rowID, actorID: claimedAccount, sessionID: handle, at: clock.now)
        }
    }

    /// A completed step that must be on record before it takes effect.
    func required(_ makeEvents: () throws -> [AuditEvent]) async throws(AuthenticationError) {
        guard let log else { return }
        do {
            for event in try makeEvents() { try await log.append(event) }
        } catch {
            logger.error("audit event could not be recorded; refusing the step", metadata: ["error": "\(error)"])
            throw .unavailable
        }
    }

    private func bestEffort(_ makeEvent: () throws -> AuditEvent) async {
        guard let log else { return }
        do {
            try await log.append(try makeEvent(), durability: .queued)
        } catch {
            logger.error("audit event could not be recorded", metadata: ["error": "\(error)"])
        }
    }
}
