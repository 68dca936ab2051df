import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A network namespace with a tap device that a test creates for itself, and
/// removes when it ends: the kernel side of the tap is the peer capnet talks to.
///
/// Addresses come from the documentation range 192.0.2.0/24 only, and all
/// traffic stays inside the namespace.
final class NamespaceLab {
    static let kernelAddress = "192.0.2.1"
    static let stackAddress = "192.0.2.2"
    static let prefixLength = 24
    static let tapName = "tap0"

    /// Why the namespace tests cannot run here, or nil when they can.
    static let unavailableReason: String? = {
        if geteuid() != 0 { return "namespace tests need root (for ip netns and tap devices)" }
        if access("/dev/net/tun", F_OK) != 0 { return "namespace tests need /dev/net/tun" }
        if Shell.which("ip") == nil { return "namespace tests need the ip command (Debian package iproute2)" }
        return nil
    }()

    static var isAvailable: Bool { unavailableReason == nil }

    private static let counter = Atomic<Int>(0)

    let name: String
    private var processes: [ManagedProcess] = []

    /// Creates the namespace and a tap device in it with the kernel side at
    /// 192.0.2.1/24, link up.
    init(tag: String) throws {
        let serial = Self.counter.add(1, ordering: .relaxed).newValue
        name = "capnet-\(tag)-\(getpid())-\(serial)"
        try Shell.run(["ip", "netns", "add", name])
        do {
            try exec(["ip", "link", "set", "lo", "up"])
            try exec(["ip", "tuntap", "add", "dev", Self.tapName, "mode", "tap"])
            try exec(["ip", "addr", "add", "\(Self.kernelAddress)/\(Self.prefixLength)", "dev", Self.tapName])
            try exec(["ip", "link", "set", Self.tapName, "up"])
        } catch {
            _ = try? Shell.run(["ip", "netns", "del", name])
            throw error
        }
    }

    deinit { tearDown() }

    /// Stops every process this lab started, then deletes the namespace
    /// (which deletes the tap with it). Safe to call twice.
    func tearDown() {
        for process in processes { process.stop() }
        processes.removeAll()
        _ = try? Shell.run(["ip", "netns", "del", name])
    }

    /// Runs a command inside the namespace and returns its output; throws when
    /// it exits non-zero or outlives `timeout` seconds.
    @discardableResult
    func exec(_ command: [String], timeout: Int = 30, allowFailure: Bool = false) throws -> Shell.Result {
        try Shell.run(["ip", "netns", "exec", name, "timeout", "--kill-after=5", String(timeout)] + command,
                      allowFailure: allowFailure)
    }

    /// Starts `command` inside the namespace with `environment` added, and
    /// waits until its output contains `readyMarker`. `stopGrace` is how long
    /// a stop waits after SIGTERM before SIGKILL: 0 for peers that inherit the
    /// test runner's blocked SIGTERM.
    func startProcess(_ command: [String], environment: [String: String] = [:], readyMarker: String,
                      timeout: TimeInterval = 30, stopGrace: TimeInterval = 0) throws -> ManagedProcess {
        let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let process = try ManagedProcess(assignments + ["ip", "netns", "exec", name] + command)
        process.stopGrace = stopGrace
        processes.append(process)
        try process.waitForOutput(containing: readyMarker, timeout: timeout)
        return process
    }

    /// Starts `capnet serve` inside the namespace and waits until it logs
    /// that it is ready.
    func startCapnet(_ arguments: [String], readyMarker: String = "serving",
                     timeout: TimeInterval = 30) throws -> ManagedProcess {
        let process = try ManagedProcess(
            ["ip", "netns", "exec", name, Shell.capnetBinary, "serve"] + arguments)
        processes.append(process)
        try process.waitForOutput(containing: readyMarker, timeout: timeout)
        return process
    }
}
