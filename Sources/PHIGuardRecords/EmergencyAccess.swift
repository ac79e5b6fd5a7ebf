public import Foundation
public import PHIGuardAccess
public import PHIGuardAudit
public import PHIGuardFieldEncryption

/// Break-the-glass for an app, end to end: invoke (policy check → `break-glass.invoked` audit
/// record, committed → stored grant), look up, revoke, review, and the review queue.
///
/// ```swift
/// let emergency = EmergencyAccess(
///     engine: engine, store: grants, encryptor: encryptor, audit: auditLog, reviewerRoles: ["privacy-officer"])
/// let grant = try await emergency.invoke(
///     session.principal, scope: BreakGlassScope(patient: "p-1"),
///     reason: BreakGlassReason(category: .emergencyTreatment, justification: "unresponsive on arrival"))
/// let chart = try await charts.read("chart-1", as: session.principal, breakGlass: grant)
/// // later, on another request or instance
/// let active = try await emergency.activeGrant(for: session.principal, patientID: "p-1")
/// ```
///
/// - **Fail closed**: no committed `break-glass.invoked` record, no grant; no stored grant, no
///   grant. A refused invocation is audited too (outcome `failure`, reason the `BreakGlassError`).
/// - **Bound**: a grant opens only the patients of its scope, for its holder, in the session it was
///   invoked in (a sign-out, password change, privilege change or step-up ends it: see
///   `BreakGlassGrant`), until it expires or is revoked. Deny rules still win.
/// - **Only stored grants count**: ``EmergencyGrant`` has no public initializer; ``GuardedRecords``
///   re-reads the stored grant on every use, so a revocation on any instance takes effect at once.
/// - **Justification encrypted**: sealed with the field encryptor, bound to table
///   ``encryptionTable``, the grant id and field `justification`; never logged, never in an audit record.
/// - **Reviewed**: ``review(_:outcome:as:)`` by a principal holding one of `reviewerRoles` (never
///   the grant's holder) writes `break-glass.reviewed`; ``reviewQueue(auditRecords:includeReviewed:limit:)``
///   lists each grant with every access decision recorded under it.
public final class EmergencyAccess: Sendable {
    /// The table name the justification's envelope is bound to (whatever the backend's table is called).
    public static let encryptionTable = "phiguard_break_glass"

    private let engine: AccessEngine
    private let store: any BreakGlassStore
    private let cipher: any RecordCipher
    private let audit: AuditLog
    private let reviewerRoles: Set<String>

    /// Break-the-glass over `store`, audited into `audit`; the justification is sealed with
    /// `encryptor`. Principals holding a role in `reviewerRoles` may review (and revoke) anyone's grant.
    public convenience init(
        engine: AccessEngine, store: any BreakGlassStore, encryptor: FieldEncryptor, audit: AuditLog,
        reviewerRoles: Set<String>
    ) {
        self.init(engine: engine, store: store, cipher: encryptor, audit: audit, reviewerRoles: reviewerRoles)
    }

    /// Any cipher (tests count calls through a wrapper).
    package init(
        engine: AccessEngine, store: any BreakGlassStore, cipher: any RecordCipher, audit: AuditLog,
        reviewerRoles: Set<String>
    ) {
        self.engine = engine
        self.store = store
        self.cipher = cipher
        self.audit = audit
        self.reviewerRoles = reviewerRoles
    }

    // MARK: Invoke

