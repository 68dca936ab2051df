/// `CertificateRequest` (RFC 8446 §4.3.2).
public struct CertificateRequest: Sendable {
    /// The context the client's Certificate message echoes. It is empty during the handshake.
    public var certificateRequestContext: [UInt8]
    public var extensions: ExtensionList

    public init(certificateRequestContext: [UInt8] = [], extensions: ExtensionList) {
        self.certificateRequestContext = certificateRequestContext
        self.extensions = extensions
    }

    /// Parses the body, which must carry `signature_algorithms` (RFC 8446 §4.3.2).
    public init(body: [UInt8]) throws {
        var reader = ByteReader(body)
        certificateRequestContext = try reader.readOpaque(prefixBytes: 1, lengths: 0...255,
                                                          "certificate_request_context")
        extensions = try ExtensionList.read(from: &reader, lengths: 2...0xFFFF, message: "CertificateRequest")
        try reader.finish("CertificateRequest")
        guard extensions.contains(.signatureAlgorithms) else {
            throw TLSError(.missingExtension, "CertificateRequest without signature_algorithms")
        }
    }

    public func encodeBody() -> [UInt8] {
        var writer = ByteWriter()
        writer.writeOpaque(prefixBytes: 1, certificateRequestContext)
        extensions.write(to: &writer)
        return writer.bytes
    }
}
