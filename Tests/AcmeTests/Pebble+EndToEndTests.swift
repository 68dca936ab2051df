import Foundation
import Glibc
import Testing
@testable import Acme

/// Issuance against a real Pebble on loopback: http-01 for the IP
/// identifier 127.0.0.1 (RFC 8738), served by `HTTP01Server`.
@Suite(.serialized) struct PebbleEndToEndTests {
    /// The MAC key from Pebble's example EAB configuration.
    static let macKeyID = "kid-1"
    static let macKey = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"

    static func configuration(_ pebble: PebbleProcess) -> ACMEConfiguration {
        ACMEConfiguration(directoryURL: pebble.directoryURL, caBundlePath: pebble.tlsCertificate,
                          contact: ["mailto:ops@example.org"], termsOfServiceAgreed: true,
                          externalAccountBinding: ExternalAccountBinding(keyID: macKeyID, macKeyBase64URL: macKey),
                          identifiers: [.ip("127.0.0.1")],
                          pollPolicy: ACMEPollPolicy(maxPolls: 50, defaultInterval: .milliseconds(100)))
    }

    /// Runs `openssl verify` on the chain's leaf against `rootPEM`, with the chain as untrusted certificates.
    static func verify(chainPEM: String, rootPEM: String, in directory: TemporaryDirectory) throws -> String {
        let chainFile = directory.file("chain-\(UUID().uuidString).pem"), rootFile = directory.file("root-\(UUID().uuidString).pem")
        try chainPEM.write(toFile: chainFile, atomically: true, encoding: .utf8)
        try rootPEM.write(toFile: rootFile, atomically: true, encoding: .utf8)
        let result = try runCommand(["openssl", "verify", "-CAfile", rootFile, "-untrusted", chainFile, chainFile])
        return result.output + result.errors
    }

    static func mode(of path: String) -> mode_t {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return info.st_mode & 0o777
    }

    @Test(.timeLimit(.minutes(6))) func issueRestartAndRenew() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let http01 = try HTTP01Server()
        defer { http01.stop() }
        let pebble = try PebbleProcess(directory: directory, httpPort: http01.port,
                                       macKeys: [Self.macKeyID: Self.macKey])
        defer { pebble.stop() }

        let keyFile = directory.file("account.der")
        let accountKey = try LibCryptoP256Key.generate(keyReference: keyFile)
        try Data(try accountKey.privateKeyDER()).write(to: URL(fileURLWithPath: keyFile))
        let certificateKey = try LibCryptoP256Key.generate()
        let store = try ACMEStateStore(directory: directory.file("state"))
        let clock = ShiftedClock()

        // 1. First run: registers (with EAB) and issues.
        let firstTransport = CountingTransport(CurlTransport(caBundle: pebble.tlsCertificate, scratch: directory.path))
        let first = ACMECertificateManager(
            client: ACMEClient(configuration: Self.configuration(pebble), signer: accountKey, transport: firstTransport,
                               responder: http01, clock: clock),
            store: store, certificateSigner: certificateKey)
        let issued = await first.run()
        #expect(issued.phase == .valid, "\(issued.lastError ?? "") \(pebble.log.suffix(2000))")
        #expect(issued.issuedInLastRun)
        // One lookup that finds no account, then one creation.
        #expect(firstTransport.successes("POST /sign-me-up") == 1)
        #expect(http01.served.count >= 1)
        #expect(http01.publishedCount == 0)

        // The chain verifies against Pebble's root, and the issuer is its intermediate.
        let chain = try #require(try store.loadChainPEM())
        let verification = try Self.verify(chainPEM: chain, rootPEM: try pebble.management("/roots/0"), in: directory)
        #expect(verification.contains(": OK"), "\(verification)")
        let intermediate = try CertificateInfo(chainPEM: try pebble.management("/intermediates/0"))
        let leaf = try #require(issued.certificate)
        #expect(leaf.issuer == intermediate.subject)
        #expect(intermediate.subject.contains("Pebble Intermediate CA"))

        // State files are owner-only.
        for name in ["account.json", "certificate.json", "certificate.pem"] {
            #expect(Self.mode(of: store.directory + "/" + name) == 0o600, "\(name)")
        }

        // 2. Restart: the same state and key neither register nor issue.
        let reloadedKey = try LibCryptoP256Key(encoded: Array(try Data(contentsOf: URL(fileURLWithPath: keyFile))),
                                               keyReference: keyFile)
        let secondTransport = CountingTransport(CurlTransport(caBundle: pebble.tlsCertificate, scratch: directory.path))
        let restarted = ACMECertificateManager(
            client: ACMEClient(configuration: Self.configuration(pebble), signer: reloadedKey, transport: secondTransport,
                               responder: http01, clock: clock),
            store: try ACMEStateStore(directory: store.directory), certificateSigner: certificateKey)
        let unchanged = await restarted.run()
        #expect(unchanged.phase == .valid, "\(unchanged.lastError ?? "")")
        #expect(!unchanged.issuedInLastRun)
        #expect(unchanged.renewalSource == .lifetimeFraction)
        #expect(secondTransport.count("POST /sign-me-up") == 0)
        #expect(secondTransport.count("POST /order-plz") == 0)

