public import Foundation
internal import PHIGuardCrypto

/// What happened. The raw values are part of the record format (see <doc:RecordFormat>) and never change.
public enum AuditEventKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// A user signed in.
    case loginSucceeded = "login.succeeded"
    /// A sign-in was refused; ``AuditEvent/reason`` holds the internal reason code.
    case loginFailed = "login.failed"
    /// A second factor was enrolled.
    case mfaEnrolled = "mfa.enrolled"
    /// A second factor was verified.
    case mfaVerified = "mfa.verified"
    /// A second-factor code was rejected.
    case mfaFailed = "mfa.failed"
    /// A second factor was removed.
    case mfaDisabled = "mfa.disabled"
    /// A recovery code was used instead of the second factor.
    case mfaRecoveryCodeUsed = "mfa.recovery-code-used"
    /// A session was created.
    case sessionCreated = "session.created"
    /// A session was renewed or its id rotated.
    case sessionRefreshed = "session.refreshed"
    /// A session was ended by the user or an administrator.
    case sessionRevoked = "session.revoked"
    /// A session timed out.
    case sessionExpired = "session.expired"
    /// An access-control decision about a resource (allow or deny).
    case accessDecision = "access.decision"
    /// An encryption key was rotated.
    case keyRotated = "key.rotated"
    /// An access policy was loaded or reloaded.
    case policyReloaded = "policy.reloaded"
    /// A reviewer looked at a break-glass access (``AuditEvent/relatedSequence`` names it).
    case breakGlassReviewed = "break-glass.reviewed"
    /// A security alert raised by ``SecurityMonitor`` (``SecurityAlert/auditEvent()``): the rule id is
    /// the ``AuditEvent/reason``, the triggering record's sequence the ``AuditEvent/relatedSequence``.
    case securityAlert = "security.alert"
    /// A stored row failed its integrity check (its seal did not verify) and was refused:
    /// ``AuditEvent/resourceType`` names the table, ``AuditEvent/resourceID`` the row.
    case tamperDetected = "integrity.tamper-detected"
    /// Someone invoked break-the-glass: a grant was issued (outcome `success`, the grant's id in
    /// attribute `break-glass-grant`) or refused (outcome `failure`, ``AuditEvent/reason`` says why).
    case breakGlassInvoked = "break-glass.invoked"
    /// A break-glass grant was revoked before it expired (attribute `break-glass-grant`).
    case breakGlassRevoked = "break-glass.revoked"
    /// A break-glass grant ran out: recorded once per grant (attribute `break-glass-grant`,
    /// ``AuditEvent/relatedSequence`` its `break-glass.invoked` record).
    case breakGlassExpired = "break-glass.expired"
}

/// How it ended. Access decisions use ``allow`` / ``deny``; everything else ``success`` / ``failure``.
public enum AuditOutcome: String, Sendable, Hashable, Codable, CaseIterable {
    /// The operation succeeded.
    case success
    /// The operation failed.
    case failure
    /// Access was granted.
    case allow
    /// Access was refused.
    case deny

    /// `true` for ``success`` and ``allow``.
    public var isPositive: Bool { self == .success || self == .allow }
}

