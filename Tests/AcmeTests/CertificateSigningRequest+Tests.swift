import Foundation
import Testing
@testable import Acme

@Suite struct CertificateSigningRequestTests {
    /// `openssl req -verify` accepts the signature and lists every identifier.
    @Test func verifiesWithOpenSSL() throws {
        let key = try LibCryptoP256Key.generate()
        let identifiers: [ACMEIdentifier] = [.dns("example.org"), .dns("www.example.org"), .ip("127.0.0.1"), .ip("2001:db8::1")]
        let der = try CertificateSigningRequest.build(identifiers: identifiers, signer: key)

        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("req.der")
        try Data(der).write(to: URL(fileURLWithPath: file))
        let result = try runChecked(["openssl", "req", "-inform", "DER", "-in", file, "-verify", "-noout", "-text"])
        let text = result.output + result.errors

        #expect(text.contains("verify OK"))
        #expect(text.contains("CN = example.org"))
        #expect(text.contains("DNS:example.org"))
        #expect(text.contains("DNS:www.example.org"))
        #expect(text.contains("IP Address:127.0.0.1"))
        #expect(text.contains("IP Address:2001:DB8:0:0:0:0:0:1"))
        #expect(text.contains("ecdsa-with-SHA256"))
    }

    @Test func ipOnlyRequestHasEmptySubject() throws {
        let key = try LibCryptoP256Key.generate()
        let der = try CertificateSigningRequest.build(identifiers: [.ip("127.0.0.1")], signer: key)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("req.der")
        try Data(der).write(to: URL(fileURLWithPath: file))
        let subject = try runChecked(["openssl", "req", "-inform", "DER", "-in", file, "-noout", "-subject"]).output
        #expect(subject.trimmingCharacters(in: .whitespacesAndNewlines) == "subject=")
    }

    @Test func rejectsInjectedSeparators() throws {
        let key = try LibCryptoP256Key.generate()
        #expect(throws: ACMEError.self) {
            try CertificateSigningRequest.build(identifiers: [.dns("example.org,IP:10.0.0.1")], signer: key)
        }
        #expect(throws: ACMEError.self) {
            try CertificateSigningRequest.build(identifiers: [.ip("127.0.0.1.5")], signer: key)
        }
        #expect(throws: ACMEError.self) {
            try CertificateSigningRequest.build(identifiers: [], signer: key)
        }
    }
}

@Suite struct RenewalPolicyTests {
    /// The example of RFC 9773 §4.1: keyIdentifier 69:88:5B:...:D4 and
    /// serial 00:87:65:43:21 give "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
    @Test func certificateIdentifierRFC9773() {
        let identifier = ACMERenewalPolicy.certificateIdentifier(
            authorityKeyIdentifier: hexBytes("69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4"),
            serialNumber: hexBytes("00:87:65:43:21"))
        #expect(identifier == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
    }

    /// Serial, AKI and validity read from a certificate made by the openssl CLI.
    @Test func certificateInfoFromOpenSSL() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let caKey = directory.file("ca.key"), caCert = directory.file("ca.pem")
        let leafKey = directory.file("leaf.key"), leafCSR = directory.file("leaf.csr"), leafCert = directory.file("leaf.pem")
        try runChecked(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", caKey, "-out", caCert, "-subj", "/CN=Test CA", "-days", "30"])
        try runChecked(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", leafKey, "-out", leafCSR, "-subj", "/CN=leaf"])
        let extensions = directory.file("leaf.ext")
        try "authorityKeyIdentifier=keyid:always\n".write(toFile: extensions, atomically: true, encoding: .utf8)
        try runChecked(["openssl", "x509", "-req", "-in", leafCSR, "-CA", caCert, "-CAkey", caKey,
                        "-set_serial", "0x87654321", "-days", "90", "-extfile", extensions, "-out", leafCert])

        let pem = try String(contentsOfFile: leafCert, encoding: .utf8)
        let info = try CertificateInfo(chainPEM: pem)
        // 0x87654321 has its high bit set, so DER adds a zero octet.
        #expect(info.serialNumber == [0x00, 0x87, 0x65, 0x43, 0x21])
        #expect(info.notAfter.timeIntervalSince(info.notBefore) == 90 * 86400)
        #expect(info.issuer.contains("CN=Test CA"))

        let subjectKeyID = try runChecked(["openssl", "x509", "-in", caCert, "-noout", "-ext", "subjectKeyIdentifier"]).output
        let hex = subjectKeyID.split(separator: "\n").last.map(String.init) ?? ""
        #expect(info.authorityKeyIdentifier == hexBytes(hex))

        let expectedRenewal = info.notBefore.addingTimeInterval(60 * 86400)
        #expect(ACMERenewalPolicy.lifetimeRenewalTime(notBefore: info.notBefore, notAfter: info.notAfter) == expectedRenewal)
    }

    @Test func renewalTimeInsideWindow() {
        var random = SeededRandomForTests(seed: 7)
        let window = ACMERenewalInfo.Window(start: "2027-01-01T00:00:00Z", end: "2027-01-03T00:00:00.5Z")
        let start = ACMERenewalPolicy.parseTimestamp(window.start)!, end = ACMERenewalPolicy.parseTimestamp(window.end)!
        for _ in 0..<100 {
            let chosen = ACMERenewalPolicy.renewalTime(in: window, using: &random)!
            #expect(start <= chosen && chosen < end)
        }
        let reversed = ACMERenewalInfo.Window(start: window.end, end: window.start)
        #expect(ACMERenewalPolicy.renewalTime(in: reversed, using: &random) == nil)
    }
}
