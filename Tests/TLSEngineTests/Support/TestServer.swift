import Foundation
@testable import TLSEngine

/// A temporary directory with certificates made by the openssl command line tool.
final class CertificateFixtures: @unchecked Sendable {
    let directory: String

    enum KeyType: String, CaseIterable, Sendable {
        case ecdsaP256 = "ec"
        case rsa2048 = "rsa"
        case ed25519 = "ed25519"

        var opensslArguments: [String] {
            switch self {
            case .ecdsaP256: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
            case .rsa2048: ["-newkey", "rsa:2048"]
            case .ed25519: ["-newkey", "ed25519"]
            }
        }
    }

    init() throws {
        directory = NSTemporaryDirectory() + "capnet-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Makes a self-signed certificate for `name` and returns the certificate and key paths.
    func make(_ type: KeyType, name: String = "localhost") throws -> (certificate: String, key: String) {
        let base = "\(directory)/\(name)-\(type.rawValue)"
        let result = try PeerProcess.run("/usr/bin/openssl", ["req", "-x509"] + type.opensslArguments + [
            "-nodes", "-keyout", base + ".key", "-out", base + ".crt", "-days", "2", "-subj", "/CN=\(name)",
            "-addext", "subjectAltName=DNS:\(name),IP:127.0.0.1",
        ])
        guard result.status == 0 else { throw FixtureError("openssl req failed: \(result.output)") }
        return (base + ".crt", base + ".key")
    }

    /// Loads a certificate and key made by `make` into a server certificate.
    func certifiedKey(_ paths: (certificate: String, key: String), vault: KeyVault, id: String) throws -> CertifiedKey {
        let chain = try CertificateChain(pem: String(contentsOfFile: paths.certificate, encoding: .utf8))
        let key = try vault.importPEM(String(contentsOfFile: paths.key, encoding: .utf8), purpose: .tlsServer, id: id)
        return try CertifiedKey(chain: chain, key: key)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A `KernelTLSServer` on 127.0.0.1 with an ephemeral port, run on its own thread.
final class RunningServer: @unchecked Sendable {
    let server: KernelTLSServer
    private let finished = DispatchSemaphore(value: 0)

    init(configuration: TLSServerConfiguration, timeouts: KernelTLSServer.Timeouts = .init()) throws {
        server = try KernelTLSServer(configuration: configuration, address: "127.0.0.1", port: 0, timeouts: timeouts)
        let server = self.server
        let finished = self.finished
        Thread.detachNewThread {
            server.run()
            finished.signal()
        }
    }

    var port: UInt16 { server.port }

    /// Stops the server and waits for its thread to finish.
    func stop() {
        server.stop()
        _ = finished.wait(timeout: .now() + 10)
    }
}
