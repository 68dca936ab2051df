import CapnetBase
import Dispatch
import Foundation
import Glibc
@testable import NetStack

/// Runs scapy (Debian's python3-scapy 2.5.0) so that expected DNS bytes come
/// from an implementation independent of ours.
enum Scapy {
    static let python = "/usr/bin/python3"
    /// The wait for one python3 run; importing scapy takes about a second.
    static let timeoutSeconds = 60.0

    /// Runs the Python statements `body` after importing scapy's DNS layer.
    /// They fill the dict `V` with name → packet or bytes, and the result maps each name to its octets.
    static func build(_ body: String) throws -> [String: [UInt8]] {
        let script = """
        from scapy.all import DNS, DNSQR, DNSRR, Ether, IP, UDP, raw
        V = {}
        \(body)
        for name, value in V.items():
            octets = value if isinstance(value, bytes) else raw(value)
            print(name, octets.hex())
        """
        let output = try runProcess([python, "-c", script], timeoutSeconds: timeoutSeconds)
        var vectors: [String: [UInt8]] = [:]
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 2 else { continue }
            vectors[String(fields[0])] = hexBytes(String(fields[1]))
        }
        return vectors
    }
}

struct DNSTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command to completion and returns its standard output; throws
/// with the output when it exits non-zero or outlives `timeoutSeconds`.
func runProcess(_ arguments: [String], timeoutSeconds: Double) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: arguments[0])
    process.arguments = Array(arguments.dropFirst())
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    try process.run()

    // Read while the process runs, so a full pipe cannot block it.
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    if exited.wait(timeout: .now() + timeoutSeconds) == .timedOut {
        kill(process.processIdentifier, SIGKILL)  // SIGTERM is blocked in children of the test runner.
        process.waitUntilExit()
        throw DNSTestFailure("\(arguments[0]) did not finish within \(timeoutSeconds) s")
    }
    let text = String(decoding: outputData, as: UTF8.self)
    guard process.terminationStatus == 0 else {
        throw DNSTestFailure("\(arguments.prefix(3).joined(separator: " ")) exited with \(process.terminationStatus): \(String(decoding: errorData, as: UTF8.self))")
    }
    return text
}

/// A server process that counts as started once a given line appears in its
/// output. `stop()` kills it with SIGKILL.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var collected = Data()
    /// The wait for the ready line.
    static let startTimeoutSeconds = 30.0

    var log: String { lock.withLock { String(decoding: collected, as: UTF8.self) } }

    init(_ arguments: [String], readyLine: String) throws {
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe

        let ready = DispatchSemaphore(value: 0)
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self else { return }
            if chunk.isEmpty {
                handle.readabilityHandler = nil
                ready.signal()
                return
            }
            let text = self.lock.withLock { () -> String in
                self.collected.append(chunk)
                return String(decoding: self.collected, as: UTF8.self)
            }
            if text.contains(readyLine) { ready.signal() }
        }
        try process.run()
        if ready.wait(timeout: .now() + Self.startTimeoutSeconds) == .timedOut || !log.contains(readyLine) {
            stop()
            throw DNSTestFailure("\(arguments[0]) did not print \"\(readyLine)\" within \(Self.startTimeoutSeconds) s: \(log)")
        }
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Returns a port on 127.0.0.1 that was free for both UDP and TCP a moment ago.
func freeLoopbackPort() throws -> UInt16 {
    for _ in 0..<16 {
        let udp = try boundLoopbackSocket(type: SOCK_DGRAM, port: 0)
        defer { close(udp.descriptor) }
        if let tcp = try? boundLoopbackSocket(type: SOCK_STREAM, port: udp.port) {
            close(tcp.descriptor)
            return udp.port
        }
    }
    throw DNSTestFailure("no port on 127.0.0.1 free for both UDP and TCP after 16 tries")
}

private func loopbackAddress(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = port.bigEndian
    return address
}

private func boundLoopbackSocket(type: __socket_type, port: UInt16) throws -> (descriptor: Int32, port: UInt16) {
    let descriptor = socket(AF_INET, Int32(type.rawValue), 0)
    guard descriptor >= 0 else { throw DNSTestFailure("socket() failed: errno \(errno)") }
    var address = loopbackAddress(port: port)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else {
        close(descriptor)
        throw DNSTestFailure("bind to 127.0.0.1:\(port) failed: errno \(errno)")
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(descriptor, $0, &length) }
    }
    return (descriptor, UInt16(bigEndian: address.sin_port))
}

/// Sends `payload` from a kernel UDP socket to 127.0.0.1:`port` and returns
/// the first datagram that comes back. It sends up to `attempts` times, one
/// second apart, because pebble-challtestsrv prints its ready line before its
/// UDP listener is necessarily up.
func exchangeOverLoopbackUDP(_ payload: [UInt8], port: UInt16, attempts: Int = 5) throws -> [UInt8] {
    let (descriptor, _) = try boundLoopbackSocket(type: SOCK_DGRAM, port: 0)
    defer { close(descriptor) }
    var timeout = timeval(tv_sec: 1, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

    var destination = loopbackAddress(port: port)
    var buffer = [UInt8](repeating: 0, count: 65535)
    for _ in 0..<attempts {
        let sent = payload.withUnsafeBytes { bytes in
            withUnsafePointer(to: &destination) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard sent == payload.count else { throw DNSTestFailure("sendto 127.0.0.1:\(port) failed: errno \(errno)") }

        let received = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if received >= 0 { return Array(buffer[0..<received]) }
        guard errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED else {
            throw DNSTestFailure("recv from 127.0.0.1:\(port) failed: errno \(errno)")
        }
    }
    throw DNSTestFailure("no UDP response from 127.0.0.1:\(port) after \(attempts) attempts one second apart")
}

/// pebble-challtestsrv serving DNS only, on 127.0.0.1 or another address
/// given with `host`, run inside `namespace` when one is given.
final class ChallengeTestServer {
    let dnsPort: UInt16
    let managementPort: UInt16
    let host: String
    private let child: ServerProcess

    init(host: String = "127.0.0.1", dnsPort: UInt16? = nil, namespace: String? = nil) throws {
        self.host = host
        self.dnsPort = try dnsPort ?? freeLoopbackPort()
        managementPort = try freeLoopbackPort()
        var command = ["/usr/bin/pebble-challtestsrv", "-dns01", "\(host):\(self.dnsPort)", "-http01", "", "-https01", "",
                       "-tlsalpn01", "", "-management", "127.0.0.1:\(managementPort)",
                       "-defaultIPv4", "192.0.2.2", "-defaultIPv6", ""]
        if let namespace { command = ["/usr/sbin/ip", "netns", "exec", namespace] + command }
        child = try ServerProcess(command, readyLine: "Starting management server")
    }

    /// Adds A records through the management API (POST /add-a), which the
    /// server runs on loopback in its own network namespace.
    func addA(host name: String, addresses: [String], namespace: String? = nil) throws {
        let body = "{\"host\":\"\(name)\",\"addresses\":[\(addresses.map { "\"\($0)\"" }.joined(separator: ","))]}"
        var command = ["/usr/bin/curl", "-sS", "--fail", "--max-time", "10", "-d", body,
                       "http://127.0.0.1:\(managementPort)/add-a"]
        if let namespace { command = ["/usr/sbin/ip", "netns", "exec", namespace] + command }
        _ = try runProcess(command, timeoutSeconds: 20)
    }

    var log: String { child.log }

    func stop() { child.stop() }
}
