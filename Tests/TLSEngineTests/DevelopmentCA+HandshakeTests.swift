import Foundation
import Testing
@testable import TLSEngine

/// The kernel TLS server on loopback with a certificate from the development CA,
/// checked by curl and `openssl s_client` that trust only `ca.pem`.
@Suite("Development CA handshakes", .serialized)
struct DevelopmentCAHandshakeTests {
    static let name = "capnet.test"

    /// A running server with a chain issued for `name` and 127.0.0.1, and the fixture holding `ca.pem`.
    static func server() throws -> (DevelopmentCAFixture, RunningServer) {
        let fixture = try DevelopmentCAFixture()
        let vault = try fixture.vault()
        let ca = try DevelopmentCA.loadOrCreate(stateDirectory: fixture.directory, vault: vault,
                                                profile: .development, now: wallClockSeconds())
        let certified = try ca.issueCertifiedKey(dnsNames: [name], ipAddresses: ["127.0.0.1"], vault: vault,
                                                 now: wallClockSeconds())
        var configuration = TLSServerConfiguration(certificates: CertificateSource(certified))
        configuration.applicationProtocols = ["http/1.1"]
        return (fixture, try RunningServer(configuration: configuration))
    }

    @Test func curlTrustsCAFileByName() throws {
        let (fixture, server) = try Self.server()
        defer { server.stop() }
        let result = try fixture.runTool("/usr/bin/curl", [
            "--silent", "--show-error", "--max-time", "10", "--cacert", fixture.caPath,
            "--resolve", "\(Self.name):\(server.port):127.0.0.1", "https://\(Self.name):\(server.port)/",
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("hello from capnet"), "\(result.output)")
    }

    @Test func curlTrustsCAFileByAddress() throws {
        let (fixture, server) = try Self.server()
        defer { server.stop() }
        let result = try fixture.runTool("/usr/bin/curl", [
            "--silent", "--show-error", "--max-time", "10", "--cacert", fixture.caPath,
            "https://127.0.0.1:\(server.port)/",
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("hello from capnet"), "\(result.output)")
    }

    @Test func curlWithOtherCAFails() throws {
        let (fixture, server) = try Self.server()
        defer { server.stop() }
        let other = try DevelopmentCAFixture()
        _ = try DevelopmentCA.loadOrCreate(stateDirectory: other.directory, vault: try other.vault(),
                                           profile: .development, now: wallClockSeconds())
        let result = try fixture.runTool("/usr/bin/curl", [
            "--silent", "--show-error", "--max-time", "10", "--cacert", other.caPath,
            "https://127.0.0.1:\(server.port)/",
        ])
        // curl(1) exit status 60: the peer certificate cannot be authenticated with known CA certificates.
        #expect(result.status == 60, "\(result.output)")
    }

    @Test(arguments: [["-verify_hostname", name, "-servername", name], ["-verify_ip", "127.0.0.1"]])
    func opensslVerifiesChain(check: [String]) throws {
        let (fixture, server) = try Self.server()
        defer { server.stop() }
        let result = try fixture.openssl([
            "s_client", "-connect", "127.0.0.1:\(server.port)", "-verify_return_error",
            "-CAfile", fixture.caPath,
        ] + check)
        #expect(result.status == 0, "\(check): \(result.output)")
        #expect(result.output.contains("Verify return code: 0 (ok)"), "\(check): \(result.output)")
    }

    @Test func opensslRejectsWrongHostname() throws {
        let (fixture, server) = try Self.server()
        defer { server.stop() }
        let result = try fixture.openssl([
            "s_client", "-connect", "127.0.0.1:\(server.port)", "-verify_return_error",
            "-CAfile", fixture.caPath, "-verify_hostname", "other.test",
        ])
        #expect(result.status != 0, "\(result.output)")
        #expect(result.output.contains("Verify return code: 62 (hostname mismatch)"), "\(result.output)")
    }
}
