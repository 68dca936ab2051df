import Foundation
@testable import capnet_load

/// Debian's nginx serving TLS 1.3 on 127.0.0.1 from a temporary directory,
/// as one process (`master_process off`), killed on deinit.
final class NginxTestServer {
    /// Maximum wait for nginx to accept connections after it starts.
    static let startTimeout: TimeInterval = 10
    /// Interval between readiness checks while nginx starts.
    static let readinessCheckInterval: useconds_t = 20_000
    /// Start attempts, each on a new port, in case another process took the port.
    static let startAttempts = 3
    /// Body of every response, so a test can check the length.
    static let responseBody = "capnet-load nginx test\n"

    private var process = Process()
    private(set) var port: UInt16 = 0

    init(certificate: TestCertificate, directory: TemporaryDirectory) throws {
        guard let nginx = programPath("nginx") else {
            throw PeerError("nginx not found: install the Debian package nginx")
        }
        var errorLog = ""
        for _ in 0..<Self.startAttempts {
            // The kernel picks a free port; nginx binds it right after. Another
            // process may take it in between, which the next attempt handles.
            let port = try LocalPort(listening: false).port

            let prefix = directory.file("nginx-\(port)")
            try FileManager.default.createDirectory(atPath: prefix, withIntermediateDirectories: true)
            let configuration = prefix + "/nginx.conf"
            try Self.configuration(prefix: prefix, port: port, certificate: certificate)
                .write(toFile: configuration, atomically: true, encoding: .utf8)

            process = Process()
            process.executableURL = URL(fileURLWithPath: nginx)
            process.arguments = ["-p", prefix, "-c", configuration, "-e", prefix + "/error.log"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()

            if waitUntilAccepting(port: port) {
                self.port = port
                return
            }
            stop()
            errorLog = (try? String(contentsOfFile: prefix + "/error.log", encoding: .utf8)) ?? ""
        }
        throw PeerError("nginx did not accept connections after \(Self.startAttempts) attempts: \(errorLog)")
    }

    /// Checks by connecting until nginx accepts or exits, bounded by `startTimeout`.
    private func waitUntilAccepting(port: UInt16) -> Bool {
        let deadline = Date().addingTimeInterval(Self.startTimeout)
        while Date() < deadline && process.isRunning {
            if Self.accepts(port: port) { return true }
            usleep(Self.readinessCheckInterval)
        }
        return false
    }

    private static func accepts(port: UInt16) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        address.sin_port = port.bigEndian
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return status == 0
    }

    static func configuration(prefix: String, port: UInt16, certificate: TestCertificate) -> String {
        """
        daemon off;
        master_process off;
        worker_processes 1;
        pid \(prefix)/nginx.pid;
        error_log \(prefix)/error.log warn;
        events { worker_connections 1024; }
        http {
            access_log off;
            client_body_temp_path \(prefix)/client_body;
            proxy_temp_path \(prefix)/proxy;
            fastcgi_temp_path \(prefix)/fastcgi;
            uwsgi_temp_path \(prefix)/uwsgi;
            scgi_temp_path \(prefix)/scgi;
            server {
                listen 127.0.0.1:\(port) ssl;
                ssl_certificate \(certificate.certificatePath);
                ssl_certificate_key \(certificate.keyPath);
                ssl_protocols TLSv1.3;
                ssl_session_tickets on;
                location / { return 200 "\(responseBody.replacingOccurrences(of: "\n", with: "\\n"))"; }
            }
        }

        """
    }

    /// Kills nginx; SIGKILL for the same reason as `OpenSSLTestServer.stop`.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
