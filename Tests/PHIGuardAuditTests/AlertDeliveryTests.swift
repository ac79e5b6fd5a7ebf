import Foundation
import MetricsTestKit
import NIOCore
import NIOHTTP1
import NIOPosix
import PHIGuardAudit
import Synchronization
import Testing

/// A tiny HTTP/1.1 server on 127.0.0.1 (an ephemeral port) that records each request and answers
/// with a fixed status.
final class LoopbackWebhook: Sendable {
    struct Request: Sendable {
        var method: String
        var uri: String
        var contentType: String?
        var body: String
    }

    final class Requests: Sendable {
        let list = Mutex<[Request]>([])
    }

    private let requests = Requests()
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup
    var url: URL { URL(string: "http://127.0.0.1:\(channel.localAddress?.port ?? 0)/hooks/alerts")! }

    init(status: HTTPResponseStatus) async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = requests
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(
                        Handler(status: status, record: { request in box.list.withLock { $0.append(request) } }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// The requests received so far.
    var received: [Request] { requests.list.withLock { $0 } }

    func shutdown() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let status: HTTPResponseStatus
        let record: @Sendable (Request) -> Void
        var head: HTTPRequestHead?
        var body = ByteBuffer()

        init(status: HTTPResponseStatus, record: @escaping @Sendable (Request) -> Void) {
            self.status = status
            self.record = record
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body.clear()
            case .body(var chunk): body.writeBuffer(&chunk)
            case .end:
                if let head {
                    record(
                        Request(
                            method: head.method.rawValue, uri: head.uri,
                            contentType: head.headers.first(name: "content-type"),
                            body: body.readString(length: body.readableBytes) ?? ""))
                }
                var headers = HTTPHeaders()
                headers.add(name: "content-length", value: "0")
                headers.add(name: "connection", value: "close")
                context.write(
                    wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                    promise: nil)
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
            }
        }
    }
}

@Suite("Security alerts: sinks, audit events, metrics", .serialized)
struct AlertDeliveryTests {
    static let alert = SecurityAlert(
        rule: .bulkAccess, timestamp: 1_800_000_000_000_000, sequence: 42, actorID: "user:rn-2", count: 51,
        windowSeconds: 3600, relatedSequences: Array(1...30))

    @Test("the webhook sink POSTs the alert as JSON to a loopback HTTP server")
    func webhookDelivers() async throws {
        let server = try await LoopbackWebhook(status: .ok)
        let sink = try WebhookAlertSink(url: server.url, timeout: 5)
        try await sink.deliver(Self.alert)
        try await server.shutdown()
        let requests = server.received
        try #require(requests.count == 1)
        #expect(requests[0].method == "POST")
        #expect(requests[0].uri == "/hooks/alerts")
        #expect(requests[0].contentType == "application/json")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(requests[0].body.utf8)) as? [String: Any])
        #expect(object["rule"] as? String == "bulk-access")
        #expect(object["actor"] as? String == "user:rn-2")
        #expect(object["count"] as? Int == 51)
        #expect((object["related"] as? [Int])?.count == SecurityAlert.maximumRelatedSequences)
    }

    @Test("a webhook answering 500, or nobody listening, is a delivery error")
    func webhookFailures() async throws {
        let server = try await LoopbackWebhook(status: .internalServerError)
        let failing = try WebhookAlertSink(url: server.url, timeout: 5)
        await #expect(throws: AlertDeliveryError.self) { try await failing.deliver(Self.alert) }
        let port = server.url.port ?? 0
        try await server.shutdown()
        let closed = try WebhookAlertSink(url: URL(string: "http://127.0.0.1:\(port)/x")!, timeout: 5)
        await #expect(throws: AlertDeliveryError.self) { try await closed.deliver(Self.alert) }
        #expect(throws: AlertDeliveryError.self) { try WebhookAlertSink(url: URL(string: "file:///etc/passwd")!) }
    }

    @Test("the file sink appends one JSON line per alert, mode 0600")
    func fileSink() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let sink = FileAlertSink(path: path)
        try await sink.deliver(Self.alert)
        try await sink.deliver(Self.alert)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0] == Substring(Self.alert.jsonLine()))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("the dispatcher chains the alert into the log, counts it, and reports a failing sink")
    func dispatcher() async throws {
        let metrics = TestMetrics()
        let sink = InMemoryAuditSink()
        let log = try await AuditLog(
            sink: sink, chainKey: try AuditFixtures.chainKey(), signingKey: try AuditFixtures.signingKey())
        let broken = FileAlertSink(path: "/nonexistent-directory/alerts.jsonl")
        let dispatcher = SecurityAlertDispatcher(sinks: [broken], log: log, metrics: metrics)
        let failures = await dispatcher.dispatch(Self.alert)
        #expect(failures.count == 1)
        try await log.close()
        let records = sink.allEntries.records
        try #require(records.count == 1)
        let event = records[0].event
        #expect(event.kind == .securityAlert)
        #expect(event.reason == "bulk-access")
        #expect(event.relatedSequence == 42)
        #expect(event.attributes["severity"] == "high")
        let report = try await AuditFixtures.verifier().verify(sink)
        #expect(report.isIntact)
        #expect(
            try metrics.expectCounter(AuditMetricLabel.securityAlerts, [("rule", "bulk-access")]).totalValue == 1)
        #expect(
            try metrics.expectCounter(AuditMetricLabel.securityAlertDeliveryFailures, [("target", "sink")]).totalValue
                == 1)
        // Alert events in the stream are not themselves re-alerted.
        var monitor = SecurityMonitor()
        #expect(monitor.process(records[0]).isEmpty)
    }
}
