/// A TLS protocol error: the exact violation, and the alert it ends the connection with.
///
/// Every place that rejects peer input throws one of these; the mapping from
/// violation to alert (RFC 8446 §6.2) is `alert`, the only such table.
public struct TLSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The class of violation; each maps to exactly one alert.
    public enum Kind: Hashable, Sendable {
        /// A length prefix or fixed field runs past its enclosing structure.
        case truncated
        /// Bytes remain after a structure that must end exactly there.
        case trailingBytes
        /// A length is outside the range the RFC's presentation language gives.
        case lengthOutOfRange
        /// A field has a value the RFC forbids, or two fields disagree.
        case illegalParameter
        /// A message or record arrived in a state where it is not allowed.
        case unexpectedMessage
        /// A record or its plaintext exceeds the negotiated size limit.
        case recordOverflow
        /// A protected record failed AEAD authentication.
        case badRecordMAC
        /// The peer offers no TLS 1.3.
        case protocolVersion
        /// No acceptable set of parameters: suite, group, signature scheme.
        case handshakeFailure
        /// A Finished or signature did not verify.
        case decryptError
        /// A mandatory extension is absent (RFC 8446 §9.2).
        case missingExtension
        /// An extension appeared in a message that must not carry it.
        case unsupportedExtension
        /// The client offered ALPN but shares no protocol with the server.
        case noApplicationProtocol
        /// The certificate chain or its host name did not verify.
        case badCertificate
        /// A certificate is outside its validity period at the verification time.
        case certificateExpired
        /// The chain does not lead to a trusted root.
        case unknownCA
        /// No certificate for the requested server name and no default.
        case unrecognizedName
        /// A local failure: a crypto call or a bound the engine sets.
        case internalError
        /// The peer sent a fatal alert; nothing is sent back.
        case peerAlert(AlertDescription)
        /// The connection was already closed.
        case closed
    }

    public let kind: Kind
    /// The exact violation, with the values involved.
    public let reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    /// The alert to send for this error, or `nil` when none is sent.
    public var alert: AlertDescription? {
        switch kind {
        case .truncated, .trailingBytes, .lengthOutOfRange: .decodeError
        case .illegalParameter: .illegalParameter
        case .unexpectedMessage: .unexpectedMessage
        case .recordOverflow: .recordOverflow
        case .badRecordMAC: .badRecordMAC
        case .protocolVersion: .protocolVersion
        case .handshakeFailure: .handshakeFailure
        case .decryptError: .decryptError
        case .missingExtension: .missingExtension
        case .unsupportedExtension: .unsupportedExtension
        case .noApplicationProtocol: .noApplicationProtocol
        case .badCertificate: .badCertificate
        case .certificateExpired: .certificateExpired
        case .unknownCA: .unknownCA
        case .unrecognizedName: .unrecognizedName
        case .internalError: .internalError
        case .peerAlert, .closed: nil
        }
    }

    public var description: String {
        if let alert { return "\(reason) (alert \(alert))" }
        return reason
    }
}