/// One auditable event: identifiers only, never PHI values or secrets.
///
/// Every string is an ``AuditIdentifier`` (checked when the event is made), so a patient's name, a
/// diagnosis, a password or a token cannot be stored by mistake. Make events with the factory
/// functions (``login(succeeded:userID:sessionID:reason:method:at:)``,
/// ``accessDecision(actorID:role:action:resourceType:resourceID:patientID:fieldsReturned:allowed:ruleIDs:breakGlass:sessionID:at:)``, …);
/// the access and authentication modules map their own types into these.
///
/// ```swift
/// let event = try AuditEvent.accessDecision(
///     actorID: "user:42", role: "nurse", action: "read", resourceType: "Observation",
///     resourceID: "obs-9f2c", patientID: "MRN-000123", fieldsReturned: ["code", "value"],
///     allowed: true, ruleIDs: ["nurse-own-ward"])
/// try await log.append(event)
/// ```
public struct AuditEvent: Sendable, Hashable {
    /// What happened.
    public let kind: AuditEventKind
    /// When, in microseconds since 1970-01-01T00:00:00Z.
    public let timestamp: Int64
    /// Who acted (a user or service id), if anyone.
    public let actorID: String?
    /// The actor's role when it acted.
    public let actorRole: String?
    /// The session's public id (never the session token or cookie).
    public let sessionID: String?
    /// The action attempted (`read`, `create`, `update`, `delete`, `search`, `export`, …).
    public let action: String?
    /// The type of resource acted on (`Observation`, `Patient`, `key-ring`, `policy`, …).
    public let resourceType: String?
    /// The id of the resource acted on.
    public let resourceID: String?
    /// The patient the resource belongs to.
    public let patientID: String?
    /// The names of the fields returned (never their values).
    public let fields: [String]
    /// How it ended.
    public let outcome: AuditOutcome
    /// The internal reason code (for example `wrong-password`, `locked-out`, `unknown-user`). Internal:
    /// it is kept in the audit log and never shown to the user.
    public let reason: String?
    /// The ids of the policy rules that decided.
    public let ruleIDs: [String]
    /// Whether emergency ("break-glass") access was used.
    public let breakGlass: Bool
    /// The break-glass reason code (for example `ETREAT`), required when ``breakGlass`` is set.
    public let breakGlassReason: String?
    /// The sequence number of a related record (the reviewed access for ``AuditEventKind/breakGlassReviewed``).
    public let relatedSequence: UInt64?
    /// Further identifier pairs (for example `from-key` / `to-key`). At most 32.
    public let attributes: [String: String]

    /// Makes an event after checking every string is an ``AuditIdentifier``.
    ///
    /// Throws ``AuditError/invalidIdentifier(field:)`` (naming the field, never the value) or
    /// ``AuditError/invalidEvent(_:)``.
    public init(
        kind: AuditEventKind,
        timestamp: Int64,
        actorID: String? = nil,
        actorRole: String? = nil,
        sessionID: String? = nil,
        action: String? = nil,
        resourceType: String? = nil,
        resourceID: String? = nil,
        patientID: String? = nil,
        fields: [String] = [],
        outcome: AuditOutcome,
        reason: String? = nil,
        ruleIDs: [String] = [],
        breakGlass: Bool = false,
        breakGlassReason: String? = nil,
        relatedSequence: UInt64? = nil,
        attributes: [String: String] = [:]
    ) throws(AuditError) {
        try AuditIdentifier.check(actorID, "actorID")
        try AuditIdentifier.check(actorRole, "actorRole")
        try AuditIdentifier.check(sessionID, "sessionID")
        try AuditIdentifier.check(action, "action")
        try AuditIdentifier.check(resourceType, "resourceType")
        try AuditIdentifier.check(resourceID, "resourceID")
        try AuditIdentifier.check(patientID, "patientID")
        try AuditIdentifier.check(fields, "fields")
        try AuditIdentifier.check(reason, "reason")
        try AuditIdentifier.check(ruleIDs, "ruleIDs")
        try AuditIdentifier.check(breakGlassReason, "breakGlassReason")
        guard attributes.count <= 32 else { throw .invalidEvent("more than 32 attributes") }
        try AuditIdentifier.check(Array(attributes.keys), "attributes")
        try AuditIdentifier.check(Array(attributes.values), "attributes")
        guard breakGlass || breakGlassReason == nil else {
            throw .invalidEvent("a break-glass reason needs the break-glass flag")
        }
        guard !breakGlass || breakGlassReason != nil else {
            throw .invalidEvent("break-glass access needs a reason code")
        }
        self.init(
            unchecked: kind, timestamp: timestamp, actorID: actorID, actorRole: actorRole, sessionID: sessionID,
            action: action, resourceType: resourceType, resourceID: resourceID, patientID: patientID, fields: fields,
            outcome: outcome, reason: reason, ruleIDs: ruleIDs, breakGlass: breakGlass,
            breakGlassReason: breakGlassReason, relatedSequence: relatedSequence, attributes: attributes)
    }

