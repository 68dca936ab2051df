// Shared pieces for the Web UI application tests: a known admin token, a
// fixed snapshot with peer-controlled text that must be escaped, an
// in-memory capture controller, and a request builder.
import CapnetBase
import Foundation
@testable import WebUI

/// A well-formed token (43 base64url characters) known to the tests.
let testTokenValue = "dGVzdC10b2tlbi1mb3ItdGhlLXdlYi11aS10ZXN0cw0"
let testToken = AdminToken(value: testTokenValue)!
let testHost = "ui.example.net"

/// An SNI value a hostile client could send: markup, quotes and an event handler.
let hostileServerName = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>.example"

/// 2026-01-02T03:04:05Z.
let fixedDate = Date(timeIntervalSince1970: 1_767_323_045)

func fixtureSnapshot() -> StatusSnapshot {
    let interface = InterfaceStatus(
        name: "tap0", network: "192.0.2.1/24", hardwareAddress: "02:00:00:00:00:01", mtu: 1500,
        receivedFrames: 120, receivedBytes: 9_000, sentFrames: 80, sentBytes: 7_000,
        counters: [CounterReading(name: "arp_requests_received", help: "ARP requests received.", value: 3)],
        drops: [DropCount(reason: "bad_checksum", count: 2), DropCount(reason: "no_route", count: 0)],
        gauges: [GaugeReading(name: "arp_entries", help: "ARP cache entries.", value: 1, limit: 256),
                 GaugeReading(name: "udp_sockets", help: "Bound UDP sockets.", value: 2, limit: nil)])
    return StatusSnapshot(
        generatedAt: fixedDate,
        service: ServiceInfo(version: "0.1.0", startedAt: fixedDate.addingTimeInterval(-3_725), uptimeSeconds: 3_725,
                             addresses: ["192.0.2.1"]),
        interfaces: [interface],
        neighbors: [NeighborStatus(interface: "tap0", address: "192.0.2.2", hardwareAddress: "02:00:00:00:00:02",
                                   state: .resolved, requestsSent: 0, expiresInSeconds: 50, pendingFrames: 0)],
        connections: [ConnectionStatus(local: "192.0.2.1:443", remote: "198.51.100.7:50123", state: .established,
                                       smoothedRTTMilliseconds: 1.5, congestionWindowBytes: 14_600,
                                       bytesReceived: 517, bytesSent: 4_096)],
        tlsSessions: [TLSSessionStatus(remote: "198.51.100.7:50123", version: "TLS 1.3",
                                       cipherSuite: "TLS_AES_128_GCM_SHA256", group: "x25519",
                                       serverName: hostileServerName, alpn: "http/1.1", resumed: false)],
        certificates: [CertificateStatus(subject: "CN=ui.example.net", issuer: "CN=capnet development CA",
                                         subjectAlternativeNames: ["ui.example.net"],
                                         notAfter: fixedDate.addingTimeInterval(90 * 86_400), source: .acme,
                                         acme: ACMEStatus(state: .valid, validUntil: fixedDate.addingTimeInterval(90 * 86_400),
                                                          nextRenewal: fixedDate.addingTimeInterval(60 * 86_400)))])
}

/// Captures kept in memory. The names it receives are recorded so tests can check
/// that invalid names never reach it.
final class MemoryCaptureController: CaptureController, @unchecked Sendable {
    private let lock = NSLock()
    private var captures: [String: (bytes: [UInt8], running: Bool)] = [:]
    private(set) var namesSeen: [String] = []

    func listCaptures() -> [CaptureStatus] {
        lock.withLock {
            captures.keys.sorted().map {
                CaptureStatus(name: $0, sizeBytes: UInt64(captures[$0]!.bytes.count), running: captures[$0]!.running)
            }
        }
    }

    func startCapture(named name: CaptureName) throws(CaptureControlError) -> CaptureStatus {
        lock.lock()
        defer { lock.unlock() }
        namesSeen.append(name.rawValue)
        guard captures[name.rawValue] == nil else { throw .alreadyExists }
        captures[name.rawValue] = ([0x0A, 0x0D, 0x0D, 0x0A], true)
        return CaptureStatus(name: name.rawValue, sizeBytes: 4, running: true)
    }

    func stopCapture(named name: CaptureName) throws(CaptureControlError) -> CaptureStatus {
        lock.lock()
        defer { lock.unlock() }
        namesSeen.append(name.rawValue)
        guard let capture = captures[name.rawValue] else { throw .notFound }
        guard capture.running else { throw .wrongState("the capture is not running") }
        captures[name.rawValue]!.running = false
        return CaptureStatus(name: name.rawValue, sizeBytes: UInt64(capture.bytes.count), running: false)
    }

    func captureFile(named name: CaptureName) throws(CaptureControlError) -> CaptureFile {
        lock.lock()
        defer { lock.unlock() }
        namesSeen.append(name.rawValue)
        guard let capture = captures[name.rawValue] else { throw .notFound }
        guard !capture.running else { throw .wrongState("stop the capture before downloading it") }
        return CaptureFile(fileName: CaptureName(name.rawValue + ".pcapng")!, bytes: capture.bytes)
    }
}

func makeApplication(clock: VirtualTimeSource = VirtualTimeSource(), scheme: String = "https",
                     maximumSessions: Int = SessionTable.defaultMaximumSessions,
                     snapshot: @escaping () -> StatusSnapshot = fixtureSnapshot,
                     captures: CaptureController? = MemoryCaptureController(),
                     renewCertificate: (() -> Bool)? = nil) -> WebApplication
{
    WebApplication(configuration: WebApplication.Configuration(scheme: scheme, maximumSessions: maximumSessions),
                   token: testToken, clock: clock, status: snapshot, captures: captures,
                   renewCertificate: renewCertificate)
}

/// Builds a request as the parser would deliver it, with Host set.
func makeRequest(_ method: HTTPMethod, _ target: String, headers: [(String, String)] = [], body: String = "")
    -> HTTPRequest
{
    let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    let head = HTTPRequestHead(method: method, target: .origin(path: String(parts[0]),
                                                               query: parts.count > 1 ? String(parts[1]) : nil),
                               rawTarget: target, version: .http1_1,
                               headers: HTTPHeaders([("Host", testHost)] + headers),
                               framing: body.isEmpty ? .none : .contentLength(body.utf8.count))
    return HTTPRequest(head: head, body: Array(body.utf8))
}

let bearer = ("Authorization", "Bearer \(testTokenValue)")
let sameOrigin = ("Origin", "https://\(testHost)")
let formType = ("Content-Type", "application/x-www-form-urlencoded")

extension HTTPResponse {
    var bodyText: String { String(decoding: body, as: UTF8.self) }
}
