internal import Foundation
public import PHIGuardAccess
public import PHIGuardAudit
public import PHIGuardFieldEncryption

/// The guarded path to PHI for one record schema: decide → audit (committed, fail closed) → decrypt
/// only the allowed fields; and for writes, decide → check every changed field → audit → encrypt
/// bound to the row → write.
///
/// ```swift
/// let charts = try GuardedRecords(
///     schema: chartSchema, store: store, engine: engine, encryptor: encryptor, audit: auditLog)
/// let chart = try await charts.read("chart-1", as: session.principal)
/// let allergies = chart["allergies"]          // nil when the decision hides the field
/// try await charts.update("chart-1", changes: ["vitals": "BP 120/80"], as: session.principal)
/// ```
///
/// - **One answer for denied and missing**: ``RecordError/notFoundOrDenied``. Both are audited
///   (a missing record as a denial with reason `not-found`, which only the audit log shows).
/// - **Minimum necessary**: a field outside the decision's field set is never decrypted and is
///   absent from the ``GuardedRecord``.
/// - **Writes all or nothing**: a change to any field the decision does not grant refuses the whole
///   change (``RecordError/fieldsNotPermitted(_:)``), audited as denied, nothing written.
/// - **Audit first, fail closed**: the access event is committed before any value is decrypted,
///   returned or written. The audit log has its own sink and batching, so the event and the row
///   write are two commits, never one transaction: if the write fails after the event was
///   committed, a second event (outcome deny, reason `store-failed`) is appended, best effort.
/// - **Time** comes from the engine's clock (`AccessEngine.clock`), never `Date()`.
public final class GuardedRecords: Sendable {
    /// The schema of the records.
    public let schema: RecordSchema
    let store: any RecordStore
    let engine: AccessEngine
    let cipher: any RecordCipher
    let audit: AuditLog
    /// The key of list cursors (see `list`).
    let cursorKey = CursorKey()

    /// Guards `schema`'s records in `store`. Throws ``RecordSchemaError`` when the schema's resource
    /// type or a readable field is not in the engine's current policy.
    public convenience init(
        schema: RecordSchema, store: any RecordStore, engine: AccessEngine, encryptor: FieldEncryptor, audit: AuditLog
    ) throws(RecordSchemaError) {
        try self.init(schema: schema, store: store, engine: engine, cipher: encryptor, audit: audit)
    }

    /// Any cipher (tests count calls through a wrapper).
    package init(
        schema: RecordSchema, store: any RecordStore, engine: AccessEngine, cipher: any RecordCipher, audit: AuditLog
    ) throws(RecordSchemaError) {
        let policy = engine.policy
        guard policy.resourceTypes.contains(schema.resourceType) else {
            throw .unknownResourceType(schema.resourceType)
        }
        let policyFields = Set(policy.fields(of: schema.resourceType))
        for field in schema.fields where field.isReadable && !policyFields.contains(field.name) {
            throw .unknownField(field.name)
        }
        self.schema = schema
        self.store = store
        self.engine = engine
        self.cipher = cipher
        self.audit = audit
    }

    /// The one place this type reads the time: the engine's clock.
    func now() -> Date { engine.clock.now }

    // MARK: Read

    /// Reads record `id` as `principal`: the fields the policy lets it see, decrypted, and nothing else.
    ///
    /// Throws ``RecordError/notFoundOrDenied`` for a missing record and for a denial alike,
    /// ``RecordError/auditUnavailable`` when the audit event cannot be committed (nothing is
    /// decrypted), ``RecordError/corruptRecord(field:)`` for a stored value that does not decrypt.
    ///
    /// `breakGlass` is a grant from ``EmergencyAccess``: its stored state is re-read (a revocation
    /// on any instance counts at once), and the decision is made and audited with it.
    public func read(_ id: String, as principal: AuthenticatedPrincipal, breakGlass emergency: EmergencyGrant? = nil)
        async throws(RecordError) -> GuardedRecord
    {
        guard AuditIdentifier.isValid(id) else { throw .invalidIdentifier }
        let breakGlass = try await current(emergency)
        let stored = try await fetch(id)
        let resource = self.resource(id, stored)
        let decision = engine.decide(principal, .read, resource, breakGlass: breakGlass)
        guard let stored, decision.isAllowed else {
            _ = try await record(
                decision, principal, .read, resource, fields: [], outcome: false,
                reason: stored == nil ? "not-found" : nil, breakGlass: breakGlass)
            throw .notFoundOrDenied
        }
        let visible = schema.fields.filter { $0.isReadable && decision.isFieldVisible($0.name) }
        let sequence = try await record(
            decision, principal, .read, resource, fields: visible.map(\.name), outcome: true, reason: nil,
            breakGlass: breakGlass)
        var values: [String: String] = [:]
        values.reserveCapacity(visible.count)
        for field in visible {
            switch stored.columns[field.column] {
            case nil: continue
            case .bytes(let envelope) where field.storage == .encrypted:
                let context = FieldContext(table: schema.table, recordID: id, field: field.name)
                do {
                    values[field.name] = try cipher.open(envelope, context: context)
                } catch {
                    throw .corruptRecord(field: field.name)
                }
            case .text(let text) where field.storage == .plain: values[field.name] = text
            default: throw .corruptRecord(field: field.name)
            }
        }
        return GuardedRecord(id: id, patientID: stored.patientID, values: values, auditSequence: sequence)
    }

