#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CapnetBase
import Testing
@testable import NetStack

/// The TCP layer against the Linux kernel's TCP as the peer. A TUN device
/// carries raw IPv4 between this process and a network namespace the test
/// creates, and a tiny IPv4 shim here takes the place of the Interface. The
/// suite needs root and /dev/net/tun, and without them it is skipped with the reason.
@Suite(.serialized, .enabled(if: TCPLinuxPeer.isAvailable, "needs root, /dev/net/tun and ip(8)"))
struct TCPLinuxPeerTests {
    @Test func kernelClientThroughEchoService() throws {
        let peer = try TCPLinuxPeer()
        defer { peer.tearDown() }
        let echo = TCPEchoService(listener: try peer.layer.listen(port: 7))
        // The kernel client sends 1 MiB, half-closes, and checks every echoed byte.
        let script = """
        import socket, threading, random, sys
        data = random.Random(7).randbytes(1 << 20)
        s = socket.create_connection(("\(TCPLinuxPeer.stackAddress)", 7), timeout=20)
        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send)
        t.start()
        received = bytearray()
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            received += chunk
        t.join()
        print("OK" if bytes(received) == data else "MISMATCH %d" % len(received))
        """
        let result = try peer.run(python: script, tick: { echo.poll() })
        #expect(result.status == 0)
        #expect(result.output.hasPrefix("OK"), "kernel client output: \(result.output)")
        #expect(echo.bytesEchoed == 1 << 20)
        #expect(peer.layer.counters[drop: .badChecksum] == 0)
        #expect(peer.layer.counters[drop: .malformed] == 0)
    }

    @Test func kernelClientOnSynCookie() throws {
        // With no SYN queue every handshake completes on a cookie (RFC 4987 §3.6);
        // the kernel's window scale and SACK must survive in the TSval bits.
        let peer = try TCPLinuxPeer { $0.synQueueLimit = 0 }
        defer { peer.tearDown() }
        let echo = TCPEchoService(listener: try peer.layer.listen(port: 7))
        let script = """
        import socket, random
        data = random.Random(5).randbytes(300000)
        s = socket.create_connection(("\(TCPLinuxPeer.stackAddress)", 7), timeout=20)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        received = bytearray()
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            received += chunk
        print("OK" if bytes(received) == data else "MISMATCH %d" % len(received))
        """
        var negotiated: (scale: Bool, sack: Bool, timestamps: Bool)?
        let result = try peer.run(python: script, tick: {
            echo.poll()
            if negotiated == nil, let connection = peer.layer.entries.values.first?.connection,
               connection.state == .established {
                negotiated = (connection.windowScalingEnabled, connection.sackEnabled, connection.timestampsEnabled)
            }
        })
        #expect(result.status == 0)
        #expect(result.output.hasPrefix("OK"), "kernel client output: \(result.output)")
        #expect(peer.layer.counters.synCookiesSent == 1)
        #expect(peer.layer.counters.synCookiesValidated == 1)
        #expect(negotiated?.scale == true)
        #expect(negotiated?.sack == true)
        #expect(negotiated?.timestamps == true)
    }

    @Test func kernelClientOverLossyLink() throws {
        // The shim drops 5% of datagrams in each direction (netem is not available on every
        // kernel), so both the kernel and the layer must recover with SACK and timers.
        let peer = try TCPLinuxPeer(lossRate: 0.05)
        defer { peer.tearDown() }
        let discard = TCPDiscardService(listener: try peer.layer.listen(port: 9))
        let script = """
        import socket, random
        data = random.Random(9).randbytes(1 << 20)
        s = socket.create_connection(("\(TCPLinuxPeer.stackAddress)", 9), timeout=30)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(30)
        print("OK" if s.recv(1) == b"" else "NOT-CLOSED")
        """
        let result = try peer.run(python: script, tick: { discard.poll() })
        #expect(result.status == 0)
        #expect(result.output.hasPrefix("OK"), "kernel client output: \(result.output)")
        #expect(discard.bytesDiscarded == 1 << 20)
        #expect(peer.droppedIncoming > 0)
        #expect(peer.droppedOutgoing > 0)
    }

