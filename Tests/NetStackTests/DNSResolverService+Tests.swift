import CapnetBase
import Foundation
import Glibc
import Synchronization
import Testing
@testable import NetStack

/// Results a completion recorded, with whether it ran on the thread that polled the interface.
final class CompletionLog: Sendable {
    struct Entry: Sendable {
        var result: Result<[IPv4Address], DNSError>
        var thread: pthread_t
    }

    private let entries = Mutex<[Entry]>([])

    var all: [Entry] { entries.withLock { $0 } }

    var completion: DNSResolverService.Completion {
        { [self] result in
            let thread = pthread_self()
            entries.withLock { $0.append(Entry(result: result, thread: thread)) }
        }
    }
}

@Suite struct DNSResolverServiceTests {
    static let server = IPv4Endpoint(address: TestAddresses.peerIP, port: 53)

    func makeService(on harness: InterfaceHarness, submissionCapacity: Int = 4) throws -> DNSResolverService {
        let service = try DNSResolverService(interface: harness.interface,
                                             configuration: DNSResolver.Configuration(server: Self.server),
                                             random: SeededRandom(seed: 3), submissionCapacity: submissionCapacity)
        harness.interface.addService(service)
        return service
    }

    /// Calls `resolve` on a thread of its own and waits for the call to return.
    func resolveFromOtherThread(_ service: DNSResolverService, _ name: String, log: CompletionLog) throws {
        let outcome = Mutex<Result<Void, DNSError>?>(nil)
        let returned = DispatchSemaphore(value: 0)
        let completion = log.completion
        Thread.detachNewThread {
            let result = Result { () throws(DNSError) in try service.resolve(name, completion: completion) }
            outcome.withLock { $0 = result }
            returned.signal()
        }
        #expect(returned.wait(timeout: .now() + 10) == .success)
        try outcome.withLock { $0 }?.get()
    }

    /// Returns the source port and DNS payload of a frame that carries UDP to
    /// the server: Ethernet (14 octets), IPv4 without options (20), UDP (8).
    func queryInFrame(_ frame: [UInt8]) throws -> (port: UInt16, payload: [UInt8]) {
        try #require(frame.count > 42)
        #expect(Array(frame[12..<14]) == [0x08, 0x00])                 // IPv4
        #expect(frame[23] == 17)                                      // UDP
        #expect(Array(frame[30..<34]) == [192, 0, 2, 1])              // to the server
        #expect(Array(frame[36..<38]) == [0, 53])                     // port 53
        let port = UInt16(frame[34]) << 8 | UInt16(frame[35])
        return (port, Array(frame[42...]))
    }

    @Test func resolvesThroughInterface() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let service = try makeService(on: harness)
        let log = CompletionLog()

        try resolveFromOtherThread(service, "capnet.test", log: log)
        let frames = harness.exchange()
        try #require(frames.count == 1)
        let (port, payload) = try queryInFrame(frames[0])
        #expect(ephemeralPorts.contains(port))
        #expect(hex(Array(payload.dropFirst(2))) == hex(Array(try DNSVectors.vector("query").dropFirst(2))))

        let id = UInt16(payload[0]) << 8 | UInt16(payload[1])
        let response = try #require(try Scapy.build("""
            V["frame"] = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=53, dport=\(port)) / DNS(id=\(id), qr=1, rd=1, ra=1, qd=DNSQR(qname="capnet.test"), an=DNSRR(rrname="capnet.test", type="A", ttl=300, rdata="198.51.100.7"))
            """)["frame"])
        #expect(log.all.isEmpty)
        #expect(harness.exchange(response).isEmpty)

        let entries = log.all
        try #require(entries.count == 1)
        #expect(entries[0].result == .success([IPv4Address(198, 51, 100, 7)]))
        #expect(pthread_equal(entries[0].thread, pthread_self()) != 0, "completion ran off the loop thread")

        // The query's socket is closed, so the same response now gets port unreachable.
        let again = harness.exchange(response)
        try #require(again.count == 1)
        #expect(again[0][23] == 1)                                     // ICMP
        #expect(Array(again[0][34..<36]) == [3, 3])                    // destination unreachable, port unreachable

        // The second lookup comes from the cache without a frame.
        try resolveFromOtherThread(service, "CAPNET.test", log: log)
        #expect(harness.exchange().isEmpty)
        #expect(log.all.last?.result == .success([IPv4Address(198, 51, 100, 7)]))
    }

    @Test func retransmitsThenTimesOutThroughInterface() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let service = try makeService(on: harness)
        let log = CompletionLog()
        try service.resolve("capnet.test", completion: log.completion)

        // Retransmissions repeat the UDP datagram; the IPv4 identification differs.
        func udpPart(_ frames: [[UInt8]]) -> [String] { frames.map { hex(Array($0.dropFirst(34))) } }
        let first = harness.exchange()
        try #require(first.count == 1)
        #expect(service.nextDeadline == harness.now + .seconds(1))
        #expect(udpPart(harness.advance(by: .seconds(1))) == udpPart(first))
        #expect(udpPart(harness.advance(by: .seconds(2))) == udpPart(first))
        #expect(harness.advance(by: .seconds(4) - Nanoseconds(1)).isEmpty)
        #expect(log.all.isEmpty)
        #expect(harness.advance(by: Nanoseconds(1)).isEmpty)
        #expect(log.all.map(\.result) == [.failure(.timedOut(try DNSName("capnet.test"), server: Self.server, attempts: 3))])
    }

    @Test func submissionsBeyondCapacityRejected() throws {
        let harness = try InterfaceHarness()
        let service = try makeService(on: harness, submissionCapacity: 2)
        let log = CompletionLog()
        try service.resolve("a.test", completion: log.completion)
        try service.resolve("b.test", completion: log.completion)
        #expect(throws: DNSError.tooManyQueries(limit: 2)) { try service.resolve("c.test", completion: log.completion) }
    }

    @Test func closeFailsWaitingAndLaterSubmissions() throws {
        let harness = try InterfaceHarness()
        harness.learnPeer()
        let service = try makeService(on: harness)
        let log = CompletionLog()
        try service.resolve("a.test", completion: log.completion)
        harness.exchange()
        try service.resolve("b.test", completion: log.completion)

        service.close()
        #expect(log.all.map(\.result) == [.failure(.closed(try DNSName("a.test"))), .failure(.closed(try DNSName("b.test")))])
        #expect(throws: DNSError.closed(nil)) { try service.resolve("c.test", completion: log.completion) }
    }

    @Test func invalidServerRejected() throws {
        let harness = try InterfaceHarness()
        let configuration = DNSResolver.Configuration(server: IPv4Endpoint(address: .any, port: 53))
        #expect(throws: InterfaceError.self) { try DNSResolverService(interface: harness.interface, configuration: configuration) }
    }
}
