/// The identifier an order names (RFC 8555 §9.7.7): "dns" names and, by
/// RFC 8738 §3, "ip" addresses in their textual form.
public struct ACMEIdentifier: Codable, Hashable, Sendable, CustomStringConvertible {
    public var type: String
    public var value: String

    public init(type: String, value: String) {
        self.type = type
        self.value = value
    }

    /// A DNS name identifier (RFC 8555 §9.7.7).
    public static func dns(_ name: String) -> ACMEIdentifier { .init(type: "dns", value: name) }
    /// An IP address identifier (RFC 8738 §3), for example "127.0.0.1".
    public static func ip(_ address: String) -> ACMEIdentifier { .init(type: "ip", value: address) }

    public var description: String { "\(type):\(value)" }
}

/// A status of an account, order, authorization or challenge (RFC 8555 §7.1.6).
public struct ACMEStatus: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(from decoder: Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static let pending = Self(rawValue: "pending")
    public static let ready = Self(rawValue: "ready")
    public static let processing = Self(rawValue: "processing")
    public static let valid = Self(rawValue: "valid")
    public static let invalid = Self(rawValue: "invalid")
    public static let deactivated = Self(rawValue: "deactivated")
    public static let expired = Self(rawValue: "expired")
    public static let revoked = Self(rawValue: "revoked")

    public var description: String { rawValue }
}

/// The directory object (RFC 8555 §7.1.1), plus `renewalInfo` (RFC 9773 §4).
public struct ACMEDirectory: Decodable, Sendable {
    public var newNonce: String
    public var newAccount: String
    public var newOrder: String
    public var revokeCert: String?
    public var keyChange: String?
    public var renewalInfo: String?
    public var meta: Meta?

    public struct Meta: Decodable, Sendable {
        public var termsOfService: String?
        public var website: String?
        public var caaIdentities: [String]?
        public var externalAccountRequired: Bool?
    }
}

/// An account object (RFC 8555 §7.1.2).
public struct ACMEAccount: Decodable, Sendable {
    public var status: ACMEStatus
    public var contact: [String]?
    public var orders: String?
}

/// An order object (RFC 8555 §7.1.3).
public struct ACMEOrder: Decodable, Sendable {
    public var status: ACMEStatus
    public var expires: String?
    public var identifiers: [ACMEIdentifier]
    public var authorizations: [String]
    public var finalize: String
    public var certificate: String?
    public var error: ACMEProblem?
}

/// An authorization object (RFC 8555 §7.1.4).
public struct ACMEAuthorization: Decodable, Sendable {
    public var identifier: ACMEIdentifier
    public var status: ACMEStatus
    public var expires: String?
    public var challenges: [ACMEChallenge]
    public var wildcard: Bool?
}

/// A challenge object (RFC 8555 §7.1.5, §8).
public struct ACMEChallenge: Decodable, Sendable {
    public var type: String
    public var url: String
    public var status: ACMEStatus
    public var token: String?
    public var validated: String?
    public var error: ACMEProblem?

    /// The challenge type this client answers (RFC 8555 §8.3).
    public static let http01 = "http-01"
}

/// A renewalInfo response (RFC 9773 §4.2).
public struct ACMERenewalInfo: Decodable, Sendable {
    public var suggestedWindow: Window
    public var explanationURL: String?

    public struct Window: Decodable, Sendable {
        public var start: String
        public var end: String
    }
}