    /// Invokes break-the-glass for `principal` on the patients of `scope`.
    ///
    /// Checks the policy (a role that may break the glass, a justification, a duration within the
    /// policy's `maxDuration`, a valid scope), commits a `break-glass.invoked` audit record, then
    /// stores the grant. Throws ``EmergencyAccessError/refused(_:)`` (audited), or
    /// ``EmergencyAccessError/auditUnavailable`` / ``EmergencyAccessError/storeUnavailable(_:)`` (no
    /// usable grant exists afterwards).
    public func invoke(
        _ principal: AuthenticatedPrincipal, scope: BreakGlassScope, reason: BreakGlassReason,
        duration: Duration? = nil
    ) async throws(EmergencyAccessError) -> EmergencyGrant {
        let issued: BreakGlassGrant
        do {
            issued = try engine.breakGlass(for: principal, scope: scope, reason: reason, duration: duration)
        } catch {
            _ = try? await audit.append(
                try invokedEvent(principal, scope: scope, category: reason.category, grantID: nil, refused: error),
                durability: .committed)
            throw .refused(error)
        }
        // Whole microseconds, so the grant in hand equals the one every backend reads back.
        let grant = BreakGlassGrant(
            id: issued.id, subjectID: issued.subjectID, sessionHandle: issued.sessionHandle,
            sessionAuthenticatedAt: Self.whole(issued.sessionAuthenticatedAt), scope: issued.scope,
            reason: issued.reason, issuedAt: Self.whole(issued.issuedAt), expiresAt: Self.whole(issued.expiresAt))
        let sealed: [UInt8]
        do {
            sealed = try cipher.seal(grant.reason.justification, context: Self.context(grant.id))
        } catch {
            throw .encryptionFailed
        }
        let sequence: UInt64
        do {
            sequence = try await audit.append(
                try invokedEvent(principal, scope: scope, category: reason.category, grantID: grant.id, refused: nil),
                durability: .committed)
        } catch {
            throw .auditUnavailable
        }
        let record = BreakGlassRecord(
            id: grant.id, subjectID: grant.subjectID, sessionHandle: grant.sessionHandle,
            sessionAuthenticatedAt: grant.sessionAuthenticatedAt, patientIDs: grant.scope.patientIDs,
            purpose: grant.reason.category, sealedJustification: sealed, issuedAt: grant.issuedAt,
            expiresAt: grant.expiresAt, auditSequence: sequence)
        do {
            try await store.insert(record)
        } catch {
            // Audited as issued but never stored: say so, so the review sees why it was never used.
            _ = try? await audit.append(
                try revokedEvent(grant.id, by: principal, reason: "store-failed"), durability: .committed)
            throw .storeUnavailable(String(describing: error))
        }
        return EmergencyGrant(grant: grant, access: self)
    }

    // MARK: Look up

    /// The stored grant of `principal` in force now that opens `patientID` in this session (the
    /// one expiring last), or `nil`. Use it on later requests, on any instance.
    public func activeGrant(for principal: AuthenticatedPrincipal, patientID: String)
        async throws(EmergencyAccessError) -> EmergencyGrant?
    {
        let now = engine.clock.now
        let records: [BreakGlassRecord]
        do {
            records = try await store.activeGrants(
                subjectID: principal.subject.id, sessionHandle: principal.sessionHandle, at: now)
        } catch {
            throw .storeUnavailable(String(describing: error))
        }
        let candidates = try records.filter { $0.patientIDs.contains(patientID) }
            .sorted { $0.expiresAt > $1.expiresAt }
            .map { record throws(EmergencyAccessError) in try grant(from: record) }
        let decision = candidates.first { candidate in
            candidate.sessionAuthenticatedAt == Self.whole(principal.recentlyAuthenticatedAt)
        }
        return decision.map { EmergencyGrant(grant: $0, access: self) }
    }

