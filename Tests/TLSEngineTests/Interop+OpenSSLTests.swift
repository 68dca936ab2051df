import CapnetBase
import Foundation
import Testing
@testable import TLSEngine

/// The TLS server against `openssl s_client` (OpenSSL 3.0, Debian 12) over loopback.
@Suite("Interop with openssl s_client", .serialized)
struct InteropOpenSSLTests {
    static let request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    static let suites: [CipherSuite] = [.tlsAES128GCMSHA256, .tlsAES256GCMSHA384, .tlsChaCha20Poly1305SHA256]
    static let groups: [NamedGroup] = [.x25519, .secp256r1, .secp384r1]

    static func server(_ fixtures: CertificateFixtures, _ type: CertificateFixtures.KeyType,
                       configure: (inout TLSServerConfiguration) -> Void = { _ in }) throws -> RunningServer {
        let vault = try KeyVault(storage: .memory, profile: .development)
        let certified = try fixtures.certifiedKey(try fixtures.make(type), vault: vault, id: "server")
        var configuration = TLSServerConfiguration(certificates: CertificateSource(certified))
        configuration.applicationProtocols = ["http/1.1"]
        configure(&configuration)
        return try RunningServer(configuration: configuration)
    }

    static func sClient(port: UInt16, _ extra: [String], stdin: String = request) throws -> (status: Int32?, output: String) {
        try PeerProcess.run("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-ign_eof"] + extra,
                            stdin: stdin)
    }

    @Test(arguments: CertificateFixtures.KeyType.allCases)
    func everySuiteAndGroup(keyType: CertificateFixtures.KeyType) throws {
        let fixtures = try CertificateFixtures()
        let server = try Self.server(fixtures, keyType)
        defer { server.stop() }
        let expectedScheme: SignatureScheme = switch keyType {
        case .ecdsaP256: .ecdsaSecp256r1SHA256
        case .rsa2048: .rsaPSSRSAESHA256
        case .ed25519: .ed25519
        }

        for suite in Self.suites {
            for group in Self.groups {
                let result = try Self.sClient(port: server.port, ["-groups", "\(group)", "-ciphersuites", "\(suite)"])
                #expect(result.status == 0, "s_client \(suite) \(group): \(result.output)")
                #expect(result.output.contains("HTTP/1.1 200 OK"), "\(suite) \(group): \(result.output)")
                let line = "suite=\(suite) group=\(group) signature=\(expectedScheme)"
                #expect(result.output.contains(line), "\(suite) \(group): \(result.output)")
                #expect(result.output.contains("hrr=false"))
            }
        }
    }

    @Test func helloRetryRequestForPreferredGroup() throws {
        let fixtures = try CertificateFixtures()
        let server = try Self.server(fixtures, .ecdsaP256)
        defer { server.stop() }
        // s_client sends a share only for its first group; the server prefers x25519.
        let result = try Self.sClient(port: server.port, ["-groups", "secp384r1:x25519", "-msg"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("group=x25519"), "\(result.output)")
        #expect(result.output.contains("hrr=true"), "\(result.output)")
    }

    @Test func serverGroupPreferenceIsConfigurable() throws {
        let fixtures = try CertificateFixtures()
        let server = try Self.server(fixtures, .ecdsaP256) { $0.groups = [.secp384r1, .x25519] }
        defer { server.stop() }
        let result = try Self.sClient(port: server.port, ["-groups", "x25519:secp384r1"])
        #expect(result.output.contains("group=secp384r1 "), "\(result.output)")
        #expect(result.output.contains("hrr=true"), "\(result.output)")
    }

    @Test func alpnSelectsHTTP11() throws {
        let fixtures = try CertificateFixtures()
        let server = try Self.server(fixtures, .ecdsaP256)
        defer { server.stop() }
        let result = try Self.sClient(port: server.port, ["-alpn", "h2,http/1.1"])
        #expect(result.output.contains("ALPN protocol: http/1.1"), "\(result.output)")
        #expect(result.output.contains("alpn=http/1.1"), "\(result.output)")
    }

    @Test func alpnWithoutCommonProtocolFails() throws {
        let fixtures = try CertificateFixtures()
        let server = try Self.server(fixtures, .ecdsaP256)
        defer { server.stop() }
        let result = try Self.sClient(port: server.port, ["-alpn", "h2"])
        #expect(result.output.contains("no application protocol"), "\(result.output)")
        #expect(!result.output.contains("HTTP/1.1 200 OK"))
    }

    @Test func sniSelectsCertificate() throws {
        let fixtures = try CertificateFixtures()
        let vault = try KeyVault(storage: .memory, profile: .development)
        let defaultCertificate = try fixtures.certifiedKey(try fixtures.make(.ecdsaP256, name: "default.test"),
                                                           vault: vault, id: "default")
        let named = try fixtures.certifiedKey(try fixtures.make(.rsa2048, name: "b.test"), vault: vault, id: "b")
        let source = CertificateSource(.init(defaultCertificate: defaultCertificate, byName: ["b.test": named]))
        let server = try RunningServer(configuration: TLSServerConfiguration(certificates: source))
        defer { server.stop() }

        let named1 = try Self.sClient(port: server.port, ["-servername", "b.test"])
        #expect(named1.output.contains("CN = b.test"), "\(named1.output)")
        #expect(named1.output.contains("sni=b.test"), "\(named1.output)")
        let other = try Self.sClient(port: server.port, ["-servername", "other.test"])
        #expect(other.output.contains("CN = default.test"), "\(other.output)")
        #expect(other.output.contains("sni=other.test"), "\(other.output)")
    }

    @Test func certificateSourceSwapsAtomically() throws {
        let fixtures = try CertificateFixtures()
        let vault = try KeyVault(storage: .memory, profile: .development)
        let first = try fixtures.certifiedKey(try fixtures.make(.ecdsaP256, name: "first.test"), vault: vault, id: "first")
        let second = try fixtures.certifiedKey(try fixtures.make(.ecdsaP256, name: "second.test"), vault: vault, id: "second")
        let source = CertificateSource(first)
        let server = try RunningServer(configuration: TLSServerConfiguration(certificates: source))
        defer { server.stop() }

        let before = try Self.sClient(port: server.port, [])
        #expect(before.output.contains("CN = first.test"), "\(before.output)")
        source.replace(with: .init(defaultCertificate: second))
        let after = try Self.sClient(port: server.port, [])
        #expect(after.output.contains("CN = second.test"), "\(after.output)")
    }

    @Test(arguments: [CipherSuite.tlsAES128GCMSHA256, .tlsAES256GCMSHA384])
    func sessionTicketResumption(suite: CipherSuite) throws {
        let fixtures = try CertificateFixtures()
        let server = try Self.server(fixtures, .ecdsaP256) {
            $0.sessionTickets = SessionTicketKeys(clock: MonotonicTimeSource())
        }
        defer { server.stop() }
        let session = fixtures.directory + "/session.pem"
        let first = try Self.sClient(port: server.port, ["-ciphersuites", "\(suite)", "-sess_out", session])
        #expect(first.output.contains("resumed=false"), "\(first.output)")
        #expect(FileManager.default.fileExists(atPath: session))

        let second = try Self.sClient(port: server.port, ["-ciphersuites", "\(suite)", "-sess_in", session])
        #expect(second.output.contains("Reused, TLSv1.3"), "\(second.output)")
        #expect(second.output.contains("resumed=true"), "\(second.output)")
    }

    @Test func ticketFromRotatedOutKeyIsNotResumed() throws {
        let fixtures = try CertificateFixtures()
        let keys = SessionTicketKeys(clock: MonotonicTimeSource())
        let server = try Self.server(fixtures, .ecdsaP256) { $0.sessionTickets = keys }
        defer { server.stop() }
        let session = fixtures.directory + "/session.pem"
        _ = try Self.sClient(port: server.port, ["-sess_out", session])
        keys.rotate()
        keys.rotate()
        let second = try Self.sClient(port: server.port, ["-sess_in", session])
        #expect(second.output.contains("New, TLSv1.3"), "\(second.output)")
        #expect(second.output.contains("resumed=false"), "\(second.output)")
    }

    @Test func expiredTicketIsNotResumed() throws {
        let fixtures = try CertificateFixtures()
        let clock = VirtualTimeSource()
        let keys = SessionTicketKeys(clock: clock, ticketLifetimeSeconds: 60, rotationInterval: .seconds(3600))
        let server = try Self.server(fixtures, .ecdsaP256) { $0.sessionTickets = keys }
        defer { server.stop() }
        let session = fixtures.directory + "/session.pem"
        _ = try Self.sClient(port: server.port, ["-sess_out", session])
        clock.advance(by: .seconds(59))
        let fresh = try Self.sClient(port: server.port, ["-sess_in", session])
        #expect(fresh.output.contains("Reused, TLSv1.3"), "\(fresh.output)")
        clock.advance(by: .seconds(2))
        let expired = try Self.sClient(port: server.port, ["-sess_in", session])
        #expect(expired.output.contains("New, TLSv1.3"), "\(expired.output)")
    }

    @Test func resumptionAfterHelloRetryRequest() throws {
        let fixtures = try CertificateFixtures()
        let server = try Self.server(fixtures, .ecdsaP256) {
            $0.sessionTickets = SessionTicketKeys(clock: MonotonicTimeSource())
        }
        defer { server.stop() }
        let session = fixtures.directory + "/session.pem"
        _ = try Self.sClient(port: server.port, ["-sess_out", session])
        let second = try Self.sClient(port: server.port, ["-sess_in", session, "-groups", "secp384r1:x25519"])
        #expect(second.output.contains("Reused, TLSv1.3"), "\(second.output)")
        #expect(second.output.contains("hrr=true resumed=true"), "\(second.output)")
    }

    @Test func tls12OnlyClientGetsProtocolVersion() throws {
        let fixtures = try CertificateFixtures()
        let server = try Self.server(fixtures, .ecdsaP256)
        defer { server.stop() }
        let result = try Self.sClient(port: server.port, ["-tls1_2"])
        #expect(result.output.contains("alert protocol version"), "\(result.output)")
    }

    @Test func noCommonSuiteGetsHandshakeFailure() throws {
        let fixtures = try CertificateFixtures()
        let server = try Self.server(fixtures, .ecdsaP256) { $0.cipherSuites = [.tlsAES256GCMSHA384] }
        defer { server.stop() }
        let result = try Self.sClient(port: server.port, ["-ciphersuites", "TLS_AES_128_GCM_SHA256"])
        #expect(result.output.contains("alert handshake failure"), "\(result.output)")
    }

    @Test func noCommonGroupGetsHandshakeFailure() throws {
        let fixtures = try CertificateFixtures()
        let server = try Self.server(fixtures, .ecdsaP256) { $0.groups = [.secp384r1] }
        defer { server.stop() }
        let result = try Self.sClient(port: server.port, ["-groups", "x25519:secp256r1"])
        #expect(result.output.contains("alert handshake failure"), "\(result.output)")
    }

    @Test func noCommonSignatureSchemeGetsHandshakeFailure() throws {
        let fixtures = try CertificateFixtures()
        let server = try Self.server(fixtures, .ed25519)
        defer { server.stop() }
        let result = try Self.sClient(port: server.port, ["-sigalgs", "ECDSA+SHA256:RSA-PSS+SHA256"])
        #expect(result.output.contains("alert handshake failure"), "\(result.output)")
    }

    @Test func keyUpdateBothWays() throws {
        let fixtures = try CertificateFixtures()
        let server = try Self.server(fixtures, .ecdsaP256)
        defer { server.stop() }
        let client = try PeerProcess("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(server.port)", "-msg"])
        defer { client.stop() }
        #expect(client.waitForOutput(containing: "Verify return code"))

        // "K" makes s_client send KeyUpdate(update_requested); it prints KEYUPDATE first.
        client.write("K\n")
        #expect(client.waitForOutput(containing: "KEYUPDATE"))
        #expect(client.waitForOutput(containing: "<<< TLS 1.3, Handshake [length 0005], KeyUpdate"))

        // The server sends its own KeyUpdate(update_requested) before this response.
        client.write("GET /keyupdate HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(client.waitForOutput(containing: "hello from capnet"), "\(client.output)")
        #expect(client.waitForExit() == 0, "\(client.output)")
        let serverUpdates = client.output.components(separatedBy: "<<< TLS 1.3, Handshake [length 0005], KeyUpdate").count - 1
        #expect(serverUpdates == 2, "\(client.output)")
    }
}