    // MARK: Writes

    /// Changes fields of record `id` as `principal`. Every changed field must be in the update
    /// decision's field set, or nothing is written (``RecordError/fieldsNotPermitted(_:)``, audited
    /// as denied). The audit event names the changed fields, never their values; changed encrypted
    /// fields are sealed bound to this row. Returns the audit sequence number.
    @discardableResult
    public func update(
        _ id: String, changes: [String: String], as principal: AuthenticatedPrincipal,
        breakGlass emergency: EmergencyGrant? = nil
    ) async throws(RecordError) -> UInt64 {
        guard AuditIdentifier.isValid(id) else { throw .invalidIdentifier }
        let breakGlass = try await current(emergency)
        let changed = try changedFields(changes, creating: false)
        let stored = try await fetch(id)
        let resource = self.resource(id, stored)
        let decision = engine.decide(principal, .update, resource, breakGlass: breakGlass)
        let names = changed.map(\.name)
        guard let stored, decision.isAllowed else {
            _ = try await record(
                decision, principal, .update, resource, fields: [], outcome: false,
                reason: stored == nil ? "not-found" : nil, breakGlass: breakGlass)
            throw .notFoundOrDenied
        }
        try await refuseUngranted(names, decision, principal, .update, resource, breakGlass)
        let columns = try seal(changes, changed, recordID: id)
        let sequence = try await record(
            decision, principal, .update, resource, fields: names, outcome: true, reason: nil, breakGlass: breakGlass)
        let written = try await write(decision, principal, .update, resource, breakGlass) { store, schema in
            try await store.update(id, patientID: stored.patientID, columns: columns, schema: schema)
        }
        guard written else { throw .notFoundOrDenied }  // deleted or moved since the fetch; audited
        return sequence
    }

    /// Creates record `id` of patient `patientID` with `values` (field name → value; resource
    /// attributes and labels included) as `principal`. Every readable field set must be in the create
    /// decision's field set. Returns the audit sequence number.
    @discardableResult
    public func create(
        _ id: String, patientID: String, values: [String: String], as principal: AuthenticatedPrincipal,
        breakGlass emergency: EmergencyGrant? = nil
    ) async throws(RecordError) -> UInt64 {
        guard AuditIdentifier.isValid(id), AuditIdentifier.isValid(patientID) else { throw .invalidIdentifier }
        let breakGlass = try await current(emergency)
        let changed = try changedFields(values, creating: true)
        let stored = StoredRecord(id: id, patientID: patientID, columns: [:])
        let resource = self.resource(id, stored, overriding: values)
        let decision = engine.decide(principal, .create, resource, breakGlass: breakGlass)
        let names = changed.filter(\.isReadable).map(\.name)
        guard decision.isAllowed else {
            _ = try await record(
                decision, principal, .create, resource, fields: [], outcome: false, reason: nil, breakGlass: breakGlass)
            throw .notFoundOrDenied
        }
        try await refuseUngranted(names, decision, principal, .create, resource, breakGlass)
        let columns = try seal(values, changed, recordID: id)
        let sequence = try await record(
            decision, principal, .create, resource, fields: names, outcome: true, reason: nil, breakGlass: breakGlass)
        let inserted = try await write(decision, principal, .create, resource, breakGlass) { store, schema in
            try await store.insert(StoredRecord(id: id, patientID: patientID, columns: columns), schema: schema)
        }
        guard inserted else { throw .alreadyExists }
        return sequence
    }

    /// Deletes record `id` as `principal`. Returns the audit sequence number.
    @discardableResult
    public func delete(_ id: String, as principal: AuthenticatedPrincipal, breakGlass emergency: EmergencyGrant? = nil)
        async throws(RecordError) -> UInt64
    {
        guard AuditIdentifier.isValid(id) else { throw .invalidIdentifier }
        let breakGlass = try await current(emergency)
        let stored = try await fetch(id)
        let resource = self.resource(id, stored)
        let decision = engine.decide(principal, .delete, resource, breakGlass: breakGlass)
        guard let stored, decision.isAllowed else {
            _ = try await record(
                decision, principal, .delete, resource, fields: [], outcome: false,
                reason: stored == nil ? "not-found" : nil, breakGlass: breakGlass)
            throw .notFoundOrDenied
        }
        let sequence = try await record(
            decision, principal, .delete, resource, fields: [], outcome: true, reason: nil, breakGlass: breakGlass)
        let deleted = try await write(decision, principal, .delete, resource, breakGlass) { store, schema in
            try await store.delete(id, patientID: stored.patientID, schema: schema)
        }
        guard deleted else { throw .notFoundOrDenied }
        return sequence
    }