    @Test func stackClientToKernelServer() throws {
        let peer = try TCPLinuxPeer()
        defer { peer.tearDown() }
        // The kernel echoes what it reads until EOF, then closes.
        let script = """
        import socket
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("\(TCPLinuxPeer.namespaceAddress)", 9000))
        srv.listen(1)
        srv.settimeout(20)
        c, _ = srv.accept()
        total = 0
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            c.sendall(chunk)
            total += len(chunk)
        c.close()
        print("OK", total)
        """
        let data = TCPTestSupport.bytes(count: 512 * 1024, seed: 12)
        var socket: TCPSocket?
        var written = 0
        var echoed: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var shutDown = false
        let result = try peer.run(python: script, startDelay: .milliseconds(300),
                                  until: { socket?.isEndOfStream == true }, tick: {
            if socket == nil {
                socket = try? peer.layer.connect(to: IPv4Endpoint(address: TCPLinuxPeer.namespaceAddress, port: 9000),
                                                 now: peer.clock.now())
            }
            guard let socket else { return }
            if written < data.count && socket.readiness.contains(.writable) {
                written += data.withUnsafeBytes {
                    (try? socket.write(UnsafeRawBufferPointer(rebasing: $0[written...]))) ?? 0
                }
            }
            if written == data.count && !shutDown {
                socket.shutdown()
                shutDown = true
            }
            while true {
                let n = buffer.withUnsafeMutableBytes { (try? socket.read(into: $0)) ?? 0 }
                if n == 0 { break }
                echoed.append(contentsOf: buffer[0..<n])
            }
        })
        #expect(result.status == 0)
        #expect(result.output.hasPrefix("OK \(data.count)"), "kernel server output: \(result.output)")
        #expect(echoed.count == data.count)
        #expect(TCPTestSupport.digest(echoed) == TCPTestSupport.digest(data))
        #expect(socket?.isEndOfStream == true)
        // The kernel accepted our SYN options: timestamps and SACK were negotiated.
        let connection = socket.flatMap { peer.layer.entries[$0.id]?.connection }
        #expect(connection?.timestampsEnabled == true)
        #expect(connection?.sackEnabled == true)
        #expect(connection?.windowScalingEnabled == true)
    }
}

/// A TUN device moved into a fresh namespace whose kernel is the TCP peer.
final class TCPLinuxPeer {
    static let stackAddress = IPv4Address(192, 0, 2, 2)
    static let namespaceAddress = IPv4Address(192, 0, 2, 1)
    /// linux/if_tun.h: TUNSETIFF = _IOW('T', 202, int); IFF_TUN and IFF_NO_PI flags.
    static let tunSetInterface: UInt = 0x4004_54CA
    static let tunFlags: Int16 = 0x0001 | 0x1000
    /// The maximum time a test may run. The peer scripts time out earlier.
    static let timeLimit = Nanoseconds.seconds(60)
    static let ipv4HeaderLength = 20

    static var isAvailable: Bool {
        getuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0 && access("/usr/sbin/ip", X_OK) == 0
            && (access("/usr/bin/python3", X_OK) == 0)
    }

    private static var counter = 0

    let namespace: String
    let device: String
    let fd: CInt
    let clock = MonotonicTimeSource()
    let layer: TCPLayer

    /// Share of datagrams the shim drops in each direction.
    let lossRate: Double
    private var random = SeededRandom(seed: 99)
    private(set) var droppedIncoming = 0
    var droppedOutgoing: Int { outputDrops.count }
    private let outputDrops = DropCounter()

    init(lossRate: Double = 0, adjust: (inout TCPConfiguration) -> Void = { _ in }) throws {
        self.lossRate = lossRate
        Self.counter += 1
        let tag = "\(getpid() % 100_000)x\(Self.counter)"
        namespace = "capnet-tcp-\(tag)"
        device = "ctcp\(tag)"
        fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK)
        guard fd >= 0 else { throw TCPLinuxPeerError.setup("open /dev/net/tun failed: errno \(errno)") }

        var request = ifreq()
        let deviceName = device
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { name in
            for (i, byte) in deviceName.utf8.prefix(15).enumerated() { name[i] = byte }
        }
        request.ifr_ifru.ifru_flags = Self.tunFlags
        guard ioctl(fd, Self.tunSetInterface, &request) == 0 else {
            close(fd)
            throw TCPLinuxPeerError.setup("TUNSETIFF failed: errno \(errno)")
        }

        var configuration = TCPConfiguration(localAddress: Self.stackAddress, mtu: 1500,
                                             isnHash: TCPTestMixingHash(key: 0x11))
        configuration.minimumRTO = .milliseconds(200)
        adjust(&configuration)
        layer = TCPLayer(configuration: configuration)

