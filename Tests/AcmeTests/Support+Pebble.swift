import Foundation
import Glibc
@testable import Acme

/// A Pebble test CA on loopback, started with its own TLS certificate and
/// configuration in a temporary directory. `stop()` kills it.
final class PebbleProcess: @unchecked Sendable {
    let process = Process()
    let listenPort: UInt16
    let managementPort: UInt16
    let tlsCertificate: String
    private let output = DataBox()
    private let lock = NSLock()
    /// Upper bound on waiting for Pebble's "directory available" line.
    static let startTimeoutSeconds = 30.0
    static let readyLine = "ACME directory available at"

    var directoryURL: String { "https://127.0.0.1:\(listenPort)/dir" }
    var managementURL: String { "https://127.0.0.1:\(managementPort)" }
    var log: String { lock.withLock { String(decoding: output.data, as: UTF8.self) } }

    /// Starts Pebble; `environment` adds variables such as PEBBLE_ALTERNATE_ROOTS.
    init(directory: TemporaryDirectory, httpPort: UInt16, macKeys: [String: String] = [:],
         environment: [String: String] = [:]) throws {
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

        process.executableURL = URL(fileURLWithPath: "/usr/bin/pebble")
        process.arguments = ["-config", configFile]
        var variables = ProcessInfo.processInfo.environment
        variables["PEBBLE_VA_NOSLEEP"] = "1"
        variables["PEBBLE_WFE_NONCEREJECT"] = "20"
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
            if text.contains(Self.readyLine) { ready.signal() }
        }
        try process.run()
        if ready.wait(timeout: .now() + Self.startTimeoutSeconds) == .timedOut || !log.contains(Self.readyLine) {
            stop()
            throw ACMEError.transportFailed(url: directoryURL, detail: "Pebble did not start: \(log)")
        }
    }

    /// Kills Pebble and waits for it to exit.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Fetches a management resource, for example "/roots/0".
    func management(_ path: String) throws -> String {
        try runChecked(["curl", "-sS", "--max-time", "10", "--cacert", tlsCertificate, managementURL + path]).output
    }
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
