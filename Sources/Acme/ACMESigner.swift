/// The ACME account key: signs JWS requests and exposes the public JWK.
///
/// Production adapts the TLS engine's key vault handle, which signs but never
/// exports the private key. Implementations must be usable from the task that
/// drives `ACMEClient`.
public protocol ACMEAccountSigner: AnyObject {
    /// The JWS `alg` value (RFC 7518 §3.1), for example "ES256".
    var algorithm: String { get }
    /// The public key as it appears in the `jwk` header of newAccount.
    var publicJWK: JSONWebKey { get }
    /// An opaque name under which the key can be found again after a restart
    /// (a vault slot, a file path). Stored beside the account URL.
    var keyReference: String { get }
    /// Signs the JWS signing input and returns the JWS signature value, which
    /// for ES256 is the 64-byte `r || s` (RFC 7518 §3.4).
    func signJWS(_ signingInput: [UInt8]) throws -> [UInt8]
}

/// The key the certificate is issued for: signs the PKCS#10 request.
public protocol CertificateRequestSigner: AnyObject {
    /// The DER `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7).
    var subjectPublicKeyInfo: [UInt8] { get }
    /// The DER `AlgorithmIdentifier` of the signature, for example
    /// ecdsa-with-SHA256 (RFC 5758 §3.2).
    var signatureAlgorithmIdentifier: [UInt8] { get }
    /// Signs `message` and returns the signature in its X.509 encoding
    /// (the DER `ECDSA-Sig-Value` for ECDSA, RFC 3279 §2.2.3).
    func signX509(_ message: [UInt8]) throws -> [UInt8]
}