    /// Stored records are decoded without the identifier check: the chain, not the parser, decides
    /// whether they are genuine.
    init(
        unchecked kind: AuditEventKind, timestamp: Int64, actorID: String?, actorRole: String?, sessionID: String?,
        action: String?, resourceType: String?, resourceID: String?, patientID: String?, fields: [String],
        outcome: AuditOutcome, reason: String?, ruleIDs: [String], breakGlass: Bool, breakGlassReason: String?,
        relatedSequence: UInt64?, attributes: [String: String]
    ) {
        self.kind = kind
        self.timestamp = timestamp
        self.actorID = actorID
        self.actorRole = actorRole
        self.sessionID = sessionID
        self.action = action
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.patientID = patientID
        self.fields = fields
        self.outcome = outcome
        self.reason = reason
        self.ruleIDs = ruleIDs
        self.breakGlass = breakGlass
        self.breakGlassReason = breakGlassReason
        self.relatedSequence = relatedSequence
        self.attributes = attributes
    }

    /// The event time as a `Date`.
    public var date: Date { Date(timeIntervalSince1970: Double(timestamp) / 1_000_000) }

    /// Microseconds since the Unix epoch for `date`, rounded to the nearest and clamped to the `Int64`
    /// range (a date beyond it, or NaN, gives `Int64.max` or `Int64.min` instead of trapping).
    public static func timestamp(for date: Date) -> Int64 {
        date.microsecondsSince1970
    }
}

// MARK: - Factories, one per event family

extension AuditEvent {
    /// A sign-in attempt. On failure, `reason` is the internal reason code (`wrong-password`,
    /// `unknown-user`, `locked-out`, …) — stored here, never shown to the user.
    public static func login(
        succeeded: Bool, userID: String?, sessionID: String? = nil, reason: String? = nil, method: String? = nil,
        at date: Date = SystemClock().now
    ) throws(AuditError) -> AuditEvent {
        try AuditEvent(
            kind: succeeded ? .loginSucceeded : .loginFailed, timestamp: timestamp(for: date), actorID: userID,
            sessionID: sessionID, action: "login", outcome: succeeded ? .success : .failure, reason: reason,
            attributes: method.map { ["method": $0] } ?? [:])
    }

    /// A multi-factor event (`kind` must be one of the `mfa…` kinds), for example `mfa.failed` with
    /// reason `replayed-code`.
    public static func mfa(
        _ kind: AuditEventKind, userID: String, succeeded: Bool, factor: String? = nil, reason: String? = nil,
        sessionID: String? = nil, at date: Date = SystemClock().now
    ) throws(AuditError) -> AuditEvent {
        guard kind.rawValue.hasPrefix("mfa.") else { throw .invalidEvent("not an MFA event kind") }
        return try AuditEvent(
            kind: kind, timestamp: timestamp(for: date), actorID: userID, sessionID: sessionID, action: "mfa",
            outcome: succeeded ? .success : .failure, reason: reason,
            attributes: factor.map { ["factor": $0] } ?? [:])
    }

    /// A session event (`kind` must be one of the `session…` kinds). `sessionID` is the session's
    /// public id, never its token.
    public static func session(
        _ kind: AuditEventKind, userID: String, sessionID: String, reason: String? = nil,
        at date: Date = SystemClock().now
    ) throws(AuditError) -> AuditEvent {
        guard kind.rawValue.hasPrefix("session.") else { throw .invalidEvent("not a session event kind") }
        return try AuditEvent(
            kind: kind, timestamp: timestamp(for: date), actorID: userID, sessionID: sessionID, action: "session",
            outcome: .success, reason: reason)
    }

