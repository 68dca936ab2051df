/// `Handshake` framing (RFC 8446 §4): `msg_type`, a 24-bit length, then the body.
public struct HandshakeHeader {
    public static let length = 4

    /// Writes the header and body of one handshake message.
    public static func encode(_ type: HandshakeType, body: [UInt8]) -> [UInt8] {
        var writer = ByteWriter(capacity: length + body.count)
        writer.writeUInt8(type.rawValue)
        writer.writeUInt24(body.count)
        writer.writeBytes(body)
        return writer.bytes
    }
}

/// `ClientHello` (RFC 8446 §4.1.2).
public struct ClientHello: Sendable {
    public var legacyVersion: ProtocolVersion
    public var random: [UInt8]
    public var legacySessionID: [UInt8]
    public var cipherSuites: [CipherSuite]
    public var legacyCompressionMethods: [UInt8]
    public var extensions: ExtensionList

    /// The length of `Random` (RFC 8446 §4.1.2).
    public static let randomLength = 32

    public init(legacyVersion: ProtocolVersion = .tls12, random: [UInt8], legacySessionID: [UInt8],
                cipherSuites: [CipherSuite], legacyCompressionMethods: [UInt8] = [0],
                extensions: ExtensionList) {
        self.legacyVersion = legacyVersion
        self.random = random
        self.legacySessionID = legacySessionID
        self.cipherSuites = cipherSuites
        self.legacyCompressionMethods = legacyCompressionMethods
        self.extensions = extensions
    }

    /// Parses a ClientHello body (the handshake header removed).
    public init(body: [UInt8]) throws {
        var reader = ByteReader(body)
        legacyVersion = ProtocolVersion(rawValue: try reader.readUInt16("legacy_version"))
        random = try reader.readBytes(Self.randomLength, "random")
        legacySessionID = try reader.readOpaque(prefixBytes: 1, lengths: 0...32, "legacy_session_id")
        cipherSuites = try reader.readVector(prefixBytes: 2, lengths: 2...0xFFFE, "cipher_suites") {
            CipherSuite(rawValue: try $0.readUInt16("CipherSuite"))
        }
        legacyCompressionMethods = try reader.readOpaque(prefixBytes: 1, lengths: 1...255,
                                                         "legacy_compression_methods")
        // A TLS 1.2 ClientHello may omit extensions entirely (RFC 5246 §7.4.1.2);
        // it then fails version negotiation, not decoding.
        if reader.isEmpty {
            extensions = ExtensionList()
        } else {
            extensions = try ExtensionList.read(from: &reader, lengths: 0...0xFFFF, message: "ClientHello")
        }
        try reader.finish("ClientHello")

        // RFC 8446 §4.2.11: pre_shared_key must be the last extension.
        if let index = extensions.extensions.firstIndex(where: { $0.type == .preSharedKey }),
           index != extensions.extensions.count - 1 {
            throw TLSError(.illegalParameter, "ClientHello pre_shared_key is not the last extension")
        }
    }

    public func encodeBody() -> [UInt8] {
        var writer = ByteWriter(capacity: 512)
        writer.writeUInt16(legacyVersion.rawValue)
        writer.writeBytes(random)
        writer.writeOpaque(prefixBytes: 1, legacySessionID)
        writer.writeNested(prefixBytes: 2) { list in
            for suite in cipherSuites { list.writeUInt16(suite.rawValue) }
        }
        writer.writeOpaque(prefixBytes: 1, legacyCompressionMethods)
        extensions.write(to: &writer)
        return writer.bytes
    }
}

/// `ServerHello` (RFC 8446 §4.1.3), also carrying a HelloRetryRequest.
public struct ServerHello: Sendable {
    public var random: [UInt8]
    public var legacySessionIDEcho: [UInt8]
    public var cipherSuite: CipherSuite
    public var extensions: ExtensionList

    /// `Random` of a HelloRetryRequest: SHA-256 of "HelloRetryRequest" (RFC 8446 §4.1.3).
    public static let helloRetryRequestRandom: [UInt8] = [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ]

    public init(random: [UInt8], legacySessionIDEcho: [UInt8], cipherSuite: CipherSuite, extensions: ExtensionList) {
        self.random = random
        self.legacySessionIDEcho = legacySessionIDEcho
        self.cipherSuite = cipherSuite
        self.extensions = extensions
    }