    /// The stored state of `grant` now: revoked (as of its revocation) if revoked or no longer
    /// stored, or if the stored bindings differ from the ones in hand.
    func current(_ grant: EmergencyGrant) async throws(RecordError) -> BreakGlassGrant {
        let stored: BreakGlassRecord?
        do {
            stored = try await store.grant(id: grant.grant.id)
        } catch {
            throw .storeUnavailable("BreakGlassStoreError")
        }
        let held = grant.grant
        guard let stored, stored.subjectID == held.subjectID, stored.sessionHandle == held.sessionHandle,
            stored.sessionAuthenticatedAt == held.sessionAuthenticatedAt, stored.patientIDs == held.scope.patientIDs,
            stored.issuedAt == held.issuedAt, stored.expiresAt == held.expiresAt
        else { return held.revoked(at: held.issuedAt) }
        // An expiry recorded by `recordExpiries` (at or after the expiry time, so it can never
        // widen anything) leaves the grant expired rather than revoked.
        if let revocation = stored.revocation,
            !(revocation.revokedBy == Self.expiryRecorder && revocation.revokedAt >= stored.expiresAt)
        {
            return held.revoked(at: revocation.revokedAt)
        }
        return held
    }

    // MARK: Expire

    /// The `revokedBy` value ``recordExpiries(issuedSince:)`` stores when it claims an expired grant
    /// (at the grant's expiry time): the grant was not revoked, it ran out.
    public static let expiryRecorder = "phiguard:expiry"

    /// Writes one `break-glass.expired` audit record for every stored grant that has expired and
    /// was neither revoked nor recorded as expired yet, and returns how many it recorded.
    ///
    /// Run it periodically (for example before reading the review queue), on any instance: each
    /// grant is first claimed in the store with its first-wins ``BreakGlassStore/revoke(id:at:by:)``
    /// (revoked at its expiry time by ``expiryRecorder``), and only the claiming call appends the
    /// record, so two instances sweeping together record each expiry exactly once. The record names
    /// the holder and session, the grant (`break-glass-grant`, `resourceID`) and its
    /// `break-glass.invoked` record (`relatedSequence`); its timestamp is when the sweep ran.
    ///
    /// If the audit record cannot be committed after the claim, the sweep throws
    /// ``EmergencyAccessError/auditUnavailable`` and that grant stays claimed without its record
    /// (its review-queue entry still shows the expiry in ``BreakGlassReviewItem/revocation``).
    /// A grant claimed this way is still only expired to every check (not revoked).
    ///
    /// - Parameter since: only grants issued at or after this date are looked at (`nil`: all).
    @discardableResult
    public func recordExpiries(issuedSince since: Date? = nil)
        async throws(EmergencyAccessError) -> Int
    {
        let now = engine.clock.now
        var from = since ?? Date(timeIntervalSince1970: 0)
        var seen = Set<String>()
        var recorded = 0
        let pageSize = 500
        while true {
            let page: [BreakGlassRecord]
            do {
                page = try await store.grants(issuedSince: from, includeReviewed: true, limit: pageSize)
            } catch {
                throw .storeUnavailable(String(describing: error))
            }
            for record in page where seen.insert(record.id).inserted {
                guard record.revocation == nil, record.expiresAt <= now else { continue }
                let claimed: Bool
                do {
                    claimed = try await store.revoke(id: record.id, at: record.expiresAt, by: Self.expiryRecorder)
                } catch {
                    throw .storeUnavailable(String(describing: error))
                }
                guard claimed else { continue }
                do {
                    let event = try AuditEvent(
                        kind: .breakGlassExpired, timestamp: AuditEvent.timestamp(for: now),
                        actorID: record.subjectID, sessionID: record.sessionHandle, action: "expire",
                        resourceType: "break-glass-grant", resourceID: record.id,
                        patientID: record.patientIDs.count == 1 ? record.patientIDs[0] : nil, outcome: .success,
                        reason: "expired", breakGlass: true, breakGlassReason: record.purpose.rawValue,
                        relatedSequence: record.auditSequence, attributes: ["break-glass-grant": record.id])
                    _ = try await audit.append(event, durability: .committed)
                } catch {
                    throw .auditUnavailable
                }
                recorded += 1
            }
            // Pages are oldest first; the next one starts at the last issue time (ties are re-read and skipped).
            guard page.count == pageSize, let last = page.last?.issuedAt, last > from else { break }
            from = last
        }
        return recorded
    }

