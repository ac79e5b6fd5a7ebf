/// A subject whose roles have been resolved against one compiled policy: the flattened role set
/// (every role and all its ancestors) as bits.
///
/// Prepare a subject once per session (or per batch) with `CompiledPolicy.prepare(_:)` (SPI
/// `PolicyEvaluation`) and pass it to `CompiledPolicy.decide(_:_:_:breakGlass:careTeams:clock:)` to
/// skip role resolution on every decision. A prepared subject used with a different policy (after a swap) is re-resolved
/// automatically, so it is never wrong, only slower.
///
/// A class, so that passing it to a decision touches one object instead of copying every field.
public final class PreparedSubject: Sendable {
    /// The subject as given.
    public let subject: Subject
    let roles: RoleBits
    let generation: UInt64
    let hasKnownRole: Bool

    init(subject: Subject, roles: RoleBits, generation: UInt64, hasKnownRole: Bool) {
        self.subject = subject
        self.roles = roles
        self.generation = generation
        self.hasKnownRole = hasKnownRole
    }
}
