// GET /api/status and GET /metrics. The JSON is read back by Foundation's
// JSONSerialization and the metrics by Python's prometheus_client parser.
import CapnetBase
import Foundation
import Testing
@testable import WebUI

@Suite struct WebAPITests {
    @Test func statusJSONShape() throws {
        let app = makeApplication()
        app.recordHistory(.init(packets: 0, handshakes: 0, connections: 0), at: Instant.zero)
        app.recordHistory(.init(packets: 50, handshakes: 2, connections: 1), at: Instant.zero + Nanoseconds.seconds(1))
        let response = app.handle(makeRequest(.GET, "/api/status", headers: [bearer]))
        #expect(response.status == .ok)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        #expect(Set(root.keys) == ["snapshot", "history"])
        let snapshot = try #require(root["snapshot"] as? [String: Any])
        #expect(Set(snapshot.keys) == ["generatedAt", "service", "interfaces", "neighbors", "connections",
                                       "tlsSessions", "certificates", "captures"])
        // ISO 8601 dates (RFC 3339).
        #expect(snapshot["generatedAt"] as? String == "2026-01-02T03:04:05Z")
        let interface = try #require((snapshot["interfaces"] as? [[String: Any]])?.first)
        #expect(interface["receivedFrames"] as? Int == 120)
        #expect((interface["drops"] as? [[String: Any]])?.first?["reason"] as? String == "bad_checksum")
        let connection = try #require((snapshot["connections"] as? [[String: Any]])?.first)
        #expect(connection["state"] as? String == "ESTABLISHED")
        let tls = try #require((snapshot["tlsSessions"] as? [[String: Any]])?.first)
        #expect(tls["serverName"] as? String == hostileServerName)
        let certificate = try #require((snapshot["certificates"] as? [[String: Any]])?.first)
        #expect((certificate["acme"] as? [String: Any])?["state"] as? String == "valid")
        let history = try #require(root["history"] as? [String: Any])
        #expect(history["maximumSamples"] as? Int == 600)
        let point = try #require((history["points"] as? [[String: Any]])?.first)
        #expect(point["packetsPerSecond"] as? Double == 50)
        // Sorted keys: equal snapshots give equal bytes.
        let again = app.handle(makeRequest(.GET, "/api/status", headers: [bearer]))
        #expect(again.body == response.body)
        let text = response.bodyText
        #expect(text.range(of: "\"captures\"")!.lowerBound < text.range(of: "\"certificates\"")!.lowerBound)
    }

    @Test func statusJSONDecodesBack() throws {
        let app = makeApplication()
        let response = app.handle(makeRequest(.GET, "/api/status", headers: [bearer]))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let report = try decoder.decode(StatusReport.self, from: Data(response.body))
        var expected = fixtureSnapshot()
        expected.captures = []  // The application lists captures from its controller, which has none.
        #expect(report.snapshot == expected)
    }

    @Test func metricsParseWithPrometheusClient() throws {
        let app = makeApplication()
        app.recordHistory(.init(packets: 0, handshakes: 0, connections: 0), at: Instant.zero)
        app.recordHistory(.init(packets: 30, handshakes: 4, connections: 1), at: Instant.zero + Nanoseconds.seconds(2))
        let response = app.handle(makeRequest(.GET, "/metrics", headers: [bearer]))
        #expect(response.status == .ok)
        #expect(response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8")
        let python = try #require(findExecutable("python3"), "python3 is not installed")
        let script = """
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            for family in text_string_to_metric_families(sys.stdin.read()):
                print("family|%s|%s" % (family.name, family.type))
                for s in family.samples:
                    labels = ";".join("%s=%s" % kv for kv in sorted(s.labels.items()))
                    print("sample|%s|%s|%r" % (s.name, labels, float(s.value)))
            """
        let result = try runProcess(python, ["-c", script], input: response.bodyText)
        #expect(result.status == 0, "prometheus_client: \(result.stderr)")
        let lines = Set(result.stdout.split(separator: "\n").map(String.init))
        let expected = [
            "family|capnet_frames_received|counter",
            "sample|capnet_frames_received_total|interface=tap0|120.0",
            "sample|capnet_bytes_sent_total|interface=tap0|7000.0",
            "sample|capnet_arp_requests_received_total|interface=tap0|3.0",
            "family|capnet_drops|counter",
            "sample|capnet_drops_total|interface=tap0;reason=bad_checksum|2.0",
            "sample|capnet_drops_total|interface=tap0;reason=no_route|0.0",
            "family|capnet_arp_entries|gauge",
            "sample|capnet_arp_entries|interface=tap0|1.0",
            "sample|capnet_arp_entries_limit|interface=tap0|256.0",
            "sample|capnet_udp_sockets|interface=tap0|2.0",
            "sample|capnet_tcp_connections|state=ESTABLISHED|1.0",
            "sample|capnet_tcp_connections|state=TIME-WAIT|0.0",
            "sample|capnet_tls_sessions||1.0",
            "sample|capnet_packets_per_second||15.0",
            "sample|capnet_tls_handshakes_per_second||2.0",
            "sample|capnet_web_sessions_limit||32.0",
            "sample|capnet_history_samples_limit||600.0",
            "sample|capnet_uptime_seconds|version=0.1.0|3725.0",
            "sample|capnet_certificate_not_after_seconds|source=acme;subject=CN=ui.example.net|1775099045.0",
        ]
        for line in expected { #expect(lines.contains(line), "missing \(line)") }
        // A gauge without a bound has no _limit series.
        #expect(!lines.contains { $0.hasPrefix("sample|capnet_udp_sockets_limit") })
    }

    @Test func unknownRoutesAndMethods() {
        let app = makeApplication()
        #expect(app.handle(makeRequest(.GET, "/nothing", headers: [bearer])).status == .notFound)
        let wrongMethod = app.handle(makeRequest(.DELETE, "/api/status", headers: [bearer]))
        #expect(wrongMethod.status == .methodNotAllowed)
        #expect(wrongMethod.headers["Allow"] == "GET, HEAD, OPTIONS")
    }
}
