/// What a subject wants to do to a resource: one of the four built-in actions or an app-defined one.
///
/// App-defined actions (`sign`, `export`, `amend`) must be declared in the policy's `actions` list
/// before a rule may name them; a request for an action the policy does not know is denied.
public struct AccessAction: Hashable, Sendable, RawRepresentable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    /// The action's name as written in policy files.
    public let rawValue: String

    /// Creates an action from its policy name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Creates an action from its policy name.
    public init(_ name: String) { self.rawValue = name }

    /// Creates an action from a string literal (`"sign"`).
    public init(stringLiteral value: String) { self.rawValue = value }

    /// The action's name.
    public var description: String { rawValue }

    /// Reading a resource (or some of its fields).
    public static let read = AccessAction("read")
    /// Creating a resource.
    public static let create = AccessAction("create")
    /// Changing a resource (or some of its fields).
    public static let update = AccessAction("update")
    /// Deleting a resource.
    public static let delete = AccessAction("delete")

    /// The built-in actions every policy knows without declaring them.
    public static let builtIn: [AccessAction] = [.read, .create, .update, .delete]
}
