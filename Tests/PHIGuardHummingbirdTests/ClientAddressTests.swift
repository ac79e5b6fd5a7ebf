import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PHIGuardHummingbird
import Testing

@Suite("Client address: the socket's peer, forwarded headers only from trusted proxies")
struct ClientAddressTests {
    static func address(
        _ client: some TestClientProtocol, _ headers: [(String, String)]
    ) async throws -> String {
        var fields: HTTPFields = [:]
        for (name, value) in headers { fields.append(HTTPField(name: try Browser.name(name), value: value)) }
        return String(buffer: try await client.execute(uri: "/address", method: .get, headers: fields).body)
    }

    @Test("X-Forwarded-For and Forwarded from an untrusted peer are ignored (live socket, peer 127.0.0.1)")
    func untrustedPeerCannotSpoof() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        try await TestApp.make(harness).test(.live) { client async throws in
            #expect(try await Self.address(client, []) == "127.0.0.1")
            #expect(try await Self.address(client, [("X-Forwarded-For", "203.0.113.9")]) == "127.0.0.1")
            #expect(try await Self.address(client, [("Forwarded", "for=203.0.113.9")]) == "127.0.0.1")
        }
    }

    @Test("behind a trusted proxy: the rightmost untrusted hop, never what the client wrote to its left")
    func trustedProxy() async throws {
        let harness = try await WebHarness.make()
        defer { Task { await harness.close() } }
        let proxies = try TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
        try await TestApp.make(harness, trustedProxies: proxies).test(.live) { client async throws in
            #expect(try await Self.address(client, []) == "127.0.0.1")
            #expect(try await Self.address(client, [("X-Forwarded-For", "198.51.100.1, 203.0.113.9")]) == "203.0.113.9")
            #expect(try await Self.address(client, [("X-Forwarded-For", "203.0.113.9, 10.1.2.3")]) == "203.0.113.9")
            #expect(
                try await Self.address(client, [("Forwarded", #"for=198.51.100.1, for="[2001:db8::1]:4711""#)])
                    == "2001:db8::1")
            // A hop that is not an address is not believed: the socket's peer is used.
            #expect(try await Self.address(client, [("X-Forwarded-For", "not-an-address")]) == "127.0.0.1")
        }
    }

    @Test("trusted-proxy ranges: CIDR matching for IPv4 and IPv6, bad entries refused")
    func ranges() throws {
        let proxies = try TrustedProxies(["10.0.0.0/8", "192.0.2.7", "fd00::/8"])
        #expect(proxies.contains("10.200.3.4"))
        #expect(!proxies.contains("11.0.0.1"))
        #expect(proxies.contains("192.0.2.7"))
        #expect(!proxies.contains("192.0.2.8"))
        #expect(proxies.contains("fd12::1"))
        #expect(!proxies.contains("fe80::1"))
        #expect(proxies.contains("::ffff:10.0.0.1"))
        #expect(!TrustedProxies().contains("127.0.0.1"))
        #expect(throws: TrustedProxiesError.self) { try TrustedProxies(["10.0.0.0/33"]) }
        #expect(throws: TrustedProxiesError.self) { try TrustedProxies(["proxy.internal"]) }
    }
}
