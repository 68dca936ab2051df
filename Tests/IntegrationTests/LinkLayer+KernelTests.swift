import Foundation
import Testing

/// The Linux kernel, on the other side of a tap device in a namespace each
/// test creates, resolves the stack with ARP, pings it and exchanges UDP.
@Suite(.enabled(if: NamespaceLab.isAvailable, Comment(rawValue: NamespaceLab.unavailableReason ?? "")),
       .timeLimit(.minutes(3)))
struct LinkLayerKernelTests {
    static let udpEchoPort = 7

    /// Sends one UDP datagram from the kernel side and prints the reply as hex.
    static let udpClientScript = """
        import socket, sys
        payload = bytes.fromhex(sys.argv[3])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        for attempt in range(3):
            s.sendto(payload, (sys.argv[1], int(sys.argv[2])))
            try:
                data, peer = s.recvfrom(65535)
                print(data.hex())
                print("%s:%d" % peer)
                sys.exit(0)
            except socket.timeout:
                continue
        sys.exit("no UDP reply after 3 attempts")
        """

    func startStack(_ lab: NamespaceLab, extra: [String] = []) throws -> ManagedProcess {
        try lab.startCapnet([
            "--tap", NamespaceLab.tapName,
            "--address", "\(NamespaceLab.stackAddress)/\(NamespaceLab.prefixLength)",
            "--udp-echo-port", String(Self.udpEchoPort),
        ] + extra)
    }

    /// Parses ping's summary line: "20 packets transmitted, 20 received, ...".
    func pingCounts(_ output: String) -> (sent: Int, received: Int)? {
        guard let line = output.split(separator: "\n").first(where: { $0.contains("packets transmitted") })
        else { return nil }
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        guard numbers.count >= 2 else { return nil }
        return (numbers[0], numbers[1])
    }

    @Test func pingGetsTwentyReplies() throws {
        let lab = try NamespaceLab(tag: "ping")
        defer { lab.tearDown() }
        _ = try startStack(lab)

        let result = try lab.exec(["ping", "-c", "20", "-i", "0.05", "-W", "2", NamespaceLab.stackAddress])
        let counts = try #require(pingCounts(result.output), "no summary in ping output: \(result.output)")
        #expect(counts.sent == 20)
        #expect(counts.received == 20)
    }

    @Test func fragmentedPingGetsReplies() throws {
        let lab = try NamespaceLab(tag: "frag")
        defer { lab.tearDown() }
        _ = try startStack(lab)

        // 4000 bytes of ICMP data do not fit a 1500-byte MTU: the kernel
        // fragments the request and must reassemble our fragmented reply.
        let result = try lab.exec(["ping", "-c", "5", "-i", "0.1", "-W", "2", "-s", "4000",
                                   NamespaceLab.stackAddress])
        let counts = try #require(pingCounts(result.output))
        #expect(counts.received == 5)
        #expect(result.output.contains("4008 bytes from \(NamespaceLab.stackAddress)"))
    }

    @Test func udpEchoReturnsSameBytes() throws {
        let lab = try NamespaceLab(tag: "udp")
        defer { lab.tearDown() }
        _ = try startStack(lab)

        // A small datagram and one that is fragmented in both directions.
        for size in [1, 100, 3000] {
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
            let hex = payload.map { String(format: "%02x", $0) }.joined()
            let result = try lab.exec(["python3", "-c", Self.udpClientScript,
                                       NamespaceLab.stackAddress, String(Self.udpEchoPort), hex])
            let lines = result.output.split(separator: "\n").map(String.init)
            #expect(lines.first == hex, "echo of \(size) bytes differs")
            #expect(lines.dropFirst().first == "\(NamespaceLab.stackAddress):\(Self.udpEchoPort)")
        }
    }