/// A misbehaving peer on one connection must not disturb the others.
@Suite("Kernel server isolation", .serialized)
struct KernelServerIsolationTests {
    @Test func garbageConnectionDoesNotStopServer() throws {
        let fixtures = try CertificateFixtures()
        let server = try InteropOpenSSLTests.server(fixtures, .ecdsaP256)
        defer { server.stop() }

        // A plaintext HTTP request is an unknown record type to a TLS server.
        let script = """
            import socket
            s = socket.create_connection(("127.0.0.1", \(server.port)), timeout=10)
            s.sendall(b"GET / HTTP/1.1\\r\\n\\r\\n")
            print("reply", s.recv(100).hex())
            """
        let garbage = try PeerProcess.run("/usr/bin/env", ["python3", "-c", script])
        // An unprotected fatal alert record: unexpected_message (10).
        #expect(garbage.output.contains("reply 15030300020" + "20a"), "\(garbage.output)")

        let good = try InteropOpenSSLTests.sClient(port: server.port, [])
        #expect(good.output.contains("hello from capnet"), "\(good.output)")
    }

    @Test func silentConnectionTimesOut() throws {
        let fixtures = try CertificateFixtures()
        let vault = try KeyVault(storage: .memory, profile: .development)
        let certified = try fixtures.certifiedKey(try fixtures.make(.ecdsaP256), vault: vault, id: "server")
        let server = try RunningServer(configuration: TLSServerConfiguration(certificates: CertificateSource(certified)),
                                       timeouts: .init(handshake: .milliseconds(300), idle: .seconds(60)))
        defer { server.stop() }
        // The client sends nothing; the server must close within a few poll intervals.
        let script = """
            import socket, time
            s = socket.create_connection(("127.0.0.1", \(server.port)), timeout=10)
            start = time.monotonic()
            print("eof" if s.recv(100) == b"" else "data", round(time.monotonic() - start, 1))
            """
        let result = try PeerProcess.run("/usr/bin/env", ["python3", "-c", script])
        #expect(result.output.hasPrefix("eof"), "\(result.output)")
    }
}
