import CapnetBase
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The QEMU image from `image/build`, booted with `image/run`: UDP echo
/// (RFC 862) through the 127.0.0.1:8007 forward and HTTPS through the
/// 127.0.0.1:8443 forward cross QEMU's user network, the virtio-net device,
/// capnet's VFIO driver and its stack. The suite skips when QEMU or the
/// image is missing, and never builds the image (tools/test does).
///
/// Serialized: each test boots its own guest, and two guests cannot share
/// the forwarded host ports.
@Suite(.serialized,
       .enabled(if: QEMUImage.unavailableReason == nil, Comment(rawValue: QEMUImage.unavailableReason ?? "")),
       .timeLimit(.minutes(5)))
struct ImageQEMUTests {
    @Test func udpEchoThroughForward() throws {
        try QEMUImage.boot()
        defer { QEMUImage.stop() }

        let serial = try String(contentsOfFile: QEMUImage.serialLog, encoding: .utf8)
        #expect(serial.contains(" main: UDP echo service bound port=7"))
        #expect(serial.contains("address=192.0.2.15/24 gateway=192.0.2.2"))

        // Sizes: one byte, the largest payload in one 1500-byte frame
        // (1500 - 20 IPv4 - 8 UDP), and one that both sides fragment.
        var random = SeededRandom(seed: 862)
        for size in [1, 1472, 4000] {
            let payload = (0..<size).map { _ in UInt8.random(in: .min ... .max, using: &random) }
            let reply = try UDPEchoClient.exchange(payload, port: QEMUImage.udpForwardPort)
            #expect(reply.count == size, "reply size for \(size) bytes sent")
            #expect(reply == payload, "reply bytes for \(size) bytes sent")
        }
    }

    /// `/healthz` over HTTPS from the host with curl, which verifies the
    /// Web UI's certificate against the development CA the guest prints on
    /// its console. The serial log must also show what the driver agreed
    /// with QEMU's virtio-net-pci device.
    @Test func httpsHealthzWithGuestCertificate() throws {
        try QEMUImage.boot()
        defer { QEMUImage.stop() }

        let certificate = try QEMUImage.waitForGuestCA()
        let caFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("capnet-guest-ca-\(getpid()).pem").path
        try certificate.write(toFile: caFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: caFile) }

        // The certificate names localhost, so curl connects to the forward
        // under that name and checks the name as a browser would.
        let result = try Shell.run(["curl", "--silent", "--show-error", "--max-time", "20",
                                    "--cacert", caFile,
                                    "--resolve", "localhost:\(QEMUImage.httpsForwardPort):127.0.0.1",
                                    "--write-out", "\n%{http_code}",
                                    "https://localhost:\(QEMUImage.httpsForwardPort)/healthz"],
                                   allowFailure: true)
        // The body, then the status code on its own line (--write-out).
        let body = result.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().joined(separator: "\n")
        let statusCode = result.output.split(separator: "\n", omittingEmptySubsequences: false).last
        #expect(result.status == 0, "curl failed: \(result.errorOutput)")
        #expect(statusCode == "200", "curl output: \(result.output)")
        #expect(body == "ok", "curl output: \(result.output)")

        // QEMU 7.2's virtio-net-pci with iommu_platform=on offers every
        // feature the driver supports except CSUM and GUEST_CSUM, which it
        // withdraws because the user network back end takes no virtio-net
        // header. Its receive and transmit queues default to 256 entries,
        // the driver's own limit.
        let serial = try String(contentsOfFile: QEMUImage.serialLog, encoding: .utf8)
        let ready = try #require(serial.split(whereSeparator: \.isNewline).first { $0.contains(" nic: virtio-net device ready ") },
                                 "no 'virtio-net device ready' line in \(QEMUImage.serialLog)")
        let fields = QEMUImage.logFields(ready)
        #expect(fields["features"] == "MAC,MRG_RXBUF,STATUS,EVENT_IDX,VERSION_1,ACCESS_PLATFORM",
                "features in: \(ready)")
        #expect(fields["rx_queue"] == "256", "receive queue size in: \(ready)")
        #expect(fields["tx_queue"] == "256", "transmit queue size in: \(ready)")
    }
}

/// Boots and stops the image through the scripts in `image/`.
enum QEMUImage {
    static let imageDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("image").path
    static let serialLog = imageDirectory + "/out/serial.log"
    static let udpForwardPort: UInt16 = 8007
    static let httpsForwardPort: UInt16 = 8443
    static let httpForwardPort: UInt16 = 8080

    /// Why the image tests cannot run here, or nil when they can.
    static let unavailableReason: String? = {
        if Shell.which("qemu-system-x86_64") == nil {
            return "image tests need qemu-system-x86_64 (Debian package qemu-system-x86)"
        }
        for file in ["vmlinuz", "initramfs.gz"]
        where !FileManager.default.fileExists(atPath: "\(imageDirectory)/out/\(file)") {
            return "image tests need a built image: run image/build (missing image/out/\(file))"
        }
        if FileManager.default.fileExists(atPath: "\(imageDirectory)/out/qemu.pid") {
            return "the image is already running (image/out/qemu.pid exists); stop it with image/run --stop"
        }
        for (port, type) in [(httpsForwardPort, SOCK_STREAM), (httpForwardPort, SOCK_STREAM), (udpForwardPort, SOCK_DGRAM)]
        where !isLoopbackPortFree(port, type: Int32(type.rawValue)) {
            return "127.0.0.1:\(port) is in use, so QEMU cannot forward it (another image run, maybe from another checkout)"
        }
        return nil
    }()

