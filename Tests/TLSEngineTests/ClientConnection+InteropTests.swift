import Foundation
import Testing
@testable import TLSEngine

/// The TLS client over a kernel socket against real servers: `openssl
/// s_server` for every suite, group and certificate type, `gnutls-serv` and
/// Python's `ssl` module. Every chain comes from a test CA made with the
/// openssl tool and is verified against it at an explicit time, by host name.
@Suite("Client interop", .serialized)
struct ClientInteropTests {
    static let request = "GET / HTTP/1.0\r\n\r\n"
    static let suites: [CipherSuite] = [.tlsAES128GCMSHA256, .tlsAES256GCMSHA384, .tlsChaCha20Poly1305SHA256]
    static let groups: [NamedGroup] = [.x25519, .secp256r1, .secp384r1]

    /// The scheme a server signs with for each key type, given the client's
    /// default list (RSA-PSS with SHA-256 is the first RSA scheme in it).
    static func expectedScheme(_ type: CertificateFixtures.KeyType) -> SignatureScheme {
        switch type {
        case .ecdsaP256: .ecdsaSecp256r1SHA256
        case .rsa2048: .rsaPSSRSAESHA256
        case .ed25519: .ed25519
        }
    }

    static func connect(port: UInt16, configuration: TLSClientConfiguration,
                        serverName: String = ClientInteropCA.hostName) throws -> KernelClientDriver.Outcome {
        let client = try TLSClientConnection(configuration: configuration, serverName: serverName)
        return try KernelClientDriver.run(client, port: port, request: request)
    }

    @Test(arguments: CertificateFixtures.KeyType.allCases)
    func openSSLEverySuiteAndGroup(keyType: CertificateFixtures.KeyType) throws {
        let ca = try ClientInteropCA()
        let paths = try ca.issue(keyType)
        let server = try OpenSSLServer(certificate: paths.chain, key: paths.key)
        defer { server.stop() }

        for suite in Self.suites {
            for group in Self.groups {
                var configuration = try ca.clientConfiguration()
                configuration.cipherSuites = [suite]
                configuration.groups = [group]
                let outcome = try Self.connect(port: server.port, configuration: configuration)
                #expect(outcome.failure == nil, "\(keyType) \(suite) \(group): \(outcome.events)")
                #expect(outcome.parameters?.cipherSuite == suite)
                #expect(outcome.parameters?.group == group)
                #expect(outcome.parameters?.signatureScheme == Self.expectedScheme(keyType))
                #expect(outcome.parameters?.serverName == ClientInteropCA.hostName)
                // s_server -www reports what it negotiated on its side.
                #expect(outcome.text.contains("TLSv1.3, Cipher is \(suite)"), "\(keyType) \(suite) \(group): \(outcome.text)")
            }
        }
    }

    @Test(arguments: CertificateFixtures.KeyType.allCases)
    func openSSLAddressIsVerified(keyType: CertificateFixtures.KeyType) throws {
        let ca = try ClientInteropCA()
        let paths = try ca.issue(keyType)
        let server = try OpenSSLServer(certificate: paths.chain, key: paths.key)
        defer { server.stop() }
        let outcome = try Self.connect(port: server.port, configuration: try ca.clientConfiguration(),
                                       serverName: ClientInteropCA.address)
        #expect(outcome.failure == nil, "\(outcome.events)")
        #expect(outcome.text.contains("Cipher is"), "\(outcome.text)")
    }

    @Test(arguments: CertificateFixtures.KeyType.allCases)
    func openSSLWrongNameIsRejected(keyType: CertificateFixtures.KeyType) throws {
        let ca = try ClientInteropCA()
        let paths = try ca.issue(keyType)
        let server = try OpenSSLServer(certificate: paths.chain, key: paths.key)
        defer { server.stop() }
        let outcome = try Self.connect(port: server.port, configuration: try ca.clientConfiguration(),
                                       serverName: "other.test")
        #expect(outcome.failure?.alert == .badCertificate, "\(outcome.events)")
        #expect(outcome.parameters == nil)
    }