    // MARK: Steps

    /// The stored state of an emergency grant (``RecordError/storeUnavailable(_:)`` when the grant
    /// store cannot be read: nothing is decided without knowing whether it was revoked).
    func current(_ emergency: EmergencyGrant?) async throws(RecordError) -> BreakGlassGrant? {
        guard let emergency else { return nil }
        return try await emergency.access.current(emergency)
    }

    private func fetch(_ id: String) async throws(RecordError) -> StoredRecord? {
        do {
            return try await store.fetch(id, schema: schema)
        } catch {
            throw .storeUnavailable(String(describing: type(of: error)))
        }
    }

    /// The resource the engine decides on: type from the schema; patient, attributes and labels from
    /// the stored row (never from the caller, who could claim any patient).
    func resource(_ id: String, _ stored: StoredRecord?, overriding values: [String: String] = [:])
        -> Resource
    {
        var resource = Resource(type: schema.resourceType, id: id, patientID: stored?.patientID)
        guard let stored, schema.hasDecisionFields else { return resource }
        for field in schema.fields {
            let value: String?
            if let given = values[field.name] {
                value = given
            } else if case .text(let text) = stored.columns[field.column] {
                value = text
            } else {
                value = nil
            }
            guard let value else { continue }
            switch field.storage {
            case .resourceAttribute: resource.attributes[field.name] = value
            case .labels: resource.labels = Set(value.split(separator: " ").map(String.init))
            case .encrypted, .plain: break
            }
        }
        return resource
    }

    /// The schema fields `changes` names; throws for an unknown field or one that cannot change now.
    private func changedFields(_ changes: [String: String], creating: Bool) throws(RecordError) -> [RecordField] {
        var fields: [RecordField] = []
        for name in changes.keys.sorted() {
            guard let field = schema.field(named: name), creating || field.isReadable else {
                throw .invalidField(name)
            }
            fields.append(field)
        }
        return fields
    }

    /// Refuses (audited as denied) when any of `names` is outside the decision's field set.
    private func refuseUngranted(
        _ names: [String], _ decision: AccessDecision, _ principal: AuthenticatedPrincipal, _ action: AccessAction,
        _ resource: Resource, _ breakGlass: BreakGlassGrant?
    ) async throws(RecordError) {
        let refused = names.filter { !decision.isFieldVisible($0) }
        guard !refused.isEmpty else { return }
        _ = try await record(
            decision, principal, action, resource, fields: [], outcome: false, reason: "field-not-granted",
            breakGlass: breakGlass, attributes: ["refused-fields": String(refused.count)])
        throw .fieldsNotPermitted(refused)
    }

    /// The stored columns for `fields` of `values`: encrypted ones sealed bound to `recordID`, with
    /// their blind index beside them.
    private func seal(_ values: [String: String], _ fields: [RecordField], recordID: String) throws(RecordError)
        -> [String: StoredValue]
    {
        var columns: [String: StoredValue] = [:]
        for field in fields {
            guard let value = values[field.name] else { continue }
            guard field.storage == .encrypted else {
                columns[field.column] = .text(value)
                continue
            }
            let context = FieldContext(table: schema.table, recordID: recordID, field: field.name)
            do {
                columns[field.column] = .bytes(try cipher.seal(value, context: context))
            } catch {
                throw .encryptionFailed(field: field.name)
            }
            if let index = field.blindIndex, let column = field.blindIndexColumn {
                columns[column] = .bytes(index.value(for: value).bytes)
            }
        }
        return columns
    }

    /// Appends the access event, committed; any failure is ``RecordError/auditUnavailable``.
    private func record(
        _ decision: AccessDecision, _ principal: AuthenticatedPrincipal, _ action: AccessAction,
        _ resource: Resource, fields: [String], outcome: Bool, reason: String?, breakGlass: BreakGlassGrant?,
        attributes: [String: String] = [:]
    ) async throws(RecordError) -> UInt64 {
        do {
            var event = try AuditEvent.accessDecision(
                decision, principal: principal, action: action, resource: resource, policy: engine.policy,
                fields: fields, outcome: outcome, reason: reason, breakGlass: breakGlass, at: now())
            if !attributes.isEmpty { event = try event.adding(attributes: attributes) }
            return try await audit.append(event, durability: .committed)
        } catch {
            throw .auditUnavailable
        }
    }

    /// Runs the store write; on a store error appends a best-effort `store-failed` event and throws.
    private func write(
        _ decision: AccessDecision, _ principal: AuthenticatedPrincipal, _ action: AccessAction,
        _ resource: Resource, _ breakGlass: BreakGlassGrant?,
        _ body: (any RecordStore, RecordSchema) async throws -> Bool
    ) async throws(RecordError) -> Bool {
        do {
            return try await body(store, schema)
        } catch {
            _ = try? await record(
                decision, principal, action, resource, fields: [], outcome: false, reason: "store-failed",
                breakGlass: breakGlass)
            throw .storeUnavailable(String(describing: type(of: error)))
        }
    }
}
