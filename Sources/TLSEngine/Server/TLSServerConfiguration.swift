/// Everything a TLS 1.3 server needs that is not per connection.
public struct TLSServerConfiguration: Sendable {
    /// The certificates and keys to present, chosen by SNI.
    public var certificates: CertificateSource
    /// Cipher suites in server preference order; the first one the client also offers wins.
    public var cipherSuites: [CipherSuite] = [.tlsAES128GCMSHA256, .tlsAES256GCMSHA384, .tlsChaCha20Poly1305SHA256]
    /// Key exchange groups in server preference order. When the client supports
    /// the first mutual group but sent no share for it, the server sends a
    /// HelloRetryRequest for that group.
    public var groups: [NamedGroup] = [.x25519, .secp256r1, .secp384r1]
    /// ALPN protocol names (RFC 7301) in server preference order; empty turns ALPN off.
    public var applicationProtocols: [String] = []
    /// Where traffic secrets go in the NSS key log format; `nil` (the default) logs none.
    public var keyLog: (any TLSKeyLog)?
    /// Padding of protected records.
    public var recordPadding: RecordPaddingPolicy = .none
    /// The record_size_limit (RFC 8449) announced to clients that send one:
    /// the largest inner plaintext accepted, type byte included, 64...2^14+1.
    public var recordSizeLimit = RecordLayer.maxPlaintextLength + 1
    /// How many bytes of rejected 0-RTT data are skipped before the connection
    /// fails (RFC 8446 §4.2.10); the server never accepts early data.
    public var maxEarlyDataSkipped = 1 << 14
    /// Session tickets for resumption; `nil` sends none and resumes nothing.
    public var sessionTickets: SessionTicketKeys?
    public var provider: CryptoProvider = .shared

    public init(certificates: CertificateSource) {
        self.certificates = certificates
    }
}

/// What a completed handshake agreed on.
public struct NegotiatedParameters: Sendable, Equatable {
    public var version: ProtocolVersion = .tls13
    public var cipherSuite: CipherSuite
    /// `nil` for a PSK-only resumption; always set for this server, which requires (EC)DHE.
    public var group: NamedGroup?
    /// `nil` when the handshake was resumed from a PSK and no signature was made.
    public var signatureScheme: SignatureScheme?
    /// The SNI host name the client sent, lowercased.
    public var serverName: String?
    public var applicationProtocol: String?
    public var usedHelloRetryRequest: Bool
    public var resumed: Bool
}

/// Something the connection reports after `receive`.
public enum TLSEvent: Sendable, Equatable {
    case handshakeCompleted(NegotiatedParameters)
    case applicationData([UInt8])
    /// The peer rotated its sending keys; `updateRequested` says whether it asked us to rotate ours (done already).
    case keyUpdateReceived(updateRequested: Bool)
    /// The peer sent close_notify: it sends nothing more. Call `close()` to answer it.
    case closeNotifyReceived
    /// The connection failed; the alert, if any, is in the output. Close the transport after sending it.
    case failed(TLSError)
}
