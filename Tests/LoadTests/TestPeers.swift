import Foundation
import Synchronization
import Testing
@testable import capnet_load

/// A directory under the system temporary directory, removed on deinit.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/capnet-load-test-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else { throw PeerError("mkdtemp failed") }
        path = String(cString: created)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

struct PeerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Maximum time a program started by a test may run before it is killed, so a
/// hung capnet-load fails its test instead of stalling the suite.
let programTimeLimit: TimeInterval = 120

/// Runs a program to completion and returns its exit status and output.
/// The program is killed after `programTimeLimit` seconds.
@discardableResult
func runProgram(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let processIdentifier = process.processIdentifier
    let watchdog = DispatchWorkItem { kill(processIdentifier, SIGKILL) }
    DispatchQueue.global().asyncAfter(deadline: .now() + programTimeLimit, execute: watchdog)
    defer { watchdog.cancel() }

    // Read to the end before waiting, so a full pipe cannot block the child.
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outputData, as: UTF8.self),
            String(decoding: errorData, as: UTF8.self))
}

/// Finds a program in the usual Debian directories.
func programPath(_ name: String) -> String? {
    for directory in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/sbin"] {
        let path = directory + "/" + name
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// A self-signed ECDSA P-256 certificate for localhost and 127.0.0.1, made
/// by the openssl command, which doubles as its own CA certificate.
struct TestCertificate {
    let certificatePath: String
    let keyPath: String

    init(in directory: TemporaryDirectory, name: String) throws {
        certificatePath = directory.file(name + "-cert.pem")
        keyPath = directory.file(name + "-key.pem")
        let result = try runProgram(programPath("openssl") ?? "/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", keyPath, "-out", certificatePath, "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        guard result.status == 0 else { throw PeerError("openssl req failed: \(result.error)") }
    }
}

/// `openssl s_server -www -tls1_3` on 127.0.0.1 and a port the kernel picks,
/// stopped on deinit.
final class OpenSSLTestServer {
    /// Maximum wait for the server to print its listening address.
    static let startTimeout: TimeInterval = 10

    let process = Process()
    private(set) var port: UInt16 = 0

    init(certificate: TestCertificate, extraArguments: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: programPath("openssl") ?? "/usr/bin/openssl")
        process.arguments = ["s_server", "-accept", "127.0.0.1:0", "-cert", certificate.certificatePath,
                             "-key", certificate.keyPath, "-www", "-tls1_3"] + extraArguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice

        // s_server prints "ACCEPT 127.0.0.1:PORT" once it listens; the
        // handler keeps draining its output afterwards.
        let announced = DispatchSemaphore(value: 0)
        let text = Mutex("")
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil; return }
            let seen = text.withLock { buffer -> Bool in
                guard buffer.count < 4096 else { return false }
                buffer += String(decoding: data, as: UTF8.self)
                return buffer.contains("ACCEPT") && buffer.contains("\n")
            }
            if seen { announced.signal() }
        }
        try process.run()

        guard announced.wait(timeout: .now() + Self.startTimeout) == .success else {
            stop()
            throw PeerError("openssl s_server did not report its port within \(Self.startTimeout) s")
        }
        let line = text.withLock { $0 }.split(separator: "\n").first { $0.hasPrefix("ACCEPT") } ?? ""
        guard let portText = line.split(separator: ":").last, let port = UInt16(portText) else {
            stop()
            throw PeerError("cannot read the port from s_server output '\(line)'")
        }
        self.port = port
    }

    /// Kills the server. SIGKILL because the test runner's threads block
    /// SIGTERM and spawned children inherit that signal mask.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

/// A TCP port on 127.0.0.1 that is bound but not listening, so connections
/// to it are refused; or listening but never accepting, so TLS stalls.
final class LocalPort {
    let descriptor: Int32
    let port: UInt16

    init(listening: Bool) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw PeerError("bind failed: errno \(errno)") }
        if listening { listen(descriptor, 16) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(descriptor, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(descriptor) }
}

/// Returns the path of the capnet-load binary built beside the test bundle.
func loadToolPath() -> String {
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("capnet-load").path
}

/// Runs capnet-load with `--json` and decodes its summary.
func runLoad(_ arguments: [String]) throws -> (status: Int32, summary: LoadSummary) {
    let result = try runProgram(loadToolPath(), ["--json"] + arguments)
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    guard let summary = try? decoder.decode(LoadSummary.self, from: Data(result.output.utf8)) else {
        throw PeerError("capnet-load exited with \(result.status) and printed no summary: \(result.error)")
    }
    return (result.status, summary)
}
