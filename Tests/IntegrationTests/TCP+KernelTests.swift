import Foundation
import Testing

/// capnet's TCP against the Linux kernel's: `capnet serve` runs the whole
/// stack on a tap device in a namespace each test creates, and kernel clients
/// (Scripts/tcp_kernel_client.py) talk to its echo service.
///
/// NOTE: `tc qdisc ... netem` is missing from this machine's kernel (no
/// sch_netem module), so the kernel-to-stack direction is impaired by the
/// stack's own `rx.` fault options instead, applied as frames arrive.
@Suite(.serialized,
       .enabled(if: NamespaceLab.isAvailable, Comment(rawValue: NamespaceLab.unavailableReason ?? "")),
       .timeLimit(.minutes(10)))
struct TCPKernelTests {
    static let echoPort = 7
    static let discardPort = 9
    /// A port nothing listens on.
    static let closedPort = 12_345
    static let mebibyte = 1 << 20
    /// An address in the lab's 192.0.2.0/24 that no host has: the SYN flood's source.
    static let floodSourceAddress = "192.0.2.99"

    static let clientScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Scripts/tcp_kernel_client.py").path

    struct ClientFailed: Error, CustomStringConvertible {
        let description: String
    }

    func startStack(_ lab: NamespaceLab, extra: [String] = []) throws -> ManagedProcess {
        try lab.startCapnet([
            "--tap", NamespaceLab.tapName,
            "--address", "\(NamespaceLab.stackAddress)/\(NamespaceLab.prefixLength)",
            "--tcp-echo-port", String(Self.echoPort),
            "--tcp-discard-port", String(Self.discardPort),
        ] + extra)
    }

