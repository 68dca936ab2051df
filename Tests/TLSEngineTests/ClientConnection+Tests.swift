import CapnetBase
import Foundation
import Testing
@testable import TLSEngine

/// The TLS client against `openssl s_server` over loopback, and against our own server sans-IO.
@Suite("Client connection", .serialized)
struct ClientConnectionTests {
    static let request = "GET / HTTP/1.0\r\n\r\n"

    static func trust(_ certificate: String) throws -> TLSClientConfiguration {
        TLSClientConfiguration(trustStore: try TrustStore(pem: String(contentsOfFile: certificate, encoding: .utf8)))
    }

    @Test(arguments: CertificateFixtures.KeyType.allCases)
    func handshakeWithOpenSSLServer(keyType: CertificateFixtures.KeyType) throws {
        let fixtures = try CertificateFixtures()
        let paths = try fixtures.make(keyType)
        let server = try OpenSSLServer(certificate: paths.certificate, key: paths.key)
        defer { server.stop() }
        let client = try TLSClientConnection(configuration: try Self.trust(paths.certificate), serverName: "localhost")
        let outcome = try KernelClientDriver.run(client, port: server.port, request: Self.request)
        #expect(outcome.failure == nil, "\(outcome.events)")
        #expect(outcome.text.contains("Protocol  : TLSv1.3"), "\(outcome.text)")
        #expect(outcome.parameters?.signatureScheme != nil)
    }

    @Test func ipAddressIsVerified() throws {
        let fixtures = try CertificateFixtures()
        let paths = try fixtures.make(.ecdsaP256)
        let server = try OpenSSLServer(certificate: paths.certificate, key: paths.key)
        defer { server.stop() }
        let client = try TLSClientConnection(configuration: try Self.trust(paths.certificate), serverName: "127.0.0.1")
        let outcome = try KernelClientDriver.run(client, port: server.port, request: Self.request)
        #expect(outcome.failure == nil, "\(outcome.events)")
        #expect(outcome.parameters?.serverName == nil)
    }

    @Test func wrongHostNameIsRejected() throws {
        let fixtures = try CertificateFixtures()
        let paths = try fixtures.make(.ecdsaP256)
        let server = try OpenSSLServer(certificate: paths.certificate, key: paths.key)
        defer { server.stop() }
        let client = try TLSClientConnection(configuration: try Self.trust(paths.certificate), serverName: "other.test")
        let outcome = try KernelClientDriver.run(client, port: server.port, request: Self.request)
        #expect(outcome.failure?.alert == .badCertificate, "\(outcome.events)")
    }

    @Test func expiredAtVerificationTimeIsRejected() throws {
        let fixtures = try CertificateFixtures()
        let paths = try fixtures.make(.ecdsaP256)
        let server = try OpenSSLServer(certificate: paths.certificate, key: paths.key)
        defer { server.stop() }
        var configuration = try Self.trust(paths.certificate)
        // The fixture is valid for 2 days from now; check it 10 days on.
        configuration.verificationTime = { wallClockNanoseconds() / 1_000_000_000 + 10 * 86_400 }
        let client = try TLSClientConnection(configuration: configuration, serverName: "localhost")
        let outcome = try KernelClientDriver.run(client, port: server.port, request: Self.request)
        #expect(outcome.failure?.alert == .certificateExpired, "\(outcome.events)")
    }

    @Test func untrustedRootIsRejected() throws {
        let fixtures = try CertificateFixtures()
        let paths = try fixtures.make(.ecdsaP256)
        let other = try fixtures.make(.ecdsaP256, name: "other.test")
        let server = try OpenSSLServer(certificate: paths.certificate, key: paths.key)
        defer { server.stop() }
        let client = try TLSClientConnection(configuration: try Self.trust(other.certificate), serverName: "localhost")
        let outcome = try KernelClientDriver.run(client, port: server.port, request: Self.request)
        #expect(outcome.failure?.alert == .unknownCA, "\(outcome.events)")
    }

    @Test func alpnAndHelloRetryRequest() throws {
        let fixtures = try CertificateFixtures()
        let paths = try fixtures.make(.ecdsaP256)
        let server = try OpenSSLServer(certificate: paths.certificate, key: paths.key,
                                       extra: ["-alpn", "http/1.1", "-groups", "secp384r1"])
        defer { server.stop() }
        var configuration = try Self.trust(paths.certificate)
        configuration.applicationProtocols = ["h2", "http/1.1"]
        let client = try TLSClientConnection(configuration: configuration, serverName: "localhost")
        let outcome = try KernelClientDriver.run(client, port: server.port, request: Self.request)
        #expect(outcome.failure == nil, "\(outcome.events)")
        #expect(outcome.parameters?.applicationProtocol == "http/1.1")
        #expect(outcome.parameters?.group == .secp384r1)
        #expect(outcome.parameters?.usedHelloRetryRequest == true)
    }

    @Test func clientAndServerSansIO() throws {
        let fixtures = try CertificateFixtures()
        let paths = try fixtures.make(.ed25519)
        let vault = try KeyVault(storage: .memory, profile: .development)
        var serverConfiguration = TLSServerConfiguration(
            certificates: CertificateSource(try fixtures.certifiedKey(paths, vault: vault, id: "server")))
        serverConfiguration.applicationProtocols = ["http/1.1"]
        serverConfiguration.groups = [.secp256r1]
        let server = TLSServerConnection(configuration: serverConfiguration)
        var clientConfiguration = try Self.trust(paths.certificate)
        clientConfiguration.applicationProtocols = ["http/1.1"]
        let client = try TLSClientConnection(configuration: clientConfiguration, serverName: "localhost")

        var clientEvents: [TLSEvent] = []
        var serverEvents: [TLSEvent] = []
        for _ in 0..<4 where !(client.isEstablished && server.isEstablished) {
            serverEvents += server.receive(client.takeOutput())
            clientEvents += client.receive(server.takeOutput())
        }
        #expect(client.isEstablished && server.isEstablished, "client \(clientEvents) server \(serverEvents)")
        #expect(client.negotiated == server.negotiated)
        #expect(client.negotiated?.usedHelloRetryRequest == true)

        try client.send(Array("hello".utf8))
        #expect(server.receive(client.takeOutput()) == [.applicationData(Array("hello".utf8))])
        try server.updateKeys(requestPeerUpdate: true)
        try server.send(Array("world".utf8))
        #expect(client.receive(server.takeOutput()) == [.keyUpdateReceived(updateRequested: true),
                                                        .applicationData(Array("world".utf8))])
        #expect(server.receive(client.takeOutput()) == [.keyUpdateReceived(updateRequested: false)])

        try client.updateKeys(requestPeerUpdate: false)
        try client.send(Array("again".utf8))
        #expect(server.receive(client.takeOutput()) == [.keyUpdateReceived(updateRequested: false),
                                                        .applicationData(Array("again".utf8))])
        #expect(!server.hasOutput)

        client.close()
        #expect(server.receive(client.takeOutput()) == [.closeNotifyReceived])
        server.close()
        #expect(client.receive(server.takeOutput()) == [.closeNotifyReceived])
    }
}
