import Foundation
import Testing
@testable import Acme

@Suite struct JSONWebSignatureTests {
    /// Builds DER `ECDSA-Sig-Value` from hex r and s with the openssl CLI.
    static func derSignature(r: String, s: String) throws -> [UInt8] {
        let config = "asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x\(r)\ns=INTEGER:0x\(s)\n"
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let configFile = directory.file("sig.cnf"), out = directory.file("sig.der")
        try config.write(toFile: configFile, atomically: true, encoding: .utf8)
        try runChecked(["openssl", "asn1parse", "-genconf", configFile, "-out", out, "-noout"])
        return Array(try Data(contentsOf: URL(fileURLWithPath: out)))
    }

    /// Integers with the high bit set get a sign octet in DER (X.690 §8.3.2)
    /// that the raw form drops.
    @Test func derToRawStripsSignOctet() throws {
        let r = "8e31d7f1b07f83af4bb1d4b6e6f6ac6f6c7c1b2ea0cd3296a3ee9f7ff8e7d5ab"
        let s = "f75fa3bd74e7e0ed1f5a3a06a6a3b7dfe4d4ae3a7d3b48fc3d0ee0ceeb0fbf43"
        let der = try Self.derSignature(r: r, s: s)
        // SEQUENCE of two 33-octet INTEGERs: 2 + 2 * (2 + 33) octets.
        #expect(der.count == 72)
        let raw = try ECDSASignature.raw(fromDER: der, coordinateLength: 32)
        #expect(raw == hexBytes(r + s))
    }

    @Test func derToRawPadsShortIntegers() throws {
        // openssl encodes 0x01 as one content octet; JWS needs 32 (RFC 7518 §3.4).
        let raw = try ECDSASignature.raw(fromDER: try Self.derSignature(r: "01", s: "ff"), coordinateLength: 32)
        #expect(raw == [UInt8](repeating: 0, count: 31) + [1] + [UInt8](repeating: 0, count: 31) + [0xFF])
    }

    @Test func derToRawRejectsTruncation() throws {
        let der = try Self.derSignature(r: "01", s: "02")
        #expect(throws: ACMEError.self) { try ECDSASignature.raw(fromDER: Array(der.dropLast()), coordinateLength: 32) }
        #expect(throws: ACMEError.self) { try ECDSASignature.raw(fromDER: der + [0], coordinateLength: 32) }
    }

    /// An ES256 JWS from our signer verifies with `openssl dgst -verify`.
    @Test func es256VerifiesWithOpenSSL() throws {
        let key = try LibCryptoP256Key.generate()
        let jws = try JSONWebSignature.acmeRequest(url: "https://127.0.0.1/acme/new-acct", nonce: "abc",
                                                   key: .jwk(key.publicJWK), payload: Array("{}".utf8),
                                                   signer: key)
        let header = String(decoding: Base64URL.decode(jws.protected)!, as: UTF8.self)
        #expect(header == "{\"alg\":\"ES256\",\"jwk\":\(key.publicJWK.canonicalJSON),\"nonce\":\"abc\",\"url\":\"https://127.0.0.1/acme/new-acct\"}")

        let raw = try #require(Base64URL.decode(jws.signature))
        #expect(raw.count == 64)
        let hex = raw.map { String(format: "%02x", $0) }.joined()
        let der = try Self.derSignature(r: String(hex.prefix(64)), s: String(hex.suffix(64)))

        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let publicKeyFile = directory.file("pub.der"), signatureFile = directory.file("sig.der")
        try Data(key.subjectPublicKeyInfo).write(to: URL(fileURLWithPath: publicKeyFile))
        try Data(der).write(to: URL(fileURLWithPath: signatureFile))
        let input = Data((jws.protected + "." + jws.payload).utf8)
        let result = try runCommand(["openssl", "dgst", "-sha256", "-verify", publicKeyFile, "-keyform", "DER",
                                     "-signature", signatureFile], stdin: input)
        #expect(result.output.contains("Verified OK"))
    }

    @Test func keyIDHeaderAndPostAsGet() throws {
        let key = try LibCryptoP256Key.generate()
        let jws = try JSONWebSignature.acmeRequest(url: "https://127.0.0.1/order/1", nonce: "n1",
                                                   key: .keyID("https://127.0.0.1/acct/7"), payload: nil, signer: key)
        let header = String(decoding: Base64URL.decode(jws.protected)!, as: UTF8.self)
        #expect(header == "{\"alg\":\"ES256\",\"kid\":\"https://127.0.0.1/acct/7\",\"nonce\":\"n1\",\"url\":\"https://127.0.0.1/order/1\"}")
        // RFC 8555 §6.3: POST-as-GET carries the empty payload.
        #expect(jws.payload == "")
    }

    /// The EAB MAC equals `openssl dgst -mac HMAC` over the signing input.
    @Test func externalAccountBindingMAC() throws {
        let account = JSONWebKey.ellipticCurve(curve: "P-256", x: "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
                                               y: "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM")
        let macKey = Array("a sixteen-byte key plus more".utf8)
        let jws = try JSONWebSignature.externalAccountBinding(keyID: "kid-1", macKey: macKey,
                                                              newAccountURL: "https://127.0.0.1/new-acct",
                                                              accountKey: account)
        let header = String(decoding: Base64URL.decode(jws.protected)!, as: UTF8.self)
        #expect(header == "{\"alg\":\"HS256\",\"kid\":\"kid-1\",\"url\":\"https://127.0.0.1/new-acct\"}")
        #expect(Base64URL.decode(jws.payload) == Array(account.canonicalJSON.utf8))

        let hexKey = macKey.map { String(format: "%02x", $0) }.joined()
        let mac = try runChecked(["openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:\(hexKey)", "-binary"],
                                 stdin: Data((jws.protected + "." + jws.payload).utf8)).stdout
        #expect(jws.signature == Base64URL.encode(mac))
    }
}
