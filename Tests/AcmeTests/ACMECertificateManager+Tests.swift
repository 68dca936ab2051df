import Foundation
import CapnetBase
import Testing
@testable import Acme

/// Makes a leaf certificate with an AKI, signed by a throwaway CA, with the
/// openssl CLI. The leaf certifies `leafKey` when given, else a fresh key.
func makeTestCertificate(in directory: TemporaryDirectory, serial: String, days: Int = 90,
                         leafKey: LibCryptoP256Key? = nil) throws -> String {
    let caKey = directory.file("ca-\(serial).key"), caCert = directory.file("ca-\(serial).pem")
    let leafKeyPath = directory.file("leaf-\(serial).key"), leafCSR = directory.file("leaf-\(serial).csr")
    let leafCert = directory.file("leaf-\(serial).pem"), extensions = directory.file("leaf-\(serial).ext")
    try runChecked(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", caKey, "-out", caCert, "-subj", "/CN=Scripted CA", "-days", "400"])
    if let given = leafKey {
        try Data(try given.privateKeyDER()).write(to: URL(fileURLWithPath: leafKeyPath + ".der"))
        try runChecked(["openssl", "req", "-new", "-key", leafKeyPath + ".der", "-keyform", "DER", "-nodes",
                        "-out", leafCSR, "-subj", "/CN=leaf"])
    } else {
        try runChecked(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", leafKeyPath, "-out", leafCSR, "-subj", "/CN=leaf"])
    }
    try "authorityKeyIdentifier=keyid:always\nsubjectAltName=IP:127.0.0.1\n"
        .write(toFile: extensions, atomically: true, encoding: .utf8)
    try runChecked(["openssl", "x509", "-req", "-in", leafCSR, "-CA", caCert, "-CAkey", caKey, "-set_serial", serial,
                    "-days", String(days), "-extfile", extensions, "-out", leafCert])
    return try String(contentsOfFile: leafCert, encoding: .utf8) + String(contentsOfFile: caCert, encoding: .utf8)
}

@Suite struct ACMECertificateManagerTests {
    /// Returns a store holding an account for `ca.key` and a certificate from openssl
    /// whose lifetime renewal time lies after the virtual clock's start.
    static func seededStore(_ ca: ScriptedCA, _ directory: TemporaryDirectory) throws -> (ACMEStateStore, ACMECertificateRecord) {
        let store = try ACMEStateStore(directory: directory.file("state"))
        try store.saveAccount(ACMEAccountRecord(directoryURL: ScriptedCA.directoryURL, accountURL: ScriptedCA.accountURL,
                                                keyReference: "test-key", keyThumbprint: try ca.key.publicJWK.thumbprint()))
        let chain = try makeTestCertificate(in: directory, serial: "0x1001", days: 400)
        let info = try CertificateInfo(chainPEM: chain)
        let record = ACMECertificateRecord(directoryURL: ScriptedCA.directoryURL, identifiers: [.ip("127.0.0.1")],
                                           certificateURL: ScriptedCA.base + "/certZ/0", info: info,
                                           renewalIdentifier: ACMERenewalPolicy.certificateIdentifier(info),
                                           renewalTime: ACMERenewalPolicy.lifetimeRenewalTime(notBefore: info.notBefore,
                                                                                              notAfter: info.notAfter),
                                           renewalSource: .lifetimeFraction)
        try store.saveCertificate(record, chainPEM: chain)
        return (store, record)
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: date)
    }

    @Test func renewalInfoWindowInFuture() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try ScriptedCA()
        ca.clock.current = Date()
        ca.scriptDirectory(renewalInfo: true)
        let (store, record) = try Self.seededStore(ca, directory)
        let identifier = try #require(record.renewalIdentifier)
        let start = ca.clock.current.addingTimeInterval(10 * 86400), end = start.addingTimeInterval(2 * 86400)
        ca.transport.script("GET", ScriptedCA.renewalInfo + "/" + identifier,
                            jsonResponse(200, #"{"suggestedWindow":{"start":"\#(Self.timestamp(start))","end":"\#(Self.timestamp(end))"}}"#,
                                         headers: [("Retry-After", "21600")]))
        let manager = ACMECertificateManager(client: ca.client(), store: store, certificateSigner: ca.key)

        let status = await manager.run()

        #expect(status.phase == .valid, "\(status.lastError ?? "")")
        #expect(!status.issuedInLastRun)
        #expect(status.renewalSource == .renewalInfo)
        let renewal = try #require(status.renewalTime)
        #expect(start <= renewal)
        #expect(renewal <= end)
        #expect(status.nextCheck == ca.clock.current.addingTimeInterval(21600))
        #expect(ca.transport.requests("POST", ScriptedCA.newAccount).isEmpty)
        #expect(ca.transport.requests("POST", ScriptedCA.newOrder).isEmpty)
        #expect(try store.loadCertificate()?.renewalSource == .renewalInfo)
    }

    @Test func renewalInfoWindowPassedRenews() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try ScriptedCA()
        ca.clock.current = Date()
        ca.scriptDirectory(renewalInfo: true)
        let (store, record) = try Self.seededStore(ca, directory)
        let identifier = try #require(record.renewalIdentifier)
        let start = ca.clock.current.addingTimeInterval(-2 * 86400), end = start.addingTimeInterval(86400)
        ca.transport.script("GET", ScriptedCA.renewalInfo + "/" + identifier,
                            jsonResponse(200, #"{"suggestedWindow":{"start":"\#(Self.timestamp(start))","end":"\#(Self.timestamp(end))"}}"#))
        let newChain = try makeTestCertificate(in: directory, serial: "0x2002", leafKey: ca.key)
        ca.scriptIssuance(chainPEM: newChain, alternatePEM: newChain)
        let manager = ACMECertificateManager(client: ca.client(), store: store, certificateSigner: ca.key)

        let status = await manager.run()

        #expect(status.phase == .valid, "\(status.lastError ?? "")")
        #expect(status.issuedInLastRun)
        #expect(status.certificate?.serialNumber == [0x20, 0x02])
        // RFC 9773 §5: the new order names the certificate it replaces.
        let newOrder = try #require(ca.transport.requests("POST", ScriptedCA.newOrder).first)
        let payload = try #require(payloadText(of: newOrder))
        #expect(payload == #"{"identifiers":[{"type":"ip","value":"127.0.0.1"}],"replaces":"\#(identifier)"}"#)
        #expect(try store.loadChainPEM() == newChain)
    }

    @Test func failureIsReportedAndRetriedLater() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        ca.scriptAccount()
        ca.transport.script("POST", ScriptedCA.newOrder,
                            jsonResponse(403, #"{"type":"urn:ietf:params:acme:error:unauthorized","detail":"account is deactivated"}"#))
        let store = try ACMEStateStore(directory: directory.file("state"))
        let manager = ACMECertificateManager(client: ca.client(), store: store, certificateSigner: ca.key)
        #expect(manager.status.phase == .noCertificate)

        let status = await manager.run()

        #expect(status.phase == .failed)
        #expect(status.lastError?.contains("account is deactivated") == true)
        #expect(status.nextCheck == ca.clock.current.addingTimeInterval(60))
        // Failures in a row back off: 1, 2, 4 ... minutes, capped at an hour.
        #expect(await manager.run().nextCheck == ca.clock.current.addingTimeInterval(120))
        #expect(ACMECertificateManager.failureRetryDelay(afterFailures: 3) == 240)
        #expect(ACMECertificateManager.failureRetryDelay(afterFailures: 7) == 3600)
        #expect(ACMECertificateManager.failureRetryDelay(afterFailures: 100) == 3600)
        // The account was stored even though the order failed.
        #expect(try store.loadAccount()?.accountURL == ScriptedCA.accountURL)
    }

    /// The CA responds to newOrder and the authorization, then vanishes: the
    /// challenge response fails below HTTP on every attempt.
    @Test func serverVanishingMidOrderFailsAndRetriesLater() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        ca.scriptAccount()
        ca.scriptIssuance(chainPEM: "unused", alternatePEM: "unused")
        ca.transport.unreachable = ["POST \(ScriptedCA.challengeURL)"]
        let store = try ACMEStateStore(directory: directory.file("state"))
        let manager = ACMECertificateManager(client: ca.client(), store: store, certificateSigner: ca.key)
        let start = ca.clock.current

        let status = await manager.run()

        #expect(status.phase == .failed)
        let policy = manager.client.configuration.retryPolicy
        #expect(status.lastError == "request to \(ScriptedCA.challengeURL) failed after \(policy.maxAttempts) attempts: "
            + "TCP connection to 127.0.0.1:14000 was refused")
        #expect(ca.transport.requests("POST", ScriptedCA.challengeURL).count == policy.maxAttempts)
        // The token was published for the challenge and retired with the failure.
        #expect(ca.responder.events.count == 2)
        #expect(ca.responder.published.isEmpty)
        #expect(ca.transport.requests("POST", ScriptedCA.finalizeURL).isEmpty)
        #expect(try store.loadCertificate() == nil)
        #expect(status.nextCheck == ca.clock.current.addingTimeInterval(60))
        #expect(ca.clock.current > start, "the retries backed off on the virtual clock")
    }

    /// With a provider, each issuance signs the CSR with a fresh key, and the
    /// chain is checked against that key, which then becomes the current one.
    @Test func issuanceUsesProvidedKey() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        ca.scriptAccount()
        let freshKey = try LibCryptoP256Key.generate(keyReference: "fresh")
        let chain = try makeTestCertificate(in: directory, serial: "0x4004", leafKey: freshKey)
        ca.scriptIssuance(chainPEM: chain, alternatePEM: chain)
        let store = try ACMEStateStore(directory: directory.file("state"))
        let manager = ACMECertificateManager(client: ca.client(), store: store, certificateSigner: ca.key)
        manager.certificateSignerProvider = { freshKey }

        let status = await manager.run()

        #expect(status.phase == .valid, "\(status.lastError ?? "")")
        #expect(manager.certificateSigner === freshKey)
    }

    /// A chain for another key than the CSR's is rejected and not stored.
    @Test func chainForAnotherKeyIsRejected() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        ca.scriptAccount()
        let chain = try makeTestCertificate(in: directory, serial: "0x5005")
        ca.scriptIssuance(chainPEM: chain, alternatePEM: chain)
        let store = try ACMEStateStore(directory: directory.file("state"))
        let manager = ACMECertificateManager(client: ca.client(), store: store, certificateSigner: ca.key)

        let status = await manager.run()

        #expect(status.phase == .failed)
        #expect(status.lastError == "issued certificate rejected: the leaf certifies another public key than the one in our CSR")
        #expect(try store.loadCertificate() == nil)
        #expect(manager.certificateSigner === ca.key)
    }

    @Test func unknownAccountRegistersAgain() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        let store = try ACMEStateStore(directory: directory.file("state"))
        try store.saveAccount(ACMEAccountRecord(directoryURL: ScriptedCA.directoryURL, accountURL: ScriptedCA.base + "/my-account/0",
                                                keyReference: "test-key", keyThumbprint: try ca.key.publicJWK.thumbprint()))
        let unknown = #"{"type":"urn:ietf:params:acme:error:accountDoesNotExist","detail":"account not found"}"#
        ca.transport.script("POST", ScriptedCA.newOrder, jsonResponse(400, unknown))
        ca.transport.script("POST", ScriptedCA.newAccount, jsonResponse(400, unknown),
                            jsonResponse(201, #"{"status":"valid"}"#, headers: [("Location", ScriptedCA.accountURL)]))
        let chain = try makeTestCertificate(in: directory, serial: "0x3003", leafKey: ca.key)
        ca.scriptIssuance(chainPEM: chain, alternatePEM: chain)
        let manager = ACMECertificateManager(client: ca.client(), store: store, certificateSigner: ca.key)

        let status = await manager.run()

        #expect(status.phase == .valid, "\(status.lastError ?? "")")
        #expect(status.issuedInLastRun)
        #expect(try store.loadAccount()?.accountURL == ScriptedCA.accountURL)
        let orders = ca.transport.requests("POST", ScriptedCA.newOrder)
        #expect(orders.count == 2)
        #expect(protectedHeader(of: orders[0])["kid"] as? String == ScriptedCA.base + "/my-account/0")
        #expect(protectedHeader(of: orders[1])["kid"] as? String == ScriptedCA.accountURL)
    }
}