    @Test(arguments: CertificateFixtures.KeyType.allCases)
    func openSSLAfterNotAfterIsRejected(keyType: CertificateFixtures.KeyType) throws {
        let ca = try ClientInteropCA()
        let paths = try ca.issue(keyType)
        let server = try OpenSSLServer(certificate: paths.chain, key: paths.key)
        defer { server.stop() }
        let outcome = try Self.connect(port: server.port,
                                       configuration: try ca.clientConfiguration(time: ClientInteropCA.afterValidity))
        #expect(outcome.failure?.alert == .certificateExpired, "\(outcome.events)")
        #expect(outcome.parameters == nil)
    }

    @Test func openSSLCertificateRequestIsAnsweredEmpty() throws {
        let ca = try ClientInteropCA()
        let paths = try ca.issue(.ecdsaP256)
        // -verify asks for a client certificate without requiring one.
        let server = try OpenSSLServer(certificate: paths.chain, key: paths.key, extra: ["-verify", "1"])
        defer { server.stop() }
        let outcome = try Self.connect(port: server.port, configuration: try ca.clientConfiguration())
        #expect(outcome.failure == nil, "\(outcome.events)")
        #expect(outcome.text.contains("no client certificate available"), "\(outcome.text)")
    }

    @Test func openSSLOtherCAIsRejected() throws {
        let ca = try ClientInteropCA()
        let other = try ClientInteropCA()
        let paths = try ca.issue(.ecdsaP256)
        let server = try OpenSSLServer(certificate: paths.chain, key: paths.key)
        defer { server.stop() }
        let outcome = try Self.connect(port: server.port, configuration: try other.clientConfiguration())
        #expect(outcome.failure?.alert == .unknownCA, "\(outcome.events)")
    }

    @Test(arguments: CertificateFixtures.KeyType.allCases)
    func gnuTLSServer(keyType: CertificateFixtures.KeyType) throws {
        let ca = try ClientInteropCA()
        let paths = try ca.issue(keyType)
        let server = try GnuTLSServer(chain: paths.chain, key: paths.key)
        defer { server.stop() }
        for suite in Self.suites {
            var configuration = try ca.clientConfiguration()
            configuration.cipherSuites = [suite]
            let outcome = try Self.connect(port: server.port, configuration: configuration)
            #expect(outcome.failure == nil, "\(keyType) \(suite): \(outcome.events)")
            #expect(outcome.parameters?.cipherSuite == suite)
            #expect(outcome.parameters?.signatureScheme == Self.expectedScheme(keyType))
            // gnutls-serv --http describes the session it negotiated.
            #expect(outcome.text.contains("TLS1.3"), "\(keyType) \(suite): \(outcome.text)")
        }
    }

    @Test func gnuTLSWrongNameIsRejected() throws {
        let ca = try ClientInteropCA()
        let paths = try ca.issue(.ecdsaP256)
        let server = try GnuTLSServer(chain: paths.chain, key: paths.key)
        defer { server.stop() }
        let outcome = try Self.connect(port: server.port, configuration: try ca.clientConfiguration(),
                                       serverName: "other.test")
        #expect(outcome.failure?.alert == .badCertificate, "\(outcome.events)")
    }

    @Test(arguments: CertificateFixtures.KeyType.allCases)
    func pythonSSLServer(keyType: CertificateFixtures.KeyType) throws {
        let ca = try ClientInteropCA()
        let paths = try ca.issue(keyType)
        let server = try PythonTLSServer(chain: paths.chain, key: paths.key)
        defer { server.stop() }
        let outcome = try Self.connect(port: server.port, configuration: try ca.clientConfiguration())
        #expect(outcome.failure == nil, "\(outcome.events)")
        #expect(outcome.parameters?.signatureScheme == Self.expectedScheme(keyType))
        let suite = outcome.parameters.map { "\($0.cipherSuite)" } ?? "none"
        // The server reports ssl.SSLSocket.version() and cipher() from its side.
        #expect(outcome.text.contains("TLSv1.3 \(suite)"), "\(outcome.text)")
        #expect(outcome.events.contains(.closeNotifyReceived), "\(outcome.events)")
    }
}
