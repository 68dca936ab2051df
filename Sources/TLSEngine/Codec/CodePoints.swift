// TLS code points as open RawRepresentable structs: a value the peer sends
// that this file does not name is kept as-is and compared by number, never
// rejected for being unknown. Values are from the IANA "Transport Layer
// Security (TLS) Parameters" and "TLS ExtensionType Values" registries.

/// `ContentType` of a record (RFC 8446 §5.1).
public struct ContentType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let invalid = ContentType(rawValue: 0)
    public static let changeCipherSpec = ContentType(rawValue: 20)
    public static let alert = ContentType(rawValue: 21)
    public static let handshake = ContentType(rawValue: 22)
    public static let applicationData = ContentType(rawValue: 23)

    public var description: String {
        switch self {
        case .changeCipherSpec: "change_cipher_spec"
        case .alert: "alert"
        case .handshake: "handshake"
        case .applicationData: "application_data"
        default: "content_type(\(rawValue))"
        }
    }
}

/// `HandshakeType` (RFC 8446 §4).
public struct HandshakeType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let clientHello = HandshakeType(rawValue: 1)
    public static let serverHello = HandshakeType(rawValue: 2)
    public static let newSessionTicket = HandshakeType(rawValue: 4)
    public static let endOfEarlyData = HandshakeType(rawValue: 5)
    public static let encryptedExtensions = HandshakeType(rawValue: 8)
    public static let certificate = HandshakeType(rawValue: 11)
    public static let certificateRequest = HandshakeType(rawValue: 13)
    public static let certificateVerify = HandshakeType(rawValue: 15)
    public static let finished = HandshakeType(rawValue: 20)
    public static let keyUpdate = HandshakeType(rawValue: 24)
    /// The synthetic message that replaces ClientHello1 in the transcript after a HelloRetryRequest (RFC 8446 §4.4.1).
    public static let messageHash = HandshakeType(rawValue: 254)

    public var description: String {
        switch self {
        case .clientHello: "ClientHello"
        case .serverHello: "ServerHello"
        case .newSessionTicket: "NewSessionTicket"
        case .endOfEarlyData: "EndOfEarlyData"
        case .encryptedExtensions: "EncryptedExtensions"
        case .certificate: "Certificate"
        case .certificateRequest: "CertificateRequest"
        case .certificateVerify: "CertificateVerify"
        case .finished: "Finished"
        case .keyUpdate: "KeyUpdate"
        default: "handshake_type(\(rawValue))"
        }
    }
}

/// `ProtocolVersion` (RFC 8446 §4.1.2, §4.2.1).
public struct ProtocolVersion: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let tls10 = ProtocolVersion(rawValue: 0x0301)
    public static let tls12 = ProtocolVersion(rawValue: 0x0303)
    public static let tls13 = ProtocolVersion(rawValue: 0x0304)
}

/// `ExtensionType` (RFC 8446 §4.2 and the IANA registry).
public struct ExtensionType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let serverName = ExtensionType(rawValue: 0)
    public static let supportedGroups = ExtensionType(rawValue: 10)
    public static let signatureAlgorithms = ExtensionType(rawValue: 13)
    public static let applicationLayerProtocolNegotiation = ExtensionType(rawValue: 16)
    /// RFC 8449.
    public static let recordSizeLimit = ExtensionType(rawValue: 28)
    public static let preSharedKey = ExtensionType(rawValue: 41)
    public static let earlyData = ExtensionType(rawValue: 42)
    public static let supportedVersions = ExtensionType(rawValue: 43)
    public static let cookie = ExtensionType(rawValue: 44)
    public static let pskKeyExchangeModes = ExtensionType(rawValue: 45)
    public static let signatureAlgorithmsCert = ExtensionType(rawValue: 50)
    public static let keyShare = ExtensionType(rawValue: 51)

    public var description: String { "extension(\(rawValue))" }
}

/// `CipherSuite` (RFC 8446 §B.4).
public struct CipherSuite: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let tlsAES128GCMSHA256 = CipherSuite(rawValue: 0x1301)
    public static let tlsAES256GCMSHA384 = CipherSuite(rawValue: 0x1302)
    public static let tlsChaCha20Poly1305SHA256 = CipherSuite(rawValue: 0x1303)

    /// The AEAD and hash of a TLS 1.3 suite this engine implements, or `nil`.
    public var algorithms: (aead: AEADAlgorithm, hash: HashAlgorithm)? {
        switch self {
        case .tlsAES128GCMSHA256: (.aes128GCM, .sha256)
        case .tlsAES256GCMSHA384: (.aes256GCM, .sha384)
        case .tlsChaCha20Poly1305SHA256: (.chacha20Poly1305, .sha256)
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .tlsAES128GCMSHA256: "TLS_AES_128_GCM_SHA256"
        case .tlsAES256GCMSHA384: "TLS_AES_256_GCM_SHA384"
        case .tlsChaCha20Poly1305SHA256: "TLS_CHACHA20_POLY1305_SHA256"
        default: "cipher_suite(0x\(String(rawValue, radix: 16)))"
        }
    }
}

/// `NamedGroup` (RFC 8446 §4.2.7).
public struct NamedGroup: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let secp256r1 = NamedGroup(rawValue: 0x0017)
    public static let secp384r1 = NamedGroup(rawValue: 0x0018)
    public static let secp521r1 = NamedGroup(rawValue: 0x0019)
    public static let x25519 = NamedGroup(rawValue: 0x001D)
    public static let x448 = NamedGroup(rawValue: 0x001E)

    public var description: String {
        switch self {
        case .secp256r1: "secp256r1"
        case .secp384r1: "secp384r1"
        case .secp521r1: "secp521r1"
        case .x25519: "x25519"
        case .x448: "x448"
        default: "group(0x\(String(rawValue, radix: 16)))"
        }
    }
}