    public var isHelloRetryRequest: Bool { random == Self.helloRetryRequestRandom }

    public init(body: [UInt8]) throws {
        var reader = ByteReader(body)
        let version = try reader.readUInt16("legacy_version")
        guard version == ProtocolVersion.tls12.rawValue else {
            throw TLSError(.protocolVersion, "ServerHello legacy_version 0x\(String(version, radix: 16))")
        }
        random = try reader.readBytes(ClientHello.randomLength, "random")
        legacySessionIDEcho = try reader.readOpaque(prefixBytes: 1, lengths: 0...32, "legacy_session_id_echo")
        cipherSuite = CipherSuite(rawValue: try reader.readUInt16("cipher_suite"))
        let compression = try reader.readUInt8("legacy_compression_method")
        guard compression == 0 else {
            throw TLSError(.illegalParameter, "ServerHello legacy_compression_method \(compression)")
        }
        extensions = try ExtensionList.read(from: &reader, lengths: 6...0xFFFF, message: "ServerHello")
        try reader.finish("ServerHello")
    }

    public func encodeBody() -> [UInt8] {
        var writer = ByteWriter(capacity: 128)
        writer.writeUInt16(ProtocolVersion.tls12.rawValue)
        writer.writeBytes(random)
        writer.writeOpaque(prefixBytes: 1, legacySessionIDEcho)
        writer.writeUInt16(cipherSuite.rawValue)
        writer.writeUInt8(0)
        extensions.write(to: &writer)
        return writer.bytes
    }
}

/// `EncryptedExtensions` (RFC 8446 §4.3.1).
public struct EncryptedExtensions: Sendable {
    public var extensions: ExtensionList

    public init(extensions: ExtensionList) { self.extensions = extensions }

    public init(body: [UInt8]) throws {
        var reader = ByteReader(body)
        extensions = try ExtensionList.read(from: &reader, lengths: 0...0xFFFF, message: "EncryptedExtensions")
        try reader.finish("EncryptedExtensions")
    }

    public func encodeBody() -> [UInt8] {
        var writer = ByteWriter()
        extensions.write(to: &writer)
        return writer.bytes
    }
}

/// `Certificate` (RFC 8446 §4.4.2) with X.509 entries.
public struct CertificateMessage: Sendable {
    public struct Entry: Sendable {
        /// DER `cert_data`.
        public var certificateData: [UInt8]
        public var extensions: ExtensionList
    }

    public var certificateRequestContext: [UInt8]
    public var entries: [Entry]

    public init(certificateRequestContext: [UInt8] = [], chain: [[UInt8]]) {
        self.certificateRequestContext = certificateRequestContext
        entries = chain.map { Entry(certificateData: $0, extensions: ExtensionList()) }
    }

    public init(body: [UInt8]) throws {
        var reader = ByteReader(body)
        certificateRequestContext = try reader.readOpaque(prefixBytes: 1, lengths: 0...255,
                                                          "certificate_request_context")
        entries = try reader.readVector(prefixBytes: 3, lengths: 0...0xFFFFFF, "certificate_list") { entry in
            let data = try entry.readOpaque(prefixBytes: 3, lengths: 1...0xFFFFFF, "cert_data")
            let extensions = try ExtensionList.read(from: &entry, lengths: 0...0xFFFF, message: "CertificateEntry")
            return Entry(certificateData: data, extensions: extensions)
        }
        try reader.finish("Certificate")
    }

    public func encodeBody() -> [UInt8] {
        var writer = ByteWriter(capacity: entries.reduce(16) { $0 + $1.certificateData.count + 8 })
        writer.writeOpaque(prefixBytes: 1, certificateRequestContext)
        writer.writeNested(prefixBytes: 3) { list in
            for entry in entries {
                list.writeOpaque(prefixBytes: 3, entry.certificateData)
                entry.extensions.write(to: &list)
            }
        }
        return writer.bytes
    }
}

/// `CertificateVerify` (RFC 8446 §4.4.3).
public struct CertificateVerify: Sendable {
    public var algorithm: SignatureScheme
    public var signature: [UInt8]

    public init(algorithm: SignatureScheme, signature: [UInt8]) {
        self.algorithm = algorithm
        self.signature = signature
    }