    /// Returns whether a socket of `type` can bind 127.0.0.1:`port` now.
    static func isLoopbackPortFree(_ port: UInt16, type: Int32) -> Bool {
        let descriptor = socket(AF_INET, type, 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        // A connection of an earlier run in TIME_WAIT would fail a plain bind
        // but not QEMU's listener (libslirp sets SO_REUSEADDR), so set it too.
        var reuse: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// Seconds to wait for the init to print the development CA, which
    /// it does once capnet has written it, possibly after the serving line.
    static let caPrintTimeout: TimeInterval = 30
    static let caLinePrefix = "capnet-ca: "

    /// Returns the development CA certificate (PEM) from the serial log,
    /// waiting for its last line up to `caPrintTimeout`.
    static func waitForGuestCA() throws -> String {
        let deadline = Date().addingTimeInterval(caPrintTimeout)
        while true {
            let serial = (try? String(contentsOfFile: serialLog, encoding: .utf8)) ?? ""
            // The console ends lines with CR LF, one Character in Swift, so
            // the split is on any newline rather than on "\n".
            let lines = serial.split(whereSeparator: \.isNewline).compactMap { line -> String? in
                guard line.hasPrefix(caLinePrefix) else { return nil }
                return String(line.dropFirst(caLinePrefix.count)).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            if lines.last == "-----END CERTIFICATE-----" { return lines.joined(separator: "\n") + "\n" }
            guard Date() < deadline else {
                throw ScriptFailed(description: "no complete '\(caLinePrefix)' certificate in \(serialLog) after \(Int(caPrintTimeout)) s")
            }
            // QEMU appends to a plain file, which offers nothing to wait on.
            usleep(pollIntervalMicroseconds)
        }
    }

    static let pollIntervalMicroseconds: useconds_t = 100_000

    /// Returns the `key=value` fields of one capnet log line.
    static func logFields(_ line: Substring) -> [String: String] {
        var fields: [String: String] = [:]
        for word in line.split(separator: " ") {
            guard let equals = word.firstIndex(of: "=") else { continue }
            fields[String(word[..<equals])] = String(word[word.index(after: equals)...])
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return fields
    }

    struct ScriptFailed: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `image/run` and returns once capnet serves. QEMU's restricted user
    /// network drops every UDP datagram the guest sends, so the UDP forward
    /// carries replies only with restrict=off (see image/run).
    static func boot() throws {
        let status = runScript(["run"], environment: ["CAPNET_RESTRICT=off", "CAPNET_BOOT_TIMEOUT=180"])
        guard status == 0 else {
            throw ScriptFailed(description: "image/run exited with status \(status); see \(serialLog)")
        }
    }

    /// Runs `image/run --stop`, which presses the ACPI power button and waits
    /// for QEMU to exit, escalating to SIGKILL 40 s after the button.
    static func stop() {
        _ = runScript(["run", "--stop"], environment: [])
    }

    /// Runs a script in `image/` with the test's environment plus
    /// `environment`, output going to the test's, and returns its exit status
    /// (-1 when it cannot start). The scripts bound their own run time.
    ///
    /// NOTE: this uses posix_spawn and waitpid, not Foundation's Process:
    /// Process.waitUntilExit never returned for `image/run`, whose QEMU
    /// daemonizes, and left the script a zombie (Swift 6.3 on Linux).
    static func runScript(_ arguments: [String], environment: [String]) -> Int32 {
        let argv = ["/bin/sh", "\(imageDirectory)/\(arguments[0])"] + arguments.dropFirst()
        let inherited = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = (inherited + environment).map { strdup($0) } + [nil]
        defer {
            cArguments.forEach { free($0) }
            cEnvironment.forEach { free($0) }
        }
        var pid = pid_t()
        guard posix_spawn(&pid, "/bin/sh", nil, nil, cArguments, cEnvironment) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return -1 }
        }
        // WIFEXITED and WEXITSTATUS are macros that Swift does not import.
        let terminatingSignal = status & 0x7f
        return terminatingSignal == 0 ? (status >> 8) & 0xff : 128 + terminatingSignal
    }
}

/// A UDP client on loopback that sends one datagram and waits for its echo.
enum UDPEchoClient {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let replyTimeoutSeconds = 3
    static let attempts = 3
    static let maxDatagramSize = 65_535

    /// Sends `payload` to 127.0.0.1:`port` up to `attempts` times and returns
    /// the first reply.
    static func exchange(_ payload: [UInt8], port: UInt16) throws -> [UInt8] {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket failed: errno \(errno)") }
        defer { close(descriptor) }

        var timeout = timeval(tv_sec: replyTimeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(description: "connect to 127.0.0.1:\(port) failed: errno \(errno)") }

        var buffer = [UInt8](repeating: 0, count: maxDatagramSize)
        for _ in 0..<attempts {
            guard send(descriptor, payload, payload.count, 0) == payload.count else {
                throw Failure(description: "send of \(payload.count) bytes failed: errno \(errno)")
            }
            let received = recv(descriptor, &buffer, buffer.count, 0)
            if received >= 0 { return Array(buffer[..<received]) }
            guard errno == EAGAIN || errno == EWOULDBLOCK else {
                throw Failure(description: "recv failed: errno \(errno)")
            }
        }
        throw Failure(description: "no reply to \(payload.count) bytes after \(attempts) attempts of \(replyTimeoutSeconds) s")
    }
}