        // 3. A lost account record: onlyReturnExisting finds the same account.
        let originalAccount = try store.loadAccount()?.accountURL
        try store.removeAccount()
        let lookupTransport = CountingTransport(CurlTransport(caBundle: pebble.tlsCertificate, scratch: directory.path))
        let lookup = ACMECertificateManager(
            client: ACMEClient(configuration: Self.configuration(pebble), signer: reloadedKey, transport: lookupTransport,
                               responder: http01, clock: clock),
            store: store, certificateSigner: certificateKey)
        let found = await lookup.run()
        #expect(found.phase == .valid, "\(found.lastError ?? "")")
        #expect(!found.issuedInLastRun)
        #expect(lookupTransport.successes("POST /sign-me-up") == 1)
        #expect(try store.loadAccount()?.accountURL == originalAccount)

        // 4. Past two thirds of the lifetime, the next run renews with the stored account.
        let renewalTime = try #require(unchanged.renewalTime)
        #expect(renewalTime == ACMERenewalPolicy.lifetimeRenewalTime(notBefore: leaf.notBefore, notAfter: leaf.notAfter))
        clock.offset = renewalTime.timeIntervalSinceNow + 60
        let renewed = await restarted.run()
        #expect(renewed.phase == .valid, "\(renewed.lastError ?? "") \(pebble.log.suffix(2000))")
        #expect(renewed.issuedInLastRun)
        #expect(renewed.certificate?.serialNumber != leaf.serialNumber)
        #expect(secondTransport.count("POST /sign-me-up") == 0)
        #expect(secondTransport.successes("POST /order-plz") == 1)
        let renewedChain = try #require(try store.loadChainPEM())
        let renewedVerification = try Self.verify(chainPEM: renewedChain, rootPEM: try pebble.management("/roots/0"), in: directory)
        #expect(renewedVerification.contains(": OK"), "\(renewedVerification)")
    }

    /// With PEBBLE_ALTERNATE_ROOTS, the download follows Link rel="alternate"
    /// and each alternate chain verifies against its own root.
    @Test(.timeLimit(.minutes(6))) func alternateChains() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let http01 = try HTTP01Server()
        defer { http01.stop() }
        let pebble = try PebbleProcess(directory: directory, httpPort: http01.port,
                                       macKeys: [Self.macKeyID: Self.macKey],
                                       environment: ["PEBBLE_ALTERNATE_ROOTS": "1"])
        defer { pebble.stop() }

        let client = ACMEClient(configuration: Self.configuration(pebble), signer: try LibCryptoP256Key.generate(),
                                transport: CurlTransport(caBundle: pebble.tlsCertificate, scratch: directory.path),
                                responder: http01, clock: ShiftedClock())
        try await client.ensureAccount(knownURL: nil)
        let csr = try CertificateSigningRequest.build(identifiers: [.ip("127.0.0.1")], signer: try LibCryptoP256Key.generate())
        let issued = try await client.issueCertificate(identifiers: [.ip("127.0.0.1")], csrDER: csr)

        #expect(issued.alternateChainsPEM.count == 1)
        let primary = try Self.verify(chainPEM: issued.chainPEM, rootPEM: try pebble.management("/roots/0"), in: directory)
        #expect(primary.contains(": OK"), "\(primary)")
        for alternate in issued.alternateChainsPEM {
            let result = try Self.verify(chainPEM: alternate, rootPEM: try pebble.management("/roots/1"), in: directory)
            #expect(result.contains(": OK"), "\(result)")
        }
    }

    /// DNS identifiers resolved by pebble-challtestsrv to 127.0.0.1.
    @Test(.timeLimit(.minutes(6))) func dnsIdentifiers() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let dns = try ChallengeTestDNS()
        defer { dns.stop() }
        let http01 = try HTTP01Server()
        defer { http01.stop() }
        let pebble = try PebbleProcess(directory: directory, httpPort: http01.port,
                                       macKeys: [Self.macKeyID: Self.macKey], dnsServer: dns.address)
        defer { pebble.stop() }

        let identifiers: [ACMEIdentifier] = [.dns("acme.example.test"), .dns("www.acme.example.test")]
        var configuration = Self.configuration(pebble)
        configuration.identifiers = identifiers
        let client = ACMEClient(configuration: configuration, signer: try LibCryptoP256Key.generate(),
                                transport: CurlTransport(caBundle: pebble.tlsCertificate, scratch: directory.path),
                                responder: http01, clock: ShiftedClock())
        try await client.ensureAccount(knownURL: nil)
        let csr = try CertificateSigningRequest.build(identifiers: identifiers, signer: try LibCryptoP256Key.generate())
        let issued = try await client.issueCertificate(identifiers: identifiers, csrDER: csr)

        let verification = try Self.verify(chainPEM: issued.chainPEM, rootPEM: try pebble.management("/roots/0"), in: directory)
        #expect(verification.contains(": OK"), "\(verification)")
        let leafFile = directory.file("dns-leaf.pem")
        try issued.chainPEM.write(toFile: leafFile, atomically: true, encoding: .utf8)
        let names = try runChecked(["openssl", "x509", "-in", leafFile, "-noout", "-ext", "subjectAltName"]).output
        #expect(names.contains("DNS:acme.example.test"))
        #expect(names.contains("DNS:www.acme.example.test"))
        #expect(Set(http01.served).count == 2)
    }
}
