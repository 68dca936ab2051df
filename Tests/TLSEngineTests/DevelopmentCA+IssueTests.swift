import Foundation
import Testing
@testable import TLSEngine

@Suite("Development CA server certificates", .serialized)
struct DevelopmentCAIssueTests {
    static let fixedNow = DevelopmentCATests.fixedNow

    static func setUp(now: Int64) throws -> (DevelopmentCAFixture, DevelopmentCA, KeyHandle) {
        let fixture = try DevelopmentCAFixture()
        let vault = try fixture.vault()
        let ca = try DevelopmentCA.loadOrCreate(stateDirectory: fixture.directory, vault: vault,
                                                profile: .development, now: now)
        let key = try vault.generate(.ecdsaP256, purpose: .tlsServer, id: "server")
        return (fixture, ca, key)
    }

    @Test func leafVerifiesWithOpenSSL() throws {
        let (fixture, ca, key) = try Self.setUp(now: wallClockSeconds())
        let chain = try ca.issueServerCertificate(dnsNames: ["localhost", "capnet.test"],
                                                  ipAddresses: ["127.0.0.1", "192.0.2.2", "::1"],
                                                  key: key, now: wallClockSeconds())
        #expect(chain.certificates.count == 2)
        #expect(chain.certificates.last == ca.certificateDER)
        let leaf = try fixture.writePEM(chain.certificates[0], name: "leaf")

        let plain = try fixture.openssl(["verify", "-CAfile", fixture.caPath, "-purpose", "sslserver", leaf])
        #expect(plain.status == 0, "\(plain.output)")
        #expect(plain.output.contains("leaf.pem: OK"), "\(plain.output)")
        for check in [["-verify_hostname", "capnet.test"], ["-verify_ip", "192.0.2.2"], ["-verify_ip", "::1"]] {
            let result = try fixture.openssl(["verify", "-CAfile", fixture.caPath] + check + [leaf])
            #expect(result.status == 0, "\(check): \(result.output)")
        }
        // Names the certificate does not carry must fail, or the checks above prove nothing.
        for check in [["-verify_hostname", "other.test"], ["-verify_ip", "192.0.2.3"]] {
            let result = try fixture.openssl(["verify", "-CAfile", fixture.caPath] + check + [leaf])
            #expect(result.status != 0, "\(check): \(result.output)")
        }
    }

