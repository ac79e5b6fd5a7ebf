public import Hummingbird
public import NIOCore
public import PHIGuardAccess

/// A Hummingbird request context that carries PHIGuard's per-request state.
///
/// Adopt it in your own context (one stored property), or use ``BasicPHIGuardRequestContext``:
///
/// ```swift
/// struct PortalContext: PHIGuardRequestContext {
///     var coreContext: CoreRequestContextStorage
///     var phiGuard = PHIGuardRequestState()
///     let remoteAddress: SocketAddress?
///     init(source: ApplicationRequestContextSource) {
///         coreContext = .init(source: source)
///         remoteAddress = source.channel.remoteAddress
///     }
/// }
/// ```
public protocol PHIGuardRequestContext: RemoteAddressRequestContext {
    /// What PHIGuard's middleware found out about this request (client address, session).
    var phiGuard: PHIGuardRequestState { get set }
}

/// The ready-made ``PHIGuardRequestContext``: Hummingbird's core context, the socket's peer address
/// and ``PHIGuardRequestState``.
public struct BasicPHIGuardRequestContext: PHIGuardRequestContext {
    /// Hummingbird's core context (logger, parameters).
    public var coreContext: CoreRequestContextStorage
    /// PHIGuard's state of this request.
    public var phiGuard: PHIGuardRequestState
    /// The peer of the connection (the client, or a proxy in front of it); `nil` when unknown.
    public let remoteAddress: SocketAddress?

    /// A context for a request arriving on `source`'s channel.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        phiGuard = PHIGuardRequestState()
        remoteAddress = source.channel.remoteAddress
    }
}

/// What PHIGuard's middleware puts in the request context.
public struct PHIGuardRequestState: Sendable {
    /// The client's address as ``ClientAddressMiddleware`` decided it: the socket's peer, or a
    /// forwarded address when the peer is a trusted proxy. `"unknown"` before that middleware ran.
    public internal(set) var clientAddress: String
    /// The session of this request, when ``SessionMiddleware`` ran: its typed state, the principal
    /// and the sign-in steps. `nil` without the session middleware.
    public internal(set) var session: PHIGuardSession?

    /// Empty state: no address decided, no session.
    public init() {
        clientAddress = Self.unknownAddress
        session = nil
    }

    /// The address recorded when the socket gives none.
    public static let unknownAddress = "unknown"

    /// The signed-in principal, or `nil` (no session middleware, anonymous, or a sign-in step still due).
    public var principal: AuthenticatedPrincipal? { session?.principal }

    /// The signed-in principal, or ``PHIGuardWebError/signInRequired`` (401) — which leaves the
    /// session cookie alone: a session waiting for its second factor stays usable.
    public func requirePrincipal() throws(PHIGuardWebError) -> AuthenticatedPrincipal {
        guard let principal else { throw .signInRequired }
        return principal
    }
}

extension PHIGuardRequestState {
    /// The request's session, or ``PHIGuardWebError/sessionMiddlewareMissing`` (500) when no
    /// ``SessionMiddleware`` ran for this route.
    public func requireSession() throws(PHIGuardWebError) -> PHIGuardSession {
        guard let session else { throw .sessionMiddlewareMissing }
        return session
    }
}