    // MARK: Revoke

    /// Revokes grant `grantID`. `principal` must be its holder or hold a reviewer role. The
    /// `break-glass.revoked` record is committed first (fail closed), then the store is changed.
    /// Throws ``EmergencyAccessError/notFound`` for an unknown or already revoked grant (one answer).
    public func revoke(_ grantID: String, as principal: AuthenticatedPrincipal) async throws(EmergencyAccessError) {
        let record = try await stored(grantID)
        guard record.revocation == nil else { throw .notFound }
        guard record.subjectID == principal.subject.id || isReviewer(principal) else { throw .notPermitted }
        guard engine.clock.now < principal.validUntil else { throw .notPermitted }
        do {
            _ = try await audit.append(
                try revokedEvent(grantID, by: principal, reason: "revoked"), durability: .committed)
        } catch {
            throw .auditUnavailable
        }
        let revoked: Bool
        do {
            revoked = try await store.revoke(id: grantID, at: engine.clock.now, by: principal.subject.id)
        } catch {
            throw .storeUnavailable(String(describing: error))
        }
        guard revoked else { throw .notFound }
    }

    // MARK: Review

    /// Records `reviewer`'s review of grant `grantID` with `outcome` (an audit identifier such as
    /// `justified`, `not-justified`, `escalated`): a `break-glass.reviewed` record naming the
    /// grant's `break-glass.invoked` record (committed first), then the store's review mark.
    ///
    /// The reviewer must hold one of the reviewer roles and must not be the grant's holder
    /// (``EmergencyAccessError/notPermitted``); a grant reviewed already is
    /// ``EmergencyAccessError/alreadyReviewed``.
    public func review(_ grantID: String, outcome: String, as reviewer: AuthenticatedPrincipal)
        async throws(EmergencyAccessError)
    {
        let record = try await stored(grantID)
        guard isReviewer(reviewer), reviewer.subject.id != record.subjectID,
            engine.clock.now < reviewer.validUntil
        else { throw .notPermitted }
        guard record.review == nil else { throw .alreadyReviewed }
        guard AuditIdentifier.isValid(outcome) else { throw .invalidOutcome }
        let now = engine.clock.now
        do {
            let event = try AuditEvent(
                kind: .breakGlassReviewed, timestamp: AuditEvent.timestamp(for: now), actorID: reviewer.subject.id,
                actorRole: AuditEvent.roleText(reviewer.subject.roles, known: engine.policy.roles),
                sessionID: reviewer.sessionHandle, action: "review", resourceType: "break-glass-grant",
                resourceID: grantID, outcome: .success, reason: outcome, relatedSequence: record.auditSequence,
                attributes: ["break-glass-grant": grantID])
            _ = try await audit.append(event, durability: .committed)
        } catch {
            throw .auditUnavailable
        }
        let marked: Bool
        do {
            marked = try await store.markReviewed(
                id: grantID,
                review: BreakGlassReviewMark(reviewerID: reviewer.subject.id, outcome: outcome, reviewedAt: now))
        } catch {
            throw .storeUnavailable(String(describing: error))
        }
        guard marked else { throw .alreadyReviewed }
    }