    /// An access-control decision: who (and in which role) tried which action on which resource of
    /// which patient, the names of the fields returned, allow or deny, the deciding rule ids, and
    /// whether break-glass was used (then `breakGlass` is the reason code, for example `ETREAT`).
    public static func accessDecision(
        actorID: String, role: String, action: String, resourceType: String, resourceID: String? = nil,
        patientID: String? = nil, fieldsReturned: [String] = [], allowed: Bool, ruleIDs: [String] = [],
        breakGlass: String? = nil, sessionID: String? = nil, at date: Date = SystemClock().now
    ) throws(AuditError) -> AuditEvent {
        try AuditEvent(
            kind: .accessDecision, timestamp: timestamp(for: date), actorID: actorID, actorRole: role,
            sessionID: sessionID, action: action, resourceType: resourceType, resourceID: resourceID,
            patientID: patientID, fields: allowed ? fieldsReturned : [], outcome: allowed ? .allow : .deny,
            ruleIDs: ruleIDs, breakGlass: breakGlass != nil, breakGlassReason: breakGlass)
    }

    /// A key rotation in key ring `keyRingID` from key id `fromKeyID` to `toKeyID` (ids, never keys).
    public static func keyRotated(
        keyRingID: String, fromKeyID: String?, toKeyID: String, actorID: String? = nil, succeeded: Bool = true,
        reason: String? = nil, at date: Date = SystemClock().now
    ) throws(AuditError) -> AuditEvent {
        var attributes = ["to-key": toKeyID]
        if let fromKeyID { attributes["from-key"] = fromKeyID }
        return try AuditEvent(
            kind: .keyRotated, timestamp: timestamp(for: date), actorID: actorID, action: "rotate",
            resourceType: "key-ring", resourceID: keyRingID, outcome: succeeded ? .success : .failure, reason: reason,
            attributes: attributes)
    }

    /// A policy (re)load of policy `policyID` at version `version`; on failure `reason` says why.
    public static func policyReloaded(
        policyID: String, version: String, actorID: String? = nil, succeeded: Bool = true, reason: String? = nil,
        at date: Date = SystemClock().now
    ) throws(AuditError) -> AuditEvent {
        try AuditEvent(
            kind: .policyReloaded, timestamp: timestamp(for: date), actorID: actorID, action: "reload",
            resourceType: "policy", resourceID: policyID, outcome: succeeded ? .success : .failure, reason: reason,
            attributes: ["version": version])
    }

    /// The review of the break-glass access recorded at `sequence`, by `reviewerID`.
    /// `outcome` is a review code such as `justified` or `escalated`.
    public static func breakGlassReviewed(
        sequence: UInt64, reviewerID: String, outcome: String = "justified", at date: Date = SystemClock().now
    ) throws(AuditError) -> AuditEvent {
        try AuditEvent(
            kind: .breakGlassReviewed, timestamp: timestamp(for: date), actorID: reviewerID, action: "review",
            outcome: .success, reason: outcome, relatedSequence: sequence)
    }

    /// A stored row of `table` (row id `rowID`) that failed its integrity check and was refused.
    /// `actorID` and `sessionID` are what the refused row claimed (untrusted: it was edited), if it
    /// names them; `reason` is the check that failed (by default `seal-mismatch`).
    public static func tamperDetected(
        table: String, rowID: String, actorID: String? = nil, sessionID: String? = nil,
        reason: String = "seal-mismatch", at date: Date = SystemClock().now
    ) throws(AuditError) -> AuditEvent {
        try AuditEvent(
            kind: .tamperDetected, timestamp: timestamp(for: date), actorID: actorID, sessionID: sessionID,
            action: "verify", resourceType: table, resourceID: rowID, outcome: .failure, reason: reason)
    }
}

extension AuditEvent {
    /// A copy with `extra` attributes added (a name already present takes the new value); the
    /// attributes are checked like the initialiser's.
    public func adding(attributes extra: [String: String]) throws(AuditError) -> AuditEvent {
        try AuditEvent(
            kind: kind, timestamp: timestamp, actorID: actorID, actorRole: actorRole, sessionID: sessionID,
            action: action, resourceType: resourceType, resourceID: resourceID, patientID: patientID, fields: fields,
            outcome: outcome, reason: reason, ruleIDs: ruleIDs, breakGlass: breakGlass,
            breakGlassReason: breakGlassReason, relatedSequence: relatedSequence,
            attributes: attributes.merging(extra) { _, new in new })
    }
}
