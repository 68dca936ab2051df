import Foundation
import Testing
@testable import Acme

@Suite struct Base64URLTests {
    /// RFC 4648 §10 test vectors, without the padding base64url drops.
    @Test func rfc4648Vectors() {
        let vectors = [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"),
                       ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy")]
        for (plain, encoded) in vectors {
            #expect(Base64URL.encode(plain) == encoded)
            #expect(Base64URL.decode(encoded) == Array(plain.utf8))
        }
    }

    @Test func urlSafeAlphabet() {
        // 0xFB 0xFF is "+/8=" in standard base64 (RFC 4648 §4 alphabet).
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.decode("-_8") == [0xFB, 0xFF])
    }

    @Test func rejectsPaddingAndBadLength() {
        #expect(Base64URL.decode("Zg==") == nil)
        #expect(Base64URL.decode("Zm9vY") == nil)
        #expect(Base64URL.decode("+/8") == nil)
    }
}

@Suite struct JSONWebKeyTests {
    /// The RSA key of RFC 7638 §3.1 and its published thumbprint.
    static let rfc7638Modulus = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"

    @Test func rfc7638ThumbprintRSA() throws {
        let key = JSONWebKey.rsa(modulus: Self.rfc7638Modulus, exponent: "AQAB")
        // RFC 7638 §3.1 prints the canonical JSON (the line breaks there are for display only).
        #expect(key.canonicalJSON == "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"\(Self.rfc7638Modulus)\"}")
        #expect(try key.thumbprint() == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    /// The EC public key of RFC 7517 Appendix A.1; the expected digest comes
    /// from `openssl dgst` over the RFC 7638 §3.2 canonical form.
    @Test func thumbprintEC() throws {
        let key = JSONWebKey.ellipticCurve(curve: "P-256", x: "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
                                           y: "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM")
        let canonical = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\",\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\"}"
        #expect(key.canonicalJSON == canonical)
        let digest = try runChecked(["openssl", "dgst", "-sha256", "-binary"], stdin: Data(canonical.utf8)).stdout
        #expect(try key.thumbprint() == Base64URL.encode(digest))
    }

    /// RFC 8555 §8.1: keyAuthorization = token || '.' || base64url(Thumbprint(accountKey)).
    @Test func keyAuthorization() throws {
        let key = JSONWebKey.rsa(modulus: Self.rfc7638Modulus, exponent: "AQAB")
        let token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
        #expect(try key.keyAuthorization(token: token) == token + ".NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    /// The JWK of a key made by the openssl CLI matches the point it exports.
    @Test func p256KeyMatchesOpenSSL() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let keyFile = directory.file("key.pem")
        try runChecked(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyFile])
        let spki = try runChecked(["openssl", "pkey", "-in", keyFile, "-pubout", "-outform", "DER"]).stdout

        let key = try LibCryptoP256Key(encoded: Array(try Data(contentsOf: URL(fileURLWithPath: keyFile))))
        // A P-256 SubjectPublicKeyInfo ends with the 65-byte uncompressed point 04 || x || y.
        let point = Array(spki.suffix(65))
        #expect(point[0] == 0x04)
        #expect(key.publicJWK == .ellipticCurve(curve: "P-256", x: Base64URL.encode(point[1...32]),
                                                y: Base64URL.encode(point[33...])))
        #expect(key.subjectPublicKeyInfo == Array(spki))
    }

    @Test func rejectsNonP256Key() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let keyFile = directory.file("key.pem")
        try runChecked(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", keyFile])
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: keyFile)))
        #expect(throws: ACMEError.self) { try LibCryptoP256Key(encoded: bytes) }
    }
}