/// `SignatureScheme` (RFC 8446 §4.2.3).
public struct SignatureScheme: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let rsaPKCS1SHA256 = SignatureScheme(rawValue: 0x0401)
    public static let ecdsaSecp256r1SHA256 = SignatureScheme(rawValue: 0x0403)
    public static let ecdsaSecp384r1SHA384 = SignatureScheme(rawValue: 0x0503)
    public static let ecdsaSecp521r1SHA512 = SignatureScheme(rawValue: 0x0603)
    public static let rsaPSSRSAESHA256 = SignatureScheme(rawValue: 0x0804)
    public static let rsaPSSRSAESHA384 = SignatureScheme(rawValue: 0x0805)
    public static let rsaPSSRSAESHA512 = SignatureScheme(rawValue: 0x0806)
    public static let ed25519 = SignatureScheme(rawValue: 0x0807)
    public static let rsaPSSPSSSHA256 = SignatureScheme(rawValue: 0x0809)

    public var description: String {
        switch self {
        case .ecdsaSecp256r1SHA256: "ecdsa_secp256r1_sha256"
        case .ecdsaSecp384r1SHA384: "ecdsa_secp384r1_sha384"
        case .rsaPSSRSAESHA256: "rsa_pss_rsae_sha256"
        case .rsaPSSRSAESHA384: "rsa_pss_rsae_sha384"
        case .rsaPSSRSAESHA512: "rsa_pss_rsae_sha512"
        case .ed25519: "ed25519"
        default: "signature_scheme(0x\(String(rawValue, radix: 16)))"
        }
    }
}

/// `PskKeyExchangeMode` (RFC 8446 §4.2.9).
public struct PSKKeyExchangeMode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let pskKE = PSKKeyExchangeMode(rawValue: 0)
    public static let pskDHEKE = PSKKeyExchangeMode(rawValue: 1)
}

/// `KeyUpdateRequest` (RFC 8446 §4.6.3).
public struct KeyUpdateRequest: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let updateNotRequested = KeyUpdateRequest(rawValue: 0)
    public static let updateRequested = KeyUpdateRequest(rawValue: 1)
}

/// `AlertDescription` (RFC 8446 §6).
public struct AlertDescription: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let closeNotify = AlertDescription(rawValue: 0)
    public static let unexpectedMessage = AlertDescription(rawValue: 10)
    public static let badRecordMAC = AlertDescription(rawValue: 20)
    public static let recordOverflow = AlertDescription(rawValue: 22)
    public static let handshakeFailure = AlertDescription(rawValue: 40)
    public static let badCertificate = AlertDescription(rawValue: 42)
    public static let unsupportedCertificate = AlertDescription(rawValue: 43)
    public static let certificateRevoked = AlertDescription(rawValue: 44)
    public static let certificateExpired = AlertDescription(rawValue: 45)
    public static let certificateUnknown = AlertDescription(rawValue: 46)
    public static let illegalParameter = AlertDescription(rawValue: 47)
    public static let unknownCA = AlertDescription(rawValue: 48)
    public static let decodeError = AlertDescription(rawValue: 50)
    public static let decryptError = AlertDescription(rawValue: 51)
    public static let protocolVersion = AlertDescription(rawValue: 70)
    public static let insufficientSecurity = AlertDescription(rawValue: 71)
    public static let internalError = AlertDescription(rawValue: 80)
    public static let userCanceled = AlertDescription(rawValue: 90)
    public static let missingExtension = AlertDescription(rawValue: 109)
    public static let unsupportedExtension = AlertDescription(rawValue: 110)
    public static let unrecognizedName = AlertDescription(rawValue: 112)
    public static let noApplicationProtocol = AlertDescription(rawValue: 120)

    public var description: String {
        switch self {
        case .closeNotify: "close_notify"
        case .unexpectedMessage: "unexpected_message"
        case .badRecordMAC: "bad_record_mac"
        case .recordOverflow: "record_overflow"
        case .handshakeFailure: "handshake_failure"
        case .badCertificate: "bad_certificate"
        case .unsupportedCertificate: "unsupported_certificate"
        case .certificateExpired: "certificate_expired"
        case .certificateUnknown: "certificate_unknown"
        case .illegalParameter: "illegal_parameter"
        case .unknownCA: "unknown_ca"
        case .decodeError: "decode_error"
        case .decryptError: "decrypt_error"
        case .protocolVersion: "protocol_version"
        case .insufficientSecurity: "insufficient_security"
        case .internalError: "internal_error"
        case .userCanceled: "user_canceled"
        case .missingExtension: "missing_extension"
        case .unsupportedExtension: "unsupported_extension"
        case .unrecognizedName: "unrecognized_name"
        case .noApplicationProtocol: "no_application_protocol"
        default: "alert(\(rawValue))"
        }
    }
}

/// `AlertLevel` (RFC 8446 §6). TLS 1.3 ignores the level for meaning, but it is sent.
public struct AlertLevel: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let warning = AlertLevel(rawValue: 1)
    public static let fatal = AlertLevel(rawValue: 2)
}

/// Whether `value` is a GREASE code point (RFC 8701 §2): both bytes equal and of the form 0x?A.
public func isGREASE(_ value: UInt16) -> Bool {
    (value & 0x0F0F) == 0x0A0A && (value >> 8) == (value & 0xFF)
}
