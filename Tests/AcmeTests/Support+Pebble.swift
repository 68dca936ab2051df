import Foundation
import Glibc
@testable import Acme

/// A child process whose output is collected, started only once a given
/// line appears in its output. `stop()` kills it.
final class ReadyProcess: @unchecked Sendable {
    let process = Process()
    private let output = DataBox()
    private let lock = NSLock()
    /// Upper bound on waiting for the ready line.
    static let startTimeoutSeconds = 30.0

    var log: String { lock.withLock { String(decoding: output.data, as: UTF8.self) } }

    init(executable: String, arguments: [String], environment: [String: String] = [:], readyLine: String) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var variables = ProcessInfo.processInfo.environment
        for (name, value) in environment { variables[name] = value }
        process.environment = variables
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe

        let ready = DispatchSemaphore(value: 0)
        pipe.fileHandleForReading.readabilityHandler = { [output, lock] handle in
            let chunk = handle.availableData
            if chunk.isEmpty {
                handle.readabilityHandler = nil
                ready.signal()
                return
            }
            let text = lock.withLock { () -> String in
                output.data.append(chunk)
                return String(decoding: output.data, as: UTF8.self)
            }
            if text.contains(readyLine) { ready.signal() }
        }
        try process.run()
        if ready.wait(timeout: .now() + Self.startTimeoutSeconds) == .timedOut || !log.contains(readyLine) {
            stop()
            throw ACMEError.transportFailed(url: executable, detail: "\(executable) did not start: \(log)")
        }
    }

    /// Kills the process and waits for it to exit.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// A Pebble test CA on loopback, started with its own TLS certificate and
/// configuration in a temporary directory. `stop()` kills it.
final class PebbleProcess {
    let listenPort: UInt16
    let managementPort: UInt16
    let tlsCertificate: String
    private var child: ReadyProcess?

    var directoryURL: String { "https://127.0.0.1:\(listenPort)/dir" }
    var managementURL: String { "https://127.0.0.1:\(managementPort)" }
    var log: String { child?.log ?? "" }

    /// Starts Pebble. `environment` adds variables such as
    /// PEBBLE_ALTERNATE_ROOTS, and `dnsServer` is passed as -dnsserver.
    init(directory: TemporaryDirectory, httpPort: UInt16, macKeys: [String: String] = [:],
         environment: [String: String] = [:], dnsServer: String? = nil) throws {
        tlsCertificate = directory.file("pebble-cert.pem")
        let tlsKey = directory.file("pebble-key.pem")
        try runChecked(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", tlsKey, "-out", tlsCertificate, "-subj", "/CN=localhost", "-days", "2",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        listenPort = try freeLoopbackPort()
        managementPort = try freeLoopbackPort()

        let config: [String: Any] = ["pebble": [
            "listenAddress": "127.0.0.1:\(listenPort)",
            "managementListenAddress": "127.0.0.1:\(managementPort)",
            "certificate": tlsCertificate,
            "privateKey": tlsKey,
            "httpPort": Int(httpPort),
            // Unused because only http-01 is served. Nothing listens on this port.
            "tlsPort": Int(httpPort) + 1,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": !macKeys.isEmpty,
            "externalAccountMACKeys": macKeys,
        ] as [String: Any]]
        let configFile = directory.file("pebble-config.json")
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configFile))

        var variables = ["PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "20"]
        for (name, value) in environment { variables[name] = value }
        var arguments = ["-config", configFile]
        if let dnsServer { arguments += ["-dnsserver", dnsServer] }
        child = try ReadyProcess(executable: "/usr/bin/pebble", arguments: arguments, environment: variables,
                                 readyLine: "ACME directory available at")
    }

    func stop() { child?.stop() }

    /// Fetches a management resource, for example "/roots/0".
    func management(_ path: String) throws -> String {
        try runChecked(["curl", "-sS", "--max-time", "10", "--cacert", tlsCertificate, managementURL + path]).output
    }
}

/// pebble-challtestsrv as a DNS server only, answering every A query with
/// 127.0.0.1 and no AAAA records, so DNS identifiers validate on loopback.
final class ChallengeTestDNS {
    let dnsPort: UInt16
    private let child: ReadyProcess

    var address: String { "127.0.0.1:\(dnsPort)" }

    init() throws {
        dnsPort = try freeLoopbackPort()
        let managementPort = try freeLoopbackPort()
        child = try ReadyProcess(executable: "/usr/bin/pebble-challtestsrv",
                                 arguments: ["-dns01", "127.0.0.1:\(dnsPort)", "-http01", "", "-https01", "",
                                             "-tlsalpn01", "", "-management", "127.0.0.1:\(managementPort)",
                                             "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
                                 readyLine: "Starting management server")
    }

    func stop() { child.stop() }
}

/// Returns a TCP port on 127.0.0.1 that was free a moment ago: bound to port 0 and closed.
func freeLoopbackPort() throws -> UInt16 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw ACMEError.transportFailed(url: "127.0.0.1", detail: "cannot bind port 0") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(descriptor, $0, &length) }
    }
    return UInt16(bigEndian: address.sin_port)
}
