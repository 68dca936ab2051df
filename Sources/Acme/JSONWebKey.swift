/// A public JSON Web Key (RFC 7517) with only the members that identify it.
///
/// Coordinates and RSA parameters are kept base64url-encoded, as they appear
/// on the wire, so the RFC 7638 canonical form is built from them directly.
public enum JSONWebKey: Equatable, Sendable {
    /// `kty` "EC" (RFC 7518 §6.2.1): curve name and the affine coordinates.
    case ellipticCurve(curve: String, x: String, y: String)
    /// `kty` "RSA" (RFC 7518 §6.3.1): modulus `n` and public exponent `e`.
    case rsa(modulus: String, exponent: String)

    /// The JSON object with the required members only, in lexicographic
    /// order of member names and without whitespace (RFC 7638 §3.2 and
    /// §3.3). ACME embeds the same text in the `jwk` header.
    public var canonicalJSON: String {
        switch self {
        case let .ellipticCurve(curve, x, y):
            return "{\"crv\":\(JSONText.quoted(curve)),\"kty\":\"EC\","
                + "\"x\":\(JSONText.quoted(x)),\"y\":\(JSONText.quoted(y))}"
        case let .rsa(modulus, exponent):
            return "{\"e\":\(JSONText.quoted(exponent)),\"kty\":\"RSA\",\"n\":\(JSONText.quoted(modulus))}"
        }
    }

    /// The JWK thumbprint: base64url of SHA-256 over `canonicalJSON`
    /// (RFC 7638 §3.1, the hash RFC 8555 §8.1 requires).
    public func thumbprint() throws -> String {
        Base64URL.encode(try LibCryptoDigest.sha256(Array(canonicalJSON.utf8)))
    }

    /// The http-01 key authorization: token "." thumbprint (RFC 8555 §8.1).
    public func keyAuthorization(token: String) throws -> String {
        token + "." + (try thumbprint())
    }
}

/// Minimal JSON text helpers for the protected headers, whose member order
/// this module fixes so that tests can compare them byte for byte.
enum JSONText {
    /// Returns `text` as a JSON string literal (RFC 8259 §7).
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                // RFC 8259 §7: control characters below U+0020 must be escaped.
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
