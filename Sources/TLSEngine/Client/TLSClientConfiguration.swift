import CapnetBase

/// Everything a TLS 1.3 client needs besides the server it connects to.
public struct TLSClientConfiguration: Sendable {
    /// Roots the server's chain must lead to.
    public var trustStore: TrustStore
    /// The time certificates are checked at, in seconds since the Unix epoch; the wall clock by default.
    public var verificationTime: @Sendable () -> Int64 = { wallClockNanoseconds() / 1_000_000_000 }
    public var cipherSuites: [CipherSuite] = [.tlsAES128GCMSHA256, .tlsAES256GCMSHA384, .tlsChaCha20Poly1305SHA256]
    /// Groups offered, preferred first; the first one gets a key share in the first ClientHello.
    public var groups: [NamedGroup] = [.x25519, .secp256r1, .secp384r1]
    public var signatureSchemes: [SignatureScheme] = [
        .ecdsaSecp256r1SHA256, .ecdsaSecp384r1SHA384, .ed25519,
        .rsaPSSRSAESHA256, .rsaPSSRSAESHA384, .rsaPSSRSAESHA512,
    ]
    /// ALPN protocol names offered, preferred first; empty sends no ALPN.
    public var applicationProtocols: [String] = []
    public var keyLog: (any TLSKeyLog)?
    public var provider: CryptoProvider = .shared

    public init(trustStore: TrustStore) {
        self.trustStore = trustStore
    }
}
