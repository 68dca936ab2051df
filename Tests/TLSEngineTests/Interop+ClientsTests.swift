import Foundation
import Testing
@testable import TLSEngine

/// The TLS server against curl, Python's ssl module and gnutls-cli over loopback.
@Suite("Interop with curl, Python and GnuTLS", .serialized)
struct InteropClientsTests {
    static func server(_ fixtures: CertificateFixtures, _ type: CertificateFixtures.KeyType = .ecdsaP256,
                       keyLog: (any TLSKeyLog)? = nil) throws -> (RunningServer, String) {
        let vault = try KeyVault(storage: .memory, profile: .development)
        let paths = try fixtures.make(type)
        var configuration = TLSServerConfiguration(
            certificates: CertificateSource(try fixtures.certifiedKey(paths, vault: vault, id: "server")))
        configuration.applicationProtocols = ["http/1.1"]
        configuration.keyLog = keyLog
        return (try RunningServer(configuration: configuration), paths.certificate)
    }

    @Test(arguments: CertificateFixtures.KeyType.allCases)
    func curlVerifiesAndFetches(keyType: CertificateFixtures.KeyType) throws {
        let fixtures = try CertificateFixtures()
        let (server, certificate) = try Self.server(fixtures, keyType)
        defer { server.stop() }
        let result = try PeerProcess.run("/usr/bin/curl", [
            "--silent", "--show-error", "--max-time", "10", "--cacert", certificate,
            "--resolve", "localhost:\(server.port):127.0.0.1", "https://localhost:\(server.port)/",
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("hello from capnet"), "\(result.output)")
        #expect(result.output.contains("sni=localhost alpn=http/1.1"), "\(result.output)")
    }

    @Test func pythonSSLModule() throws {
        let fixtures = try CertificateFixtures()
        let (server, certificate) = try Self.server(fixtures)
        defer { server.stop() }
        let script = """
            import socket, ssl
            context = ssl.create_default_context(cafile=\"\(certificate)\")
            context.minimum_version = ssl.TLSVersion.TLSv1_3
            context.set_alpn_protocols(["http/1.1"])
            with socket.create_connection(("127.0.0.1", \(server.port)), timeout=10) as raw:
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    tls.sendall(b"GET / HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n")
                    data = b""
                    while True:
                        chunk = tls.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    print(tls.version(), tls.selected_alpn_protocol())
                    print(data.decode())
            """
        let result = try PeerProcess.run("/usr/bin/env", ["python3", "-c", script])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("TLSv1.3 http/1.1"), "\(result.output)")
        #expect(result.output.contains("hello from capnet"), "\(result.output)")
    }

    @Test(arguments: ["NORMAL:-VERS-ALL:+VERS-TLS1.3", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305:-GROUP-ALL:+GROUP-SECP256R1"])
    func gnutlsCLI(priority: String) throws {
        let fixtures = try CertificateFixtures()
        let (server, certificate) = try Self.server(fixtures, .rsa2048)
        defer { server.stop() }
        let client = try PeerProcess("/usr/bin/gnutls-cli", [
            "--x509cafile=\(certificate)", "--priority=\(priority)", "-p", "\(server.port)", "localhost",
        ])
        defer { client.stop() }
        #expect(client.waitForOutput(containing: "- Handshake was completed"), "\(client.output)")
        client.write("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(client.waitForOutput(containing: "hello from capnet"), "\(client.output)")
        #expect(client.waitForExit() != nil, "\(client.output)")
        #expect(client.output.contains("(TLS1.3"), "\(client.output)")
    }

    @Test func keyLogLinesDecryptTheSession() throws {
        let fixtures = try CertificateFixtures()
        let keyLogPath = fixtures.directory + "/keys.log"
        let (server, certificate) = try Self.server(fixtures, keyLog: try KeyLogFile(path: keyLogPath))
        defer { server.stop() }
        // Python writes its own key log; both must name the same secrets.
        let clientLogPath = fixtures.directory + "/client-keys.log"
        let script = """
            import socket, ssl
            context = ssl.create_default_context(cafile=\"\(certificate)\")
            context.keylog_filename = \"\(clientLogPath)\"
            with socket.create_connection(("127.0.0.1", \(server.port)), timeout=10) as raw:
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    tls.sendall(b"GET / HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n")
                    while tls.recv(4096):
                        pass
            """
        let result = try PeerProcess.run("/usr/bin/env", ["python3", "-c", script])
        #expect(result.status == 0, "\(result.output)")
        let ours = Set(try String(contentsOfFile: keyLogPath, encoding: .utf8).split(separator: "\n"))
        let theirs = Set(try String(contentsOfFile: clientLogPath, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") })
        #expect(ours.count == 5)
        #expect(theirs.isSubset(of: ours), "client lines missing from the server key log")
        let attributes = try FileManager.default.attributesOfItem(atPath: keyLogPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }
}