    @Test func leafVerificationFailsWithOtherCA() throws {
        let (fixture, ca, key) = try Self.setUp(now: wallClockSeconds())
        let (other, _, _) = try Self.setUp(now: wallClockSeconds())
        let chain = try ca.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: [], key: key,
                                                  now: wallClockSeconds())
        let leaf = try fixture.writePEM(chain.certificates[0], name: "leaf")
        let result = try fixture.openssl(["verify", "-CAfile", other.caPath, leaf])
        #expect(result.status != 0, "\(result.output)")
    }

    @Test func leafTextShowsNamesExtensionsAndValidity() throws {
        let (fixture, ca, key) = try Self.setUp(now: Self.fixedNow)
        let chain = try ca.issueServerCertificate(dnsNames: ["localhost", "capnet.test"],
                                                  ipAddresses: ["127.0.0.1", "::1"], key: key, now: Self.fixedNow)
        let text = try fixture.text(try fixture.writePEM(chain.certificates[0], name: "leaf"))
        #expect(text.contains("Version: 3 (0x2)"), "\(text)")
        #expect(text.contains("Signature Algorithm: ecdsa-with-SHA256"), "\(text)")
        #expect(text.contains("Subject: CN = localhost"), "\(text)")
        #expect(text.contains("Issuer: CN = capnet development CA "), "\(text)")
        // `date -u -d @1700000000` minus one hour, and plus 90 days.
        #expect(text.contains("Not Before: Nov 14 21:13:20 2023 GMT"), "\(text)")
        #expect(text.contains("Not After : Feb 12 22:13:20 2024 GMT"), "\(text)")
        #expect(text.contains("DNS:localhost, DNS:capnet.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"),
                "\(text)")
        #expect(text.contains("X509v3 Basic Constraints: critical\n                CA:FALSE"), "\(text)")
        #expect(text.contains("X509v3 Key Usage: critical\n                Digital Signature\n"), "\(text)")
        #expect(text.contains("X509v3 Extended Key Usage: \n                TLS Web Server Authentication\n"), "\(text)")

        // The leaf's authority key identifier is the CA's subject key identifier.
        let caText = try fixture.text(fixture.caPath)
        let caKeyID = Self.line(after: "X509v3 Subject Key Identifier:", in: caText)
        let leafAuthorityID = Self.line(after: "X509v3 Authority Key Identifier:", in: text)
        #expect(caKeyID != nil, "\(caText)")
        #expect(leafAuthorityID?.hasSuffix(caKeyID ?? "-") == true, "\(text)")
        #expect(Self.line(after: "X509v3 Subject Key Identifier:", in: text) != caKeyID)
    }

    @Test func customValidity() throws {
        let (fixture, ca, key) = try Self.setUp(now: Self.fixedNow)
        let chain = try ca.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: [], key: key,
                                                  now: Self.fixedNow, validity: .seconds(86_400))
        let text = try fixture.text(try fixture.writePEM(chain.certificates[0], name: "leaf"))
        #expect(text.contains("Not After : Nov 15 22:13:20 2023 GMT"), "\(text)")
    }

    @Test func leafPublicKeyIsHandleKey() throws {
        let (fixture, ca, key) = try Self.setUp(now: wallClockSeconds())
        let chain = try ca.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: [], key: key,
                                                  now: wallClockSeconds())
        let leaf = try fixture.writePEM(chain.certificates[0], name: "leaf")
        let handleKeyPath = fixture.directory + "/handle.der"
        try Data(key.publicKeyDER()).write(to: URL(fileURLWithPath: handleKeyPath))
        let fromHandle = try fixture.openssl(["pkey", "-pubin", "-inform", "DER", "-in", handleKeyPath]).output
        let fromLeaf = try fixture.openssl(["x509", "-in", leaf, "-noout", "-pubkey"]).output
        #expect(fromHandle.contains("BEGIN PUBLIC KEY"), "\(fromHandle)")
        #expect(fromHandle == fromLeaf, "\(fromHandle) \(fromLeaf)")
        #expect(throws: Never.self) { try CertifiedKey(chain: chain, key: key) }
    }

    @Test func serialNumbersDiffer() throws {
        let (fixture, ca, key) = try Self.setUp(now: wallClockSeconds())
        var serials: Set<String> = []
        for index in 0..<3 {
            let chain = try ca.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: [], key: key,
                                                      now: wallClockSeconds())
            let leaf = try fixture.writePEM(chain.certificates[0], name: "leaf\(index)")
            serials.insert(try fixture.openssl(["x509", "-in", leaf, "-noout", "-serial"]).output)
        }
        #expect(serials.count == 3, "\(serials)")
    }

    static let invalidInputs: [(dnsNames: [String], ipAddresses: [String], error: DevelopmentCAError)] = [
        ([], [], .noNames),
        ([""], [], .invalidDNSName("")),
        (["-leading.test"], [], .invalidDNSName("-leading.test")),
        (["trailing-.test"], [], .invalidDNSName("trailing-.test")),
        (["under_score.test"], [], .invalidDNSName("under_score.test")),
        (["a..test"], [], .invalidDNSName("a..test")),
        (["dot.test."], [], .invalidDNSName("dot.test.")),
        (["*.wild.test"], [], .invalidDNSName("*.wild.test")),
        (["comma,DNS:evil.test"], [], .invalidDNSName("comma,DNS:evil.test")),
        ([String(repeating: "a", count: 64) + ".test"], [], .invalidDNSName(String(repeating: "a", count: 64) + ".test")),
        (["192.0.2.1"], [], .invalidDNSName("192.0.2.1")),
        (["localhost"], ["256.0.0.1"], .invalidIPAddress("256.0.0.1")),
        (["localhost"], ["localhost"], .invalidIPAddress("localhost")),
        (["localhost"], ["192.0.2.1/24"], .invalidIPAddress("192.0.2.1/24")),
        (["localhost"], [""], .invalidIPAddress("")),
    ]

    @Test func invalidNamesRejected() throws {
        let (_, ca, key) = try Self.setUp(now: Self.fixedNow)
        for input in Self.invalidInputs {
            #expect(throws: input.error, "\(input)") {
                try ca.issueServerCertificate(dnsNames: input.dnsNames, ipAddresses: input.ipAddresses, key: key,
                                              now: Self.fixedNow)
            }
        }
        let message = DevelopmentCAError.invalidDNSName("under_score.test").description
        #expect(message.contains("'under_score.test'"), "\(message)")
    }

    @Test func validityOutOfRangeRejected() throws {
        let (_, ca, key) = try Self.setUp(now: Self.fixedNow)
        for days: Int64 in [0, -1, 398] {
            #expect(throws: DevelopmentCAError.invalidValidity(seconds: days * 86_400)) {
                try ca.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: [], key: key, now: Self.fixedNow,
                                              validity: .seconds(days * 86_400))
            }
        }
    }

    @Test func nonServerKeyRejected() throws {
        let fixture = try DevelopmentCAFixture()
        let vault = try fixture.vault()
        let ca = try DevelopmentCA.loadOrCreate(stateDirectory: fixture.directory, vault: vault,
                                                profile: .development, now: Self.fixedNow)
        let account = try vault.generate(.ecdsaP256, purpose: .acmeAccount, id: "account")
        #expect(throws: KeyVaultError.wrongPurpose(id: "account", keyPurpose: .acmeAccount, requested: .tlsServer)) {
            try ca.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: [], key: account, now: Self.fixedNow)
        }
        #expect(throws: KeyVaultError.wrongPurpose(id: DevelopmentCA.keyID, keyPurpose: .developmentCA,
                                                   requested: .tlsServer)) {
            try ca.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: [], key: ca.key, now: Self.fixedNow)
        }
    }

    /// Returns the trimmed line that follows `heading` in openssl's text output.
    static func line(after heading: String, in text: String) -> String? {
        let lines = text.split(separator: "\n")
        guard let index = lines.firstIndex(where: { $0.contains(heading) }), index + 1 < lines.count else { return nil }
        return lines[index + 1].trimmingCharacters(in: .whitespaces)
    }
}
