import Foundation
import Testing
import CapnetBase
@testable import NIC

/// Whether the namespace tests can run here, and why not.
enum Privileges {
    static let isRoot = getuid() == 0
    static let hasTun = access("/dev/net/tun", F_OK) == 0
    static let canUseNamespaces = isRoot && hasTun
    static var skipReason: Comment {
        if !isRoot { return "needs root: the test creates network namespaces and tap devices" }
        if !hasTun { return "needs /dev/net/tun (load the tun module)" }
        return "runs"
    }
}

/// The result of a finished command.
struct CommandResult {
    var status: Int32
    var output: String
}

/// Runs commands with a time limit; output (stdout and stderr) goes through
/// a temporary file so a chatty command never blocks on a full pipe.
enum Shell {
    @discardableResult
    static func run(_ arguments: [String], timeout: TimeInterval = 20, check: Bool = true) throws -> CommandResult {
        let process = try BackgroundProcess(arguments)
        let result = process.wait(timeout: timeout)
        if check && result.status != 0 {
            throw TestFailure("command failed (\(result.status)): \(arguments.joined(separator: " "))\n\(result.output)")
        }
        return result
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A child process that is always ended: `wait` kills it at its time limit,
/// and `deinit` kills it if nobody waited.
final class BackgroundProcess {
    let arguments: [String]
    private let process = Process()
    private let outputURL: URL
    private var finished: CommandResult?

    init(_ arguments: [String]) throws {
        self.arguments = arguments
        outputURL = FileManager.default.temporaryDirectory
            .appendingPathComponent("capnet-nic-cmd-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: outputURL)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try handle.close()
    }

    /// Waits for the process to exit, killing it after `timeout` seconds.
    func wait(timeout: TimeInterval) -> CommandResult {
        if let finished { return finished }
        let giveUp = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < giveUp { usleep(10_000) }
        var killed = false
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            killed = true
        }
        process.waitUntilExit()
        var output = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
        if killed { output += "\n[killed after \(timeout)s]" }
        try? FileManager.default.removeItem(at: outputURL)
        let result = CommandResult(status: killed ? -1 : process.terminationStatus, output: output)
        finished = result
        return result
    }

    deinit { _ = wait(timeout: 0) }
}

/// A network namespace made for one test and removed (with every interface
/// in it) by `remove`, which the test calls in a `defer`.
final class TestNamespace {
    let name: String
    private var links: [String] = []
    private static let counter = Counter()

    /// Serializes `ip netns add` within this process: the first one on a
    /// fresh machine also creates and mounts /run/netns, and parallel tests
    /// should not race on that.
    private static let addLock = NSLock()

    init() throws {
        name = "capnet-nic-\(getpid())-\(TestNamespace.counter.next())"
        TestNamespace.addLock.lock()
        defer { TestNamespace.addLock.unlock() }
        try Shell.run(["ip", "netns", "add", name])
        do {
            try exec(["ip", "link", "set", "lo", "up"])
        } catch {
            _ = try? Shell.run(["ip", "netns", "del", name], check: false)
            throw error
        }
    }

    @discardableResult
    func exec(_ arguments: [String], timeout: TimeInterval = 20, check: Bool = true) throws -> CommandResult {
        try Shell.run(["ip", "netns", "exec", name] + arguments, timeout: timeout, check: check)
    }

    /// Creates a tap, gives the kernel side `address` and brings it up.
    func addTap(_ tap: String, address: String? = "192.0.2.1/24") throws {
        try exec(["ip", "tuntap", "add", "dev", tap, "mode", "tap"])
        links.append(tap)
        if let address { try exec(["ip", "addr", "add", address, "dev", tap]) }
        try exec(["ip", "link", "set", tap, "up"])
    }

    /// Creates a veth pair; `peer` gets `address` and both come up.
    func addVethPair(_ local: String, _ peer: String, peerAddress: String = "192.0.2.1/24") throws {
        try exec(["ip", "link", "add", local, "type", "veth", "peer", "name", peer])
        links.append(local)
        try exec(["ip", "addr", "add", peerAddress, "dev", peer])
        try exec(["ip", "link", "set", local, "up"])
        try exec(["ip", "link", "set", peer, "up"])
    }

    func background(_ arguments: [String]) throws -> BackgroundProcess {
        try BackgroundProcess(["ip", "netns", "exec", name] + arguments)
    }

    func remove() {
        for link in links {
            _ = try? exec(["ip", "link", "del", link], check: false)
        }
        _ = try? Shell.run(["ip", "netns", "del", name], check: false)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
        lock.lock(); defer { lock.unlock() }
        value += 1
        return value
    }
}

/// A temporary directory removed by `remove`.
struct TemporaryDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("capnet-nic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func remove() { try? FileManager.default.removeItem(at: url) }
}

func monotonicNow() -> Instant { MonotonicTimeSource().now() }

extension FrameDevice {
    /// Copies `bytes` into a pool slot and transmits it.
    func send(_ bytes: [UInt8], now: Instant = monotonicNow()) throws {
        guard let slot = pool.allocate() else { throw TestFailure("pool exhausted on \(name)") }
        let buffer = pool.buffer(slot)
        buffer.copyBytes(from: bytes)
        var batch = FrameBatch(capacity: 1)
        batch.append(Frame(slot: slot, length: bytes.count))
        try transmit(&batch, now: now)
    }

    /// Receives whatever is waiting (without blocking) as byte arrays.
    func receiveAll(now: Instant = monotonicNow(), max: Int = 64) throws -> [[UInt8]] {
        var batch = FrameBatch(capacity: max)
        _ = try receive(into: &batch, now: now)
        var frames: [[UInt8]] = []
        for i in 0..<batch.count { frames.append(Array(pool.bytes(batch[i]))) }
        batch.releaseAll(to: pool)
        return frames
    }

    /// Waits (real time) until `match` accepts a received frame, up to
    /// `timeout` seconds; frames it rejects are discarded.
    func receiveFirst(timeout: Double, where match: ([UInt8]) -> Bool) throws -> [UInt8]? {
        let giveUp = monotonicNow() + Nanoseconds(Int64(timeout * 1e9))
        while true {
            let now = monotonicNow()
            for frame in try receiveAll(now: now) where match(frame) { return frame }
            if now >= giveUp { return nil }
            try wait(until: min(giveUp, now + .milliseconds(100)), now: monotonicNow())
        }
    }
}

/// Frame builders and readers written out by hand from the RFCs, kept apart
/// from NetStack so these tests check the device against the wire format.
enum Wire {
    static func u16(_ b: [UInt8], _ o: Int) -> Int { Int(b[o]) << 8 | Int(b[o + 1]) }
    static func mac(_ b: [UInt8], _ o: Int) -> MACAddress {
        MACAddress(b[o], b[o + 1], b[o + 2], b[o + 3], b[o + 4], b[o + 5])
    }
    static func bytes(_ mac: MACAddress) -> [UInt8] { (0..<6).map { mac.octet($0) } }

    static func isARP(_ f: [UInt8]) -> Bool { f.count >= 42 && u16(f, 12) == 0x0806 }

    static func isICMPEchoRequest(_ f: [UInt8]) -> Bool {
        f.count >= 42 && u16(f, 12) == 0x0800 && f[14] >> 4 == 4 && f[23] == 1
            && f[14 + Int(f[14] & 0x0F) * 4] == 8
    }

    /// An ARP reply (RFC 826) from `sender` to `target`, padded to 60 bytes.
    static func arpReply(senderMAC: MACAddress, senderIP: [UInt8], targetMAC: MACAddress, targetIP: [UInt8]) -> [UInt8] {
        var f: [UInt8] = bytes(targetMAC) + bytes(senderMAC) + [0x08, 0x06]
        f += [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02]
        f += bytes(senderMAC) + senderIP + bytes(targetMAC) + targetIP
        while f.count < 60 { f.append(0) }
        return f
    }

    static func checksum(_ b: ArraySlice<UInt8>) -> UInt16 {
        var sum: UInt32 = 0
        var i = b.startIndex
        while i + 1 < b.endIndex { sum += UInt32(b[i]) << 8 | UInt32(b[i + 1]); i += 2 }
        if i < b.endIndex { sum += UInt32(b[i]) << 8 }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// Turns an ICMP echo request frame into the echo reply (RFC 792).
    static func echoReply(to request: [UInt8], from mac: MACAddress) -> [UInt8] {
        var f = request
        let ihl = Int(f[14] & 0x0F) * 4
        let total = u16(f, 16)
        f.replaceSubrange(0..<6, with: request[6..<12])
        f.replaceSubrange(6..<12, with: bytes(mac))
        f.replaceSubrange(26..<30, with: request[30..<34])
        f.replaceSubrange(30..<34, with: request[26..<30])
        f[22] = 64
        f[24] = 0; f[25] = 0
        let ipSum = checksum(f[14..<(14 + ihl)])
        f[24] = UInt8(ipSum >> 8); f[25] = UInt8(ipSum & 0xFF)
        let icmp = 14 + ihl
        f[icmp] = 0
        f[icmp + 2] = 0; f[icmp + 3] = 0
        let icmpSum = checksum(f[icmp..<(14 + total)])
        f[icmp + 2] = UInt8(icmpSum >> 8); f[icmp + 3] = UInt8(icmpSum & 0xFF)
        return Array(f[0..<(14 + total)])
    }
}
