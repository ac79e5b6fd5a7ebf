/// The root keys an encryptor knows: one active key (new envelopes) and any number of retired keys
/// (decrypt only), each found by the id written in the envelope. Ids listed as revoked are refused
/// even if their envelopes are otherwise intact.
///
/// ```swift
/// let keyring = try Keyring(active: try FieldKey.generate(id: "2026-11"), retired: [oldKey])
/// ```
///
/// Rotation is ``rotated(to:)`` (the active key becomes retired) followed by a ``ReencryptionJob``;
/// once no envelope uses a retired key, ``revoking(_:)`` drops it.
public struct Keyring: Sendable, CustomStringConvertible {
    /// The key new envelopes are encrypted under.
    public let active: FieldKey
    /// Retired keys by id (decrypt only).
    let retired: [String: FieldKey]
    /// Ids whose envelopes must be refused.
    public let revokedKeyIDs: Set<String>

    /// A keyring with `active` for new envelopes, `retired` keys for old ones, and `revokedKeyIDs`
    /// refused outright. Throws ``FieldEncryptionError/invalidKey(_:)`` if two keys share an id or a
    /// loaded key's id is also listed as revoked.
    public init(active: FieldKey, retired: [FieldKey] = [], revokedKeyIDs: Set<String> = [])
        throws(FieldEncryptionError)
    {
        var byID: [String: FieldKey] = [:]
        for key in retired {
            guard key.id != active.id, byID.updateValue(key, forKey: key.id) == nil else {
                throw .invalidKey("duplicate key id '\(key.id)'")
            }
        }
        for id in revokedKeyIDs {
            guard id != active.id, byID[id] == nil else {
                throw .invalidKey("key id '\(id)' is both loaded and revoked")
            }
            guard FieldKey.isValidKeyID(id) else { throw .invalidKey("invalid revoked key id") }
        }
        self.active = active
        self.retired = byID
        self.revokedKeyIDs = revokedKeyIDs
    }

    /// The id of the active key.
    public var activeKeyID: String { active.id }
    /// The retired keys' ids, sorted.
    public var retiredKeyIDs: [String] { retired.keys.sorted() }
    /// Every loaded key, active first, then retired keys by id.
    public var keys: [FieldKey] { [active] + retired.keys.sorted().compactMap { retired[$0] } }

    /// A keyring whose active key is `newActive`; the current active key becomes retired.
    public func rotated(to newActive: FieldKey) throws(FieldEncryptionError) -> Keyring {
        try Keyring(active: newActive, retired: Array(retired.values) + [active], revokedKeyIDs: revokedKeyIDs)
    }

    /// A keyring without retired key `id`, which is now refused. The active key cannot be revoked
    /// (rotate first), and `id` must be a retired (or already revoked) key.
    public func revoking(_ id: String) throws(FieldEncryptionError) -> Keyring {
        guard id != active.id else { throw .invalidKey("the active key cannot be revoked; rotate first") }
        guard retired[id] != nil || revokedKeyIDs.contains(id) else { throw .invalidKey("no retired key '\(id)'") }
        var remaining = retired
        remaining[id] = nil
        return try Keyring(active: active, retired: Array(remaining.values), revokedKeyIDs: revokedKeyIDs.union([id]))
    }

    /// The key with `id`, or the reason there is none.
    func key(id: String) throws(EnvelopeRejection) -> FieldKey {
        if id == active.id { return active }
        if let key = retired[id] { return key }
        throw revokedKeyIDs.contains(id) ? .revokedKeyID : .unknownKeyID
    }

    /// Ids and fingerprints only.
    public var description: String {
        "Keyring(active: \(active.id), retired: \(retiredKeyIDs), revoked: \(revokedKeyIDs.sorted()))"
    }
}