        try Self.shell(["/usr/sbin/ip", "netns", "add", namespace])
        try Self.shell(["/usr/sbin/ip", "link", "set", device, "netns", namespace])
        try Self.shell(["/usr/sbin/ip", "-n", namespace, "addr", "add", "\(Self.namespaceAddress)/24", "dev", device])
        try Self.shell(["/usr/sbin/ip", "-n", namespace, "link", "set", device, "up"])
        try Self.shell(["/usr/sbin/ip", "-n", namespace, "link", "set", "lo", "up"])
    }

    /// Removes the namespace (and the device inside it) and closes the TUN fd.
    func tearDown() {
        _ = try? Self.shell(["/usr/sbin/ip", "netns", "del", namespace])
        close(fd)
    }

    @discardableResult
    static func shell(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw TCPLinuxPeerError.setup("\(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    /// Runs `python` inside the namespace while pumping packets between the
    /// TUN device and the layer; `tick` runs after every pump turn.
    /// Runs `python` in the namespace and drives the layer until the script
    /// exits and `until` returns true (data the kernel still sends after the script
    /// closed its socket arrives meanwhile), or the time limit passes.
    func run(python: String, startDelay: Nanoseconds = .zero, until: () -> Bool = { true },
             tick: () -> Void) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, "/usr/bin/python3", "-c", python]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()

        let started = clock.now()
        let tickStart = started + startDelay
        var output = TunOutput(fd: fd, lossRate: lossRate, drops: outputDrops)
        var packet = [UInt8](repeating: 0, count: 65536)
        while process.isRunning || !until() || layer.nextDeadline.map({ $0 <= clock.now() }) == true {
            if clock.now() - started > Self.timeLimit {
                kill(process.processIdentifier, SIGKILL)  // SIGTERM is blocked in children of the test runner.
                break
            }
            // Drain the device.
            while true {
                let n = packet.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                packet.withUnsafeBytes { deliver(UnsafeRawBufferPointer(rebasing: $0[0..<n]), output: &output) }
            }
            if clock.now() >= tickStart { tick() }
            layer.poll(now: clock.now(), output: &output)
            if !process.isRunning && until() { break }

            // Wait for a packet or the next timer, at most 10 ms.
            var waitMilliseconds: Int32 = 10
            if let deadline = layer.nextDeadline {
                let remaining = (deadline - clock.now()).value / 1_000_000
                waitMilliseconds = Int32(max(0, min(Int64(waitMilliseconds), remaining)))
            }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, waitMilliseconds)
        }
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, text)
    }

    /// Checks an IPv4 header and hands the TCP payload to the layer (the shim's receive side).
    private func deliver(_ datagram: UnsafeRawBufferPointer, output: inout TunOutput) {
        guard datagram.count >= Self.ipv4HeaderLength, datagram[0] >> 4 == 4 else { return }
        if random.chance(lossRate) {
            droppedIncoming += 1
            return
        }
        let headerLength = Int(datagram[0] & 0x0F) * 4
        let totalLength = Int(datagram[2]) << 8 | Int(datagram[3])
        guard headerLength >= Self.ipv4HeaderLength, totalLength <= datagram.count, headerLength <= totalLength,
              datagram[9] == IPProtocol.tcp.rawValue else { return }
        let source = IPv4Address(bytes: datagram, offset: 12)
        let destination = IPv4Address(bytes: datagram, offset: 16)
        layer.receive(source: source, destination: destination,
                      payload: UnsafeRawBufferPointer(rebasing: datagram[headerLength..<totalLength]),
                      now: clock.now(), output: &output)
    }
}

enum TCPLinuxPeerError: Error {
    case setup(String)
}

/// Writes IPv4 datagrams (20-byte header, DF, TTL 64) to the TUN device.
final class DropCounter {
    var count = 0
}

struct TunOutput: IPv4Output {
    let fd: CInt
    let lossRate: Double
    let drops: DropCounter
    var random = SeededRandom(seed: 98)
    var identification: UInt16 = 1

    mutating func send(source: IPv4Address, destination: IPv4Address, protocolNumber: IPProtocol,
                       payloadLength: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
        let total = TCPLinuxPeer.ipv4HeaderLength + payloadLength
        var datagram = [UInt8](repeating: 0, count: total)
        identification &+= 1
        datagram.withUnsafeMutableBytes { bytes in
            bytes[0] = 0x45
            bytes[2] = UInt8(total >> 8)
            bytes[3] = UInt8(total & 0xFF)
            bytes[4] = UInt8(identification >> 8)
            bytes[5] = UInt8(identification & 0xFF)
            bytes[6] = 0x40  // DF
            bytes[8] = 64
            bytes[9] = protocolNumber.rawValue
            source.write(to: bytes, offset: 12)
            destination.write(to: bytes, offset: 16)
            let checksum = InternetChecksum.compute(UnsafeRawBufferPointer(rebasing: bytes[0..<20]))
            bytes[10] = UInt8(checksum >> 8)
            bytes[11] = UInt8(checksum & 0xFF)
            fill(UnsafeMutableRawBufferPointer(rebasing: bytes[20...]))
        }
        if random.chance(lossRate) {
            drops.count += 1
            return true  // lost on the wire, as far as the sender can tell
        }
        let written = datagram.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return written == total
    }
}