    /// The review queue: up to `limit` grants (unreviewed only unless `includeReviewed`), oldest
    /// first, each with every access decision the audit log recorded under it (read from `source`,
    /// the log's storage: matched by the grant id the records carry).
    public func reviewQueue(
        auditRecords source: some AuditRecordSource, includeReviewed: Bool = false, limit: Int = 500
    ) async throws(EmergencyAccessError) -> [BreakGlassReviewItem] {
        let records: [BreakGlassRecord]
        do {
            records = try await store.grants(
                issuedSince: Date(timeIntervalSince1970: 0), includeReviewed: includeReviewed, limit: limit)
        } catch {
            throw .storeUnavailable(String(describing: error))
        }
        var uses: [String: [AuditRecord]] = [:]
        for record in records { uses[record.id] = [] }
        var position = 0
        let chunkSize = 4096
        while !records.isEmpty {
            let chunk: [AuditLogEntry]
            do {
                chunk = try await source.entries(from: position, limit: chunkSize)
            } catch {
                throw .auditUnavailable
            }
            for case .record(let entry) in chunk where entry.event.kind == .accessDecision {
                if let id = entry.event.attributes["break-glass-grant"], uses[id] != nil { uses[id]?.append(entry) }
            }
            position += chunk.count
            if chunk.count < chunkSize { break }
        }
        return try records.map { record throws(EmergencyAccessError) in
            BreakGlassReviewItem(
                grant: try grant(from: record), invokedSequence: record.auditSequence, revocation: record.revocation,
                review: record.review, uses: uses[record.id] ?? [])
        }
    }

    // MARK: Steps

    private func stored(_ grantID: String) async throws(EmergencyAccessError) -> BreakGlassRecord {
        do {
            guard let record = try await store.grant(id: grantID) else { throw EmergencyAccessError.notFound }
            return record
        } catch let error as EmergencyAccessError {
            throw error
        } catch {
            throw .storeUnavailable(String(describing: error))
        }
    }

    private func isReviewer(_ principal: AuthenticatedPrincipal) -> Bool {
        principal.subject.roles.contains { reviewerRoles.contains($0) }
    }

    /// Rebuilds the grant of `record`, opening its justification.
    private func grant(from record: BreakGlassRecord) throws(EmergencyAccessError) -> BreakGlassGrant {
        let justification: String
        do {
            justification = try cipher.open(record.sealedJustification, context: Self.context(record.id))
        } catch {
            throw .corruptGrant
        }
        return BreakGlassGrant(
            id: record.id, subjectID: record.subjectID, sessionHandle: record.sessionHandle,
            sessionAuthenticatedAt: record.sessionAuthenticatedAt, scope: BreakGlassScope(patients: record.patientIDs),
            reason: BreakGlassReason(category: record.purpose, justification: justification), issuedAt: record.issuedAt,
            expiresAt: record.expiresAt, revokedAt: record.revocation?.revokedAt)
    }

    private static func context(_ grantID: String) -> FieldContext {
        FieldContext(table: encryptionTable, recordID: grantID, field: "justification")
    }

    /// `date` to the whole microsecond, as the stores keep it.
    private static func whole(_ date: Date) -> Date {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        guard micros.isFinite, abs(micros) < 9e18,
            let rounded = try? BreakGlassRecord.storedDate(microseconds: Int64(micros), column: "")
        else { return date }
        return rounded
    }

    private func invokedEvent(
        _ principal: AuthenticatedPrincipal, scope: BreakGlassScope, category: BreakGlassReason.Category,
        grantID: String?, refused: BreakGlassError?
    ) throws(AuditError) -> AuditEvent {
        var attributes: [String: String] = [:]
        if let grantID { attributes["break-glass-grant"] = grantID }
        for (index, patient) in scope.patientIDs.prefix(BreakGlassScope.maximumCount).enumerated() {
            attributes["scope-patient-\(index + 1)"] = patient
        }
        return try AuditEvent(
            kind: .breakGlassInvoked, timestamp: AuditEvent.timestamp(for: engine.clock.now),
            actorID: principal.subject.id,
            actorRole: AuditEvent.roleText(principal.subject.roles, known: engine.policy.roles),
            sessionID: principal.sessionHandle, action: "break-glass", resourceType: "break-glass-grant",
            resourceID: grantID, patientID: scope.patientIDs.count == 1 ? scope.patientIDs[0] : nil,
            outcome: refused == nil ? .success : .failure, reason: refused.map(Self.code), breakGlass: true,
            breakGlassReason: category.rawValue, attributes: attributes)
    }

