/// One question for the engine: may this subject perform this action on this resource?
public struct AccessRequest: Sendable, Hashable {
    /// Who is asking.
    public var subject: Subject
    /// What they want to do.
    public var action: AccessAction
    /// What they want to do it to.
    public var resource: Resource
    /// An emergency grant the subject holds, if any; decisions made with it are marked for review.
    public var breakGlass: BreakGlassGrant?

    /// Creates a request.
    public init(subject: Subject, action: AccessAction, resource: Resource, breakGlass: BreakGlassGrant? = nil) {
        self.subject = subject
        self.action = action
        self.resource = resource
        self.breakGlass = breakGlass
    }
}
