internal import Foundation
public import Hummingbird
internal import NIOCore

/// Decides the client address of each request (``PHIGuardRequestState/clientAddress``): the
/// socket's peer, or — only when that peer is one of ``TrustedProxies`` — the address a proxy
/// recorded in `Forwarded` (RFC 7239) or `X-Forwarded-For`.
///
/// The forwarded list is read from the right: the first address that is not itself a trusted proxy
/// is the client. Anything to its left was written by the client and is ignored, so a client cannot
/// choose its own address (and its own rate-limit key) by sending these headers. Without
/// configuration no proxy is trusted and the headers are never read.
public struct ClientAddressMiddleware<Context: PHIGuardRequestContext>: RouterMiddleware {
    let trustedProxies: TrustedProxies

    /// Trusts `trustedProxies` (none by default).
    public init(trustedProxies: TrustedProxies = TrustedProxies()) {
        self.trustedProxies = trustedProxies
    }

    /// Sets the client address, then runs the rest.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.phiGuard.clientAddress = clientAddress(of: request, peer: context.remoteAddress?.ipAddress)
        return try await next(request, context)
    }

    /// The client address for a request from `peer` (the socket's peer address).
    func clientAddress(of request: Request, peer: String?) -> String {
        guard let peer else { return PHIGuardRequestState.unknownAddress }
        let socketAddress = TrustedProxies.canonical(peer)
        guard trustedProxies.contains(socketAddress) else { return socketAddress }
        var chain = Self.forwardedFor(request.headers.values(named: "Forwarded"))
        if chain.isEmpty {
            chain = request.headers.values(named: "X-Forwarded-For").flatMap { $0.split(separator: ",") }.map {
                TrustedProxies.canonical($0.trimmingCharacters(in: .whitespaces))
            }
        }
        for hop in chain.reversed() where !trustedProxies.contains(hop) {
            return TrustedProxies.isAddress(hop) ? hop : socketAddress
        }
        return socketAddress
    }

    /// The `for=` addresses of RFC 7239 `Forwarded` fields, in order.
    static func forwardedFor(_ fields: [String]) -> [String] {
        var result: [String] = []
        for field in fields {
            for element in field.split(separator: ",") {
                for pair in element.split(separator: ";") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == "for" else {
                        continue
                    }
                    var value = parts[1].trimmingCharacters(in: .whitespaces)
                    if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                        value = String(value.dropFirst().dropLast())
                    }
                    // "[2001:db8::1]:4711" → "2001:db8::1"; "192.0.2.1:80" → "192.0.2.1".
                    if value.hasPrefix("["), let close = value.firstIndex(of: "]") {
                        value = String(value[value.index(after: value.startIndex)..<close])
                    } else if value.filter({ $0 == ":" }).count == 1, let colon = value.firstIndex(of: ":") {
                        value = String(value[..<colon])
                    }
                    result.append(TrustedProxies.canonical(value))
                }
            }
        }
        return result
    }
}

/// The proxies whose forwarding headers ``ClientAddressMiddleware`` believes: exact IPv4 or IPv6
/// addresses and CIDR ranges (`10.0.0.0/8`, `fd00::/8`). Empty by default: trust no one.
public struct TrustedProxies: Sendable, Hashable {
    struct Range: Sendable, Hashable {
        let bytes: [UInt8]
        let prefixLength: Int
    }

    let ranges: [Range]

    /// Trusts nothing.
    public init() { ranges = [] }

    /// Trusts `entries` (addresses or CIDR ranges); throws ``TrustedProxiesError`` for one that is neither.
    public init(_ entries: [String]) throws(TrustedProxiesError) {
        var ranges: [Range] = []
        for entry in entries {
            let parts = entry.split(separator: "/", maxSplits: 1).map(String.init)
            guard let first = parts.first, let bytes = Self.bytes(of: first) else { throw .invalidEntry(entry) }
            var prefix = bytes.count * 8
            if parts.count == 2 {
                guard let length = Int(parts[1]), (0...bytes.count * 8).contains(length) else {
                    throw .invalidEntry(entry)
                }
                prefix = length
            }
            ranges.append(Range(bytes: bytes, prefixLength: prefix))
        }
        self.ranges = ranges
    }

    /// Whether `address` is one of the trusted proxies.
    public func contains(_ address: String) -> Bool {
        guard let bytes = Self.bytes(of: address) else { return false }
        return ranges.contains { range in
            guard range.bytes.count == bytes.count else { return false }
            var remaining = range.prefixLength
            for index in bytes.indices where remaining > 0 {
                let bits = min(remaining, 8)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if bytes[index] & mask != range.bytes[index] & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    static func isAddress(_ text: String) -> Bool { bytes(of: text) != nil }

    /// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) as IPv4; anything else as it is.
    static func canonical(_ text: String) -> String {
        let lowered = text.lowercased()
        if lowered.hasPrefix("::ffff:"), lowered.contains(".") { return String(lowered.dropFirst(7)) }
        return lowered
    }

    /// The bytes of an IPv4 or IPv6 address, or `nil`.
    static func bytes(of text: String) -> [UInt8]? {
        let text = canonical(text)
        if let v4 = try? SocketAddress(ipAddress: text, port: 0), case .v4 = v4 {
            return text.split(separator: ".").compactMap { UInt8($0) }
        }
        guard let v6 = try? SocketAddress(ipAddress: text, port: 0), case .v6(let address) = v6 else { return nil }
        return withUnsafeBytes(of: address.address.sin6_addr) { Array($0) }
    }
}

/// A ``TrustedProxies`` entry that is neither an IP address nor a CIDR range.
public enum TrustedProxiesError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The entry as given.
    case invalidEntry(String)

    /// `not an IP address or CIDR range: <entry>`.
    public var description: String {
        switch self {
        case .invalidEntry(let entry): "not an IP address or CIDR range: \(entry)"
        }
    }
}
