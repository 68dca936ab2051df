import CapnetBase
import Foundation
import Glibc
import NIC
import Testing
@testable import NetStack

/// The resolver service on an interface over a tap device, asking
/// pebble-challtestsrv at 192.0.2.1 inside a network namespace the test
/// creates and removes.
@Suite(.serialized, .enabled(if: getuid() == 0 && access("/dev/net/tun", F_OK) == 0
                                && FileManager.default.isExecutableFile(atPath: "/usr/bin/pebble-challtestsrv"),
                             "needs root, /dev/net/tun and pebble-challtestsrv"))
struct DNSResolverNamespaceTests {
    /// The wait for the resolution, which normally takes milliseconds.
    static let timeLimit = Nanoseconds.seconds(15)
    static let tapName = "capdns0"

    @Test func resolvesOverTapThroughStack() throws {
        let namespace = "capnet-dns-\(getpid())"
        _ = try runProcess(["/usr/sbin/ip", "netns", "add", namespace], timeoutSeconds: 20)
        defer { _ = try? runProcess(["/usr/sbin/ip", "netns", "del", namespace], timeoutSeconds: 20) }
        let inNamespace = ["/usr/sbin/ip", "netns", "exec", namespace]
        _ = try runProcess(inNamespace + ["/usr/sbin/ip", "link", "set", "lo", "up"], timeoutSeconds: 20)
        _ = try runProcess(inNamespace + ["/usr/sbin/ip", "tuntap", "add", "dev", Self.tapName, "mode", "tap"], timeoutSeconds: 20)
        defer { _ = try? runProcess(inNamespace + ["/usr/sbin/ip", "link", "del", Self.tapName], timeoutSeconds: 20) }
        _ = try runProcess(inNamespace + ["/usr/sbin/ip", "addr", "add", "192.0.2.1/24", "dev", Self.tapName], timeoutSeconds: 20)
        _ = try runProcess(inNamespace + ["/usr/sbin/ip", "link", "set", Self.tapName, "up"], timeoutSeconds: 20)

        let server = try ChallengeTestServer(host: "192.0.2.1", dnsPort: 53, namespace: namespace)
        defer { server.stop() }
        try server.addA(host: "ca.capnet.test.", addresses: ["198.51.100.7"], namespace: namespace)

        let device = try TapDevice(name: Self.tapName, namespace: namespace)
        let interface = try Interface(device: device,
                                      configuration: Interface.Configuration(address: IPv4Network("192.0.2.2/24")!))
        defer { interface.close() }
        let service = try DNSResolverService.start(
            on: interface, configuration: DNSResolver.Configuration(server: IPv4Endpoint(address: IPv4Address(192, 0, 2, 1), port: 53)))

        let log = CompletionLog()
        try service.resolve("ca.capnet.test", completion: log.completion)
        try service.resolve("ca.capnet.test.", completion: log.completion)
        try service.resolve("other.capnet.test", completion: log.completion)
        let clock = MonotonicTimeSource()
        let started = clock.now()
        try interface.run(clock: clock) { log.all.count == 3 || clock.now() - started > Self.timeLimit }

        let results = log.all.map(\.result)
        try #require(results.count == 3, "resolutions unfinished after \(Self.timeLimit); server log: \(server.log)")
        #expect(results.filter { $0 == .success([IPv4Address(198, 51, 100, 7)]) }.count == 2, "results: \(results)")
        // pebble-challtestsrv returns the -defaultIPv4 address for names without records.
        #expect(results.contains(.success([IPv4Address(192, 0, 2, 2)])))
        // No check on retransmissions: pebble-challtestsrv prints no line once
        // its UDP listener is up, so under load the first queries can meet a
        // closed port and the resolver's retransmission recovers them.
    }
}