    public init(body: [UInt8]) throws {
        var reader = ByteReader(body)
        algorithm = SignatureScheme(rawValue: try reader.readUInt16("algorithm"))
        signature = try reader.readOpaque(prefixBytes: 2, lengths: 0...0xFFFF, "signature")
        try reader.finish("CertificateVerify")
    }

    public func encodeBody() -> [UInt8] {
        var writer = ByteWriter(capacity: signature.count + 4)
        writer.writeUInt16(algorithm.rawValue)
        writer.writeOpaque(prefixBytes: 2, signature)
        return writer.bytes
    }

    /// The bytes a CertificateVerify signature covers (RFC 8446 §4.4.3): 64
    /// spaces, the context string, a zero byte, then the transcript hash.
    public static func signedContent(transcriptHash: [UInt8], server: Bool) -> [UInt8] {
        let context = server ? "TLS 1.3, server CertificateVerify" : "TLS 1.3, client CertificateVerify"
        return [UInt8](repeating: 0x20, count: 64) + Array(context.utf8) + [0] + transcriptHash
    }
}

/// `NewSessionTicket` (RFC 8446 §4.6.1).
public struct NewSessionTicket: Sendable {
    public var ticketLifetime: UInt32
    public var ticketAgeAdd: UInt32
    public var ticketNonce: [UInt8]
    public var ticket: [UInt8]
    public var extensions: ExtensionList

    public init(ticketLifetime: UInt32, ticketAgeAdd: UInt32, ticketNonce: [UInt8], ticket: [UInt8],
                extensions: ExtensionList = ExtensionList()) {
        self.ticketLifetime = ticketLifetime
        self.ticketAgeAdd = ticketAgeAdd
        self.ticketNonce = ticketNonce
        self.ticket = ticket
        self.extensions = extensions
    }

    public init(body: [UInt8]) throws {
        var reader = ByteReader(body)
        ticketLifetime = try reader.readUInt32("ticket_lifetime")
        ticketAgeAdd = try reader.readUInt32("ticket_age_add")
        ticketNonce = try reader.readOpaque(prefixBytes: 1, lengths: 0...255, "ticket_nonce")
        ticket = try reader.readOpaque(prefixBytes: 2, lengths: 1...0xFFFF, "ticket")
        extensions = try ExtensionList.read(from: &reader, lengths: 0...0xFFFE, message: "NewSessionTicket")
        try reader.finish("NewSessionTicket")
    }

    public func encodeBody() -> [UInt8] {
        var writer = ByteWriter(capacity: ticket.count + 32)
        writer.writeUInt32(ticketLifetime)
        writer.writeUInt32(ticketAgeAdd)
        writer.writeOpaque(prefixBytes: 1, ticketNonce)
        writer.writeOpaque(prefixBytes: 2, ticket)
        extensions.write(to: &writer)
        return writer.bytes
    }
}

/// `KeyUpdate` (RFC 8446 §4.6.3).
public struct KeyUpdate: Sendable {
    public var requestUpdate: KeyUpdateRequest

    public init(requestUpdate: KeyUpdateRequest) { self.requestUpdate = requestUpdate }

    /// Parses a KeyUpdate; a request value other than 0 or 1 is `illegal_parameter`.
    public init(body: [UInt8]) throws {
        var reader = ByteReader(body)
        requestUpdate = KeyUpdateRequest(rawValue: try reader.readUInt8("request_update"))
        try reader.finish("KeyUpdate")
        guard requestUpdate == .updateNotRequested || requestUpdate == .updateRequested else {
            throw TLSError(.illegalParameter, "KeyUpdate request_update \(requestUpdate.rawValue)")
        }
    }

    public func encodeBody() -> [UInt8] { [requestUpdate.rawValue] }
}

/// `Finished` (RFC 8446 §4.4.4): `verify_data` of `Hash.length` bytes.
public struct Finished: Sendable {
    public var verifyData: [UInt8]

    public init(verifyData: [UInt8]) { self.verifyData = verifyData }

    public init(body: [UInt8], hashLength: Int) throws {
        guard body.count == hashLength else {
            throw TLSError(.lengthOutOfRange, "Finished has \(body.count) bytes, expected \(hashLength)")
        }
        verifyData = body
    }
}
