/// A resource record TYPE (RFC 1035 §3.2.2); unknown values are kept.
public struct DNSRecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// A host address (RFC 1035 §3.4.1).
    public static let a = DNSRecordType(rawValue: 1)
    /// The canonical name for an alias (RFC 1035 §3.3.1).
    public static let cname = DNSRecordType(rawValue: 5)
    /// An IPv6 host address (RFC 3596 §2.1).
    public static let aaaa = DNSRecordType(rawValue: 28)

    public var description: String {
        switch self {
        case .a: "A"
        case .cname: "CNAME"
        case .aaaa: "AAAA"
        default: "TYPE\(rawValue)"
        }
    }
}

/// A resource record CLASS (RFC 1035 §3.2.4); unknown values are kept.
public struct DNSClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The Internet.
    public static let internet = DNSClass(rawValue: 1)

    public var description: String { self == .internet ? "IN" : "CLASS\(rawValue)" }
}

/// A response code (RFC 1035 §4.1.1, RFC 6895); unknown values are kept.
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let noError = DNSResponseCode(rawValue: 0)
    /// FORMERR: the server could not interpret the query.
    public static let formatError = DNSResponseCode(rawValue: 1)
    /// SERVFAIL: the server could not process the query.
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    /// NXDOMAIN: the name does not exist.
    public static let nameError = DNSResponseCode(rawValue: 3)
    /// NOTIMP: the server does not support this kind of query.
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    /// REFUSED: the server rejects queries from this client, by policy.
    public static let refused = DNSResponseCode(rawValue: 5)

    public var description: String {
        switch self {
        case .noError: "NOERROR"
        case .formatError: "FORMERR"
        case .serverFailure: "SERVFAIL"
        case .nameError: "NXDOMAIN"
        case .notImplemented: "NOTIMP"
        case .refused: "REFUSED"
        default: "RCODE\(rawValue)"
        }
    }
}

/// The fixed 12-octet header of a DNS message (RFC 1035 §4.1.1).
public struct DNSHeader: Hashable, Sendable {
    public var id: UInt16
    /// QR: true in a response.
    public var isResponse: Bool
    public var opcode: UInt8
    /// AA: the server is an authority for the name.
    public var isAuthoritative: Bool
    /// TC: the message was cut to fit the transport.
    public var isTruncated: Bool
    /// RD: the client asks the server to recurse.
    public var recursionDesired: Bool
    /// RA: the server offers recursion.
    public var recursionAvailable: Bool
    public var responseCode: DNSResponseCode
    public var questionCount: UInt16
    public var answerCount: UInt16
    public var authorityCount: UInt16
    public var additionalCount: UInt16
}

/// One entry of the question section (RFC 1035 §4.1.2).
public struct DNSQuestion: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSRecordType
    public var recordClass: DNSClass

    public init(name: DNSName, type: DNSRecordType = .a, recordClass: DNSClass = .internet) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
    }
}

/// One resource record of the answer section (RFC 1035 §4.1.3).
public struct DNSResourceRecord: Hashable, Sendable {
    public enum RecordData: Hashable, Sendable {
        case a(IPv4Address)
        case cname(DNSName)
        /// RDATA of any other type or class, not interpreted.
        case other
    }

    public var name: DNSName
    public var type: DNSRecordType
    public var recordClass: DNSClass
    /// Seconds the record may be cached. RFC 2181 §8 reads a TTL with the top
    /// bit set as 0, and the parser stores it so.
    public var timeToLive: UInt32
    public var data: RecordData
}

/// A parsed DNS message: the header, the question section and the answer
/// section. The authority and additional sections are not parsed, because a
/// stub resolver asking for A records takes nothing from them.
public struct DNSMessage: Hashable, Sendable {
    public var header: DNSHeader
    public var questions: [DNSQuestion]
    public var answers: [DNSResourceRecord]
}