    /// Runs one client mode in the namespace and returns its JSON report.
    func runClient(_ lab: NamespaceLab, _ mode: String, port: Int = TCPKernelTests.echoPort,
                   _ arguments: [String], timeout: Int) throws -> [String: Any] {
        let result = try lab.exec(["python3", Self.clientScript, mode, NamespaceLab.stackAddress, String(port)]
                                  + arguments, timeout: timeout)
        let line = result.output.split(separator: "\n").last.map(String.init) ?? ""
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw ClientFailed(description: "client '\(mode)' printed no JSON report: \(result.output) \(result.errorOutput)")
        }
        return object
    }

    /// Reads every TCP segment of a capture, in order, as (source, source
    /// port, destination port, SYN, ACK, FIN, RST, relative sequence number,
    /// data length).
    func segments(in capture: String) throws -> [(source: String, sourcePort: Int, destinationPort: Int,
                                                  syn: Bool, ack: Bool, fin: Bool, rst: Bool, sequence: Int,
                                                  length: Int)] {
        let result = try Shell.run(["tshark", "-r", capture, "-Y", "tcp", "-T", "fields",
                                    "-e", "ip.src", "-e", "tcp.srcport", "-e", "tcp.dstport",
                                    "-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "tcp.flags.fin",
                                    "-e", "tcp.flags.reset", "-e", "tcp.seq", "-e", "tcp.len"])
        return result.output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 9, let sourcePort = Int(fields[1]), let destinationPort = Int(fields[2]),
                  let sequence = Int(fields[7]), let length = Int(fields[8]) else { return nil }
            func flag(_ text: String) -> Bool { text == "1" || text == "True" }
            return (fields[0], sourcePort, destinationPort, flag(fields[3]), flag(fields[4]), flag(fields[5]),
                    flag(fields[6]), sequence, length)
        }
    }

    @Test func bulkEchoUnderImpairment() throws {
        let lab = try NamespaceLab(tag: "tcpbulk")
        defer { lab.tearDown() }
        // Loss 3 % each way, and on frames from the kernel 5 ms of delay and 10 %
        // reordering: what netem on the kernel side would otherwise add.
        let stack = try startStack(lab, extra: ["--impair", "loss=0.03,rx.loss=0.03,rx.delay=5,rx.reorder=0.1,seed=11"])

        let size = 64 * Self.mebibyte
        let report = try runClient(lab, "bulk", [String(size), "64", "400"], timeout: 420)
        #expect(report["errors"] as? [String] == [], "client errors: \(report)")
        #expect(report["received"] as? Int == size, "report: \(report)")
        let sent = try #require(report["sent_sha256"] as? String)
        #expect(report["received_sha256"] as? String == sent)
        print("64 MiB echo under impairment took \(report["seconds"] ?? "?") s")
        #expect(stack.stop() == 0, "capnet log: \(stack.log.suffix(2000))")
    }

    @Test func fiveHundredConcurrentEchoes() throws {
        let lab = try NamespaceLab(tag: "tcpmany")
        defer { lab.tearDown() }
        let stack = try startStack(lab)

        let report = try runClient(lab, "many", ["500", String(Self.mebibyte), "400"], timeout: 420)
        #expect(report["connections"] as? Int == 500)
        #expect(report["failed"] as? Int == 0, "report: \(report)")
        print("500 x 1 MiB echo took \(report["seconds"] ?? "?") s")
        #expect(stack.stop() == 0, "capnet log: \(stack.log.suffix(2000))")
    }

    @Test func kernelAbortFreesConnection() throws {
        let lab = try NamespaceLab(tag: "tcpabort")
        defer { lab.tearDown() }
        let directory = try TemporaryDirectory()
        let capture = directory.path + "/abort.pcapng"
        let stack = try startStack(lab, extra: ["--capture", capture])

        // SO_LINGER {1, 0} makes close() send RST (RFC 9293 §3.10.4 ABORT).
        let report = try runClient(lab, "abort", ["20"], timeout: 60)
        #expect(report["first_intact"] as? Bool == true, "report: \(report)")
        #expect(report["close_error"] is NSNull, "report: \(report)")
        #expect(report["second_intact"] as? Bool == true, "report: \(report)")
        #expect(stack.stop() == 0)

        // Both connections used the same kernel port. After the kernel's RST the
        // stack sends nothing for the old connection, and replies to the new SYN
        // with a SYN-ACK: the aborted connection was gone, or the SYN would get
        // a challenge ACK (RFC 5961 §4.2).
        let port = try #require(report["source_port"] as? Int)
        let flow = try segments(in: capture).filter { $0.sourcePort == port || $0.destinationPort == port }
        let reset = try #require(flow.firstIndex { $0.source == NamespaceLab.kernelAddress && $0.rst },
                                 "no RST from the kernel in the capture")
        let afterReset = flow[(reset + 1)...]
        let firstReply = try #require(afterReset.first { $0.source == NamespaceLab.stackAddress })
        #expect(firstReply.syn, "the stack replied to the new SYN with \(firstReply)")
        #expect(firstReply.ack, "the stack replied to the new SYN with \(firstReply)")
        let next = try #require(afterReset.first, "nothing follows the kernel's RST")
        #expect(next.syn, "the next segment after the RST is not the new SYN: \(next)")
        #expect(!next.ack, "the next segment after the RST is not the new SYN: \(next)")
        #expect(!flow.contains { $0.source == NamespaceLab.stackAddress && $0.rst })
    }

    @Test func closedPortRefusesConnect() throws {
        let lab = try NamespaceLab(tag: "tcprefuse")
        defer { lab.tearDown() }
        _ = try startStack(lab)

        // RFC 9293 §3.10.7.1: the SYN gets RST+ACK, which connect() reports as ECONNREFUSED.
        let report = try runClient(lab, "refused", port: Self.closedPort, ["10"], timeout: 30)
        #expect(report["outcome"] as? String == "refused")
    }

    @Test func halfCloseGetsDataThenEndOfStream() throws {
        let lab = try NamespaceLab(tag: "tcphalf")
        defer { lab.tearDown() }
        let directory = try TemporaryDirectory()
        let capture = directory.path + "/half.pcapng"
        let stack = try startStack(lab, extra: ["--capture", capture])

        // RFC 9293 §3.6: after the client's FIN the stack can still send; the
        // echo service returns every byte, then closes its side.
        let size = 200_000
        let report = try runClient(lab, "half-close", [String(size), "30"], timeout: 60)
        #expect(report["intact"] as? Bool == true, "report: \(report)")
        #expect(report["end_of_stream"] as? Bool == true, "report: \(report)")
        #expect(report["error"] is NSNull, "report: \(report)")
        #expect(stack.stop() == 0)

        // The stack's FIN takes the sequence number after the last data byte
        // (tshark numbers relative to the ISN, whose SYN takes number 0), also
        // when it rides on the last data segment.
        let fins = try segments(in: capture).filter { $0.source == NamespaceLab.stackAddress && $0.fin }
        #expect(!fins.isEmpty, "the stack sent no FIN")
        let finSequences = fins.map { $0.sequence + $0.length }
        #expect(finSequences.allSatisfy { $0 == size + 1 }, "FIN sequence numbers: \(finSequences)")
    }

    @Test func synFloodLeavesEchoWorking() throws {
        let lab = try NamespaceLab(tag: "tcpflood")
        defer { lab.tearDown() }
        let stack = try startStack(lab)

        // 2000 SYNs through a raw socket from an address of the lab's subnet that
        // no host has, so no SYN-ACK is answered: the SYN queue (1024 by default)
        // fills and the rest, and the kernel client's own SYN, get cookies.
        // From the kernel's address instead, the kernel's RSTs to the SYN-ACKs
        // emptied the queue as fast as the flood filled it.
        let synCount = 2000
        let report = try lab.exec(["python3", Self.clientScript, "flood", NamespaceLab.stackAddress,
                                   String(Self.echoPort), Self.floodSourceAddress, String(synCount), "30"],
                                  timeout: 90)
        let line = report.output.split(separator: "\n").last.map(String.init) ?? ""
        let object = try #require(try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                                  "no report: \(report.output)")
        #expect(object["syns_sent"] as? Int == synCount)
        #expect(object["intact"] as? Bool == true, "report: \(object)")
        #expect(object["error"] is NSNull, "report: \(object)")
        #expect(stack.log.contains("answering SYNs with cookies"), "no SYN cookie notice in: \(stack.log.suffix(2000))")
        #expect(stack.stop() == 0)
    }
}
