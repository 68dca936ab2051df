/// An ICMPv4 message type (RFC 792, IANA "ICMP Type Numbers"). Unknown
/// values are kept so they can be counted.
public struct ICMPv4Type: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let echoReply = ICMPv4Type(rawValue: 0)
    public static let destinationUnreachable = ICMPv4Type(rawValue: 3)
    public static let echoRequest = ICMPv4Type(rawValue: 8)
    public static let timeExceeded = ICMPv4Type(rawValue: 11)
    public static let parameterProblem = ICMPv4Type(rawValue: 12)

    /// Error messages (RFC 1122 §3.2.2): no ICMP error is ever sent about one.
    public var isError: Bool {
        switch self {
        case .destinationUnreachable, .timeExceeded, .parameterProblem: true
        // Source quench (4) and redirect (5) are errors too (RFC 1122 §3.2.2).
        case ICMPv4Type(rawValue: 4), ICMPv4Type(rawValue: 5): true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .echoReply: "echo-reply"
        case .destinationUnreachable: "destination-unreachable"
        case .echoRequest: "echo-request"
        case .timeExceeded: "time-exceeded"
        case .parameterProblem: "parameter-problem"
        default: "type-\(rawValue)"
        }
    }
}

/// Codes of destination unreachable (RFC 792, RFC 1122 §3.2.2.1).
public struct ICMPv4UnreachableCode: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let networkUnreachable = ICMPv4UnreachableCode(rawValue: 0)
    public static let hostUnreachable = ICMPv4UnreachableCode(rawValue: 1)
    public static let protocolUnreachable = ICMPv4UnreachableCode(rawValue: 2)
    public static let portUnreachable = ICMPv4UnreachableCode(rawValue: 3)
    /// The datagram needed fragmentation but had DF set; carries the next-hop MTU (RFC 1191 §4).
    public static let fragmentationNeeded = ICMPv4UnreachableCode(rawValue: 4)
}

/// Codes of time exceeded (RFC 792).
public struct ICMPv4TimeExceededCode: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let timeToLiveExceeded = ICMPv4TimeExceededCode(rawValue: 0)
    public static let fragmentReassemblyTimeExceeded = ICMPv4TimeExceededCode(rawValue: 1)
}

/// A checked view of an ICMPv4 message (RFC 792): type, code, checksum, four
/// type-specific octets, then the data (echo data, or the invoking datagram's
/// header and first octets for an error).
public struct ICMPv4Message {
    enum Field {
        static let type = 0
        static let code = 1
        static let checksum = 2
        /// Echo: identifier; fragmentation needed: unused.
        static let word1 = 4
        /// Echo: sequence number; fragmentation needed: next-hop MTU.
        static let word2 = 6
    }

    public static let headerLength = 8

    public let bytes: UnsafeRawBufferPointer

    public init(checking bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.headerLength else { throw .truncated }
        self.bytes = bytes
    }

    public var type: ICMPv4Type { ICMPv4Type(rawValue: bytes[Field.type]) }
    public var code: UInt8 { bytes[Field.code] }
    public var checksum: UInt16 { NetworkOrder.read16(bytes, Field.checksum) }
    public var data: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[Self.headerLength...]) }

    /// The checksum covers the whole message (RFC 792, "Checksum").
    public var isChecksumValid: Bool { InternetChecksum.compute(bytes) == 0 }
}

/// A parsed ICMPv4 header. The data that follows the header is not part of
/// the value: `parse` returns it beside, `emit` takes it as an argument.
public enum ICMPv4Repr: Hashable, Sendable {
    case echoRequest(identifier: UInt16, sequenceNumber: UInt16)
    case echoReply(identifier: UInt16, sequenceNumber: UInt16)
    /// `nextHopMTU` is meaningful only for `.fragmentationNeeded` and 0 otherwise.
    case destinationUnreachable(ICMPv4UnreachableCode, nextHopMTU: UInt16)
    case timeExceeded(ICMPv4TimeExceededCode)
    /// Any other type, kept whole.
    case other(type: ICMPv4Type, code: UInt8, restOfHeader: UInt32)

    /// Parses the header and checks the checksum; returns the data that follows.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> (ICMPv4Repr, UnsafeRawBufferPointer) {
        let message = try ICMPv4Message(checking: bytes)
        guard message.isChecksumValid else { throw .badChecksum }
        typealias Field = ICMPv4Message.Field
        let word1 = NetworkOrder.read16(bytes, Field.word1)
        let word2 = NetworkOrder.read16(bytes, Field.word2)
        let repr: ICMPv4Repr
        switch message.type {
        case .echoRequest where message.code == 0:
            repr = .echoRequest(identifier: word1, sequenceNumber: word2)
        case .echoReply where message.code == 0:
            repr = .echoReply(identifier: word1, sequenceNumber: word2)
        case .destinationUnreachable:
            let code = ICMPv4UnreachableCode(rawValue: message.code)
            repr = .destinationUnreachable(code, nextHopMTU: code == .fragmentationNeeded ? word2 : 0)
        case .timeExceeded:
            repr = .timeExceeded(ICMPv4TimeExceededCode(rawValue: message.code))
        default:
            repr = .other(type: message.type, code: message.code, restOfHeader: UInt32(word1) << 16 | UInt32(word2))
        }
        return (repr, message.data)
    }

    public var type: ICMPv4Type {
        switch self {
        case .echoRequest: .echoRequest
        case .echoReply: .echoReply
        case .destinationUnreachable: .destinationUnreachable
        case .timeExceeded: .timeExceeded
        case .other(let type, _, _): type
        }
    }

    /// Writes the header and `data` into `bytes` (exactly 8 + `data.count`
    /// octets) and computes the checksum over both.
    public func emit(into bytes: UnsafeMutableRawBufferPointer, data: UnsafeRawBufferPointer) {
        precondition(bytes.count == ICMPv4Message.headerLength + data.count,
                     "ICMP buffer is \(bytes.count) octets for \(data.count) octets of data")
        typealias Field = ICMPv4Message.Field

        // The code and the two 16-bit words after the checksum, by type.
        var code: UInt8 = 0
        var word1: UInt16 = 0
        var word2: UInt16 = 0
        switch self {
        case .echoRequest(let identifier, let sequenceNumber), .echoReply(let identifier, let sequenceNumber):
            word1 = identifier
            word2 = sequenceNumber
        case .destinationUnreachable(let unreachableCode, let nextHopMTU):
            code = unreachableCode.rawValue
            word2 = nextHopMTU
        case .timeExceeded(let exceededCode):
            code = exceededCode.rawValue
        case .other(_, let otherCode, let restOfHeader):
            code = otherCode
            word1 = UInt16(truncatingIfNeeded: restOfHeader >> 16)
            word2 = UInt16(truncatingIfNeeded: restOfHeader)
        }

        bytes[Field.type] = type.rawValue
        bytes[Field.code] = code
        NetworkOrder.write16(0, bytes, Field.checksum)
        NetworkOrder.write16(word1, bytes, Field.word1)
        NetworkOrder.write16(word2, bytes, Field.word2)
        if data.count > 0 {
            UnsafeMutableRawBufferPointer(rebasing: bytes[ICMPv4Message.headerLength...]).copyMemory(from: data)
        }

        let checksum = InternetChecksum.compute(UnsafeRawBufferPointer(bytes))
        NetworkOrder.write16(checksum, bytes, Field.checksum)
    }
}