    private func revokedEvent(_ grantID: String, by principal: AuthenticatedPrincipal, reason: String)
        throws(AuditError) -> AuditEvent
    {
        try AuditEvent(
            kind: .breakGlassRevoked, timestamp: AuditEvent.timestamp(for: engine.clock.now),
            actorID: principal.subject.id,
            actorRole: AuditEvent.roleText(principal.subject.roles, known: engine.policy.roles),
            sessionID: principal.sessionHandle, action: "revoke", resourceType: "break-glass-grant",
            resourceID: grantID, outcome: .success, reason: reason, attributes: ["break-glass-grant": grantID])
    }

    private static func code(_ error: BreakGlassError) -> String {
        switch error {
        case .notPermitted: "not-permitted"
        case .missingJustification: "missing-justification"
        case .justificationTooLong: "justification-too-long"
        case .invalidDuration: "invalid-duration"
        case .invalidScope: "invalid-scope"
        }
    }
}

/// A break-glass grant that ``EmergencyAccess`` audited and stored: the only kind
/// ``GuardedRecords`` accepts (no public initializer). Get one from
/// ``EmergencyAccess/invoke(_:scope:reason:duration:)`` or ``EmergencyAccess/activeGrant(for:patientID:)``.
public struct EmergencyGrant: Sendable, CustomStringConvertible {
    /// The grant (its justification included: do not log it; the description leaves it out).
    public let grant: BreakGlassGrant
    let access: EmergencyAccess

    init(grant: BreakGlassGrant, access: EmergencyAccess) {
        self.grant = grant
        self.access = access
    }

    /// The grant's description (id, purpose, scope size, expiry).
    public var description: String { grant.description }
}

/// One entry of the review queue: a grant and every access decision recorded under it.
public struct BreakGlassReviewItem: Sendable, CustomStringConvertible {
    /// The grant (with its justification, for the reviewer).
    public let grant: BreakGlassGrant
    /// The sequence number of its `break-glass.invoked` audit record.
    public let invokedSequence: UInt64
    /// Its revocation, if any.
    public let revocation: BreakGlassRevocation?
    /// Its review, if any.
    public let review: BreakGlassReviewMark?
    /// Every access decision (allowed or not) that carried the grant, in log order.
    public let uses: [AuditRecord]

    /// Id, purpose and the number of uses; no justification.
    public var description: String { "BreakGlassReviewItem(\(grant), \(uses.count) use(s))" }
}

/// Why an ``EmergencyAccess`` call did not happen. Descriptions carry no id, patient or justification.
public enum EmergencyAccessError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The policy refused the invocation (audited as a failed `break-glass.invoked`).
    case refused(BreakGlassError)
    /// The audit record could not be committed: nothing was done (fail closed).
    case auditUnavailable
    /// The grant store failed (its error's description, which names no value).
    case storeUnavailable(String)
    /// The justification could not be encrypted.
    case encryptionFailed
    /// No such grant (or, for a revocation, one already revoked).
    case notFound
    /// The principal may not revoke or review this grant.
    case notPermitted
    /// The grant was reviewed already; the first review stands.
    case alreadyReviewed
    /// The review outcome is not an audit identifier.
    case invalidOutcome
    /// A stored grant's justification did not decrypt (tampered or moved).
    case corruptGrant

    /// A fixed text for the case.
    public var description: String {
        switch self {
        case .refused(let error): "break-the-glass refused: \(error)"
        case .auditUnavailable: "the audit record could not be committed; nothing was done"
        case .storeUnavailable(let detail): "break-glass store unavailable: \(detail)"
        case .encryptionFailed: "the justification could not be encrypted"
        case .notFound: "no such break-glass grant"
        case .notPermitted: "not permitted to change this break-glass grant"
        case .alreadyReviewed: "the break-glass grant was reviewed already"
        case .invalidOutcome: "the review outcome is not a valid identifier"
        case .corruptGrant: "a stored break-glass grant could not be read"
        }
    }
}
