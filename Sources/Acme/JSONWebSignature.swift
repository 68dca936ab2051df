/// A JWS in the flattened JSON serialization (RFC 7515 §7.2.2), the only
/// form ACME accepts (RFC 8555 §6.2).
public struct JSONWebSignature: Equatable, Sendable {
    /// base64url of the protected header JSON.
    public var protected: String
    /// base64url of the payload; empty for POST-as-GET (RFC 8555 §6.3).
    public var payload: String
    /// base64url of the signature over `protected "." payload`.
    public var signature: String

    /// The account key reference in the protected header (RFC 8555 §6.2).
    public enum KeyIdentification: Equatable, Sendable {
        /// The public key itself: newAccount and revocation by certificate key.
        case jwk(JSONWebKey)
        /// The account URL: every other request.
        case keyID(String)
    }

    /// The serialized JWS, with members in a fixed order.
    public var jsonText: String {
        "{\"protected\":\(JSONText.quoted(protected)),\"payload\":\(JSONText.quoted(payload)),"
            + "\"signature\":\(JSONText.quoted(signature))}"
    }

    /// Returns the JWS signing input (RFC 7515 §5.1 step 6).
    static func signingInput(protected: String, payload: String) -> [UInt8] {
        Array((protected + "." + payload).utf8)
    }

    /// Signs an ACME request. `payload` nil means POST-as-GET, whose payload
    /// is the empty string (RFC 8555 §6.3).
    public static func acmeRequest(url: String, nonce: String, key: KeyIdentification,
                                   payload: [UInt8]?, signer: ACMEAccountSigner) throws -> JSONWebSignature {
        // Members in lexicographic order: alg, jwk or kid, nonce, url (RFC 8555 §6.2).
        var header = "{\"alg\":\(JSONText.quoted(signer.algorithm)),"
        switch key {
        case let .jwk(jwk): header += "\"jwk\":\(jwk.canonicalJSON),"
        case let .keyID(accountURL): header += "\"kid\":\(JSONText.quoted(accountURL)),"
        }
        header += "\"nonce\":\(JSONText.quoted(nonce)),\"url\":\(JSONText.quoted(url))}"

        let protected = Base64URL.encode(header)
        let encodedPayload = payload.map { Base64URL.encode($0) } ?? ""
        let signature = try signer.signJWS(signingInput(protected: protected, payload: encodedPayload))
        return JSONWebSignature(protected: protected, payload: encodedPayload,
                                signature: Base64URL.encode(signature))
    }

    /// Builds the External Account Binding JWS (RFC 8555 §7.3.4): HS256 under
    /// the CA-issued MAC key over the account's public JWK, with the CA's
    /// key identifier as `kid` and the newAccount URL as `url`, and no nonce.
    public static func externalAccountBinding(keyID: String, macKey: [UInt8], newAccountURL: String,
                                              accountKey: JSONWebKey) throws -> JSONWebSignature {
        let header = "{\"alg\":\"HS256\",\"kid\":\(JSONText.quoted(keyID)),\"url\":\(JSONText.quoted(newAccountURL))}"
        let protected = Base64URL.encode(header)
        let payload = Base64URL.encode(accountKey.canonicalJSON)
        let mac = try LibCryptoDigest.hmacSHA256(key: macKey, data: signingInput(protected: protected, payload: payload))
        return JSONWebSignature(protected: protected, payload: payload, signature: Base64URL.encode(mac))
    }
}