    @Test func closedUDPPortGetsPortUnreachable() throws {
        let lab = try NamespaceLab(tag: "unreach")
        defer { lab.tearDown() }
        _ = try startStack(lab)

        // A connected UDP socket reports ICMP port unreachable as ECONNREFUSED.
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(5)
            s.connect((sys.argv[1], 9))
            s.send(b"x")
            try:
                s.recv(100)
                print("reply")
            except ConnectionRefusedError:
                print("refused")
            except socket.timeout:
                print("timeout")
            """
        let result = try lab.exec(["python3", "-c", script, NamespaceLab.stackAddress])
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines) == "refused")
    }

    @Test func captureShowsArpIcmpAndFragments() throws {
        let lab = try NamespaceLab(tag: "capture")
        defer { lab.tearDown() }
        let directory = try TemporaryDirectory()
        let capture = directory.path + "/stack.pcapng"
        let stack = try startStack(lab, extra: ["--capture", capture])

        try lab.exec(["ping", "-c", "3", "-i", "0.1", "-W", "2", NamespaceLab.stackAddress])
        try lab.exec(["ping", "-c", "1", "-W", "2", "-s", "4000", NamespaceLab.stackAddress])
        let status = stack.stop()
        #expect(status == 0, "capnet exited with \(status): \(stack.log)")

        let arp = try Shell.run(["tshark", "-r", capture, "-Y", "arp",
                                 "-T", "fields", "-e", "arp.opcode", "-e", "arp.dst.proto_ipv4"])
        let arpLines = arp.output.split(separator: "\n")
        // The kernel asks for 192.0.2.2 (opcode 1) and we answer (opcode 2).
        #expect(arpLines.contains { $0.hasPrefix("1\t\(NamespaceLab.stackAddress)") })
        #expect(arpLines.contains { $0.hasPrefix("2\t\(NamespaceLab.kernelAddress)") })

        let icmp = try Shell.run(["tshark", "-r", capture, "-Y", "icmp",
                                  "-T", "fields", "-e", "icmp.type"])
        let types = icmp.output.split(separator: "\n")
        #expect(types.filter { $0 == "8" }.count == 4)
        #expect(types.filter { $0 == "0" }.count == 4)

        // 4028 bytes of IP payload at MTU 1500 travel as three fragments each way.
        let fragments = try Shell.run(["tshark", "-r", capture, "-Y", "ip.flags.mf == 1 || ip.frag_offset > 0",
                                       "-T", "fields", "-e", "ip.src"])
        let sources = fragments.output.split(separator: "\n")
        #expect(sources.filter { $0 == NamespaceLab.kernelAddress }.count == 3)
        #expect(sources.filter { $0 == NamespaceLab.stackAddress }.count == 3)
    }

    @Test func impairedLinkLosesAboutTwentyPercent() throws {
        let lab = try NamespaceLab(tag: "impair")
        defer { lab.tearDown() }
        _ = try startStack(lab, extra: ["--impair", "loss=0.2,seed=1"])

        let result = try lab.exec(["ping", "-c", "200", "-i", "0.01", "-W", "1", NamespaceLab.stackAddress],
                                  allowFailure: true)
        let counts = try #require(pingCounts(result.output), "no summary: \(result.output)")
        #expect(counts.sent == 200)
        let loss = Double(counts.sent - counts.received) / Double(counts.sent)
        // Binomial(200, 0.2): mean 40 lost, standard deviation about 5.7.
        #expect(loss > 0.10 && loss < 0.30, "loss \(loss)")

        // The stack still answers everything once the test stops counting.
        let after = try lab.exec(["ping", "-c", "5", "-i", "0.05", "-W", "1", NamespaceLab.stackAddress],
                                 allowFailure: true)
        let afterCounts = try #require(pingCounts(after.output))
        #expect(afterCounts.received >= 1)
    }
}

/// A directory under /tmp removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let template = NSTemporaryDirectory() + "capnet-test-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard mkdtemp(&bytes) != nil else {
            throw Shell.CommandFailed(command: ["mkdtemp", template],
                                      result: .init(status: errno, output: "", errorOutput: "mkdtemp failed"))
        }
        path = String(cString: bytes)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
