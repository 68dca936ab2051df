import NIC

/// An EtherType (IEEE 802.3 clause 3.2.6, IANA "IEEE 802 Numbers"). Unknown
/// values are kept so they can be counted.
public struct EtherType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// RFC 894.
    public static let ipv4 = EtherType(rawValue: 0x0800)
    /// RFC 826.
    public static let arp = EtherType(rawValue: 0x0806)
    /// RFC 2464; counted and dropped, the stack speaks IPv4 only.
    public static let ipv6 = EtherType(rawValue: 0x86DD)

    /// Values below this are IEEE 802.3 length fields, not EtherTypes.
    public static let minimumEtherType: UInt16 = 0x0600

    public var description: String {
        switch self {
        case .ipv4: "ipv4"
        case .arp: "arp"
        case .ipv6: "ipv6"
        default: "0x" + String(rawValue, radix: 16)
        }
    }
}

/// A checked view of an Ethernet II frame: destination, source, EtherType,
/// payload. The frame check sequence is not part of the buffer.
public struct EthernetFrame {
    enum Field {
        static let destination = 0
        static let source = 6
        static let etherType = 12
    }

    /// Destination, source and EtherType: 6 + 6 + 2 octets.
    public static let headerLength = 14

    public let bytes: UnsafeRawBufferPointer

    /// Checks that `bytes` contains at least a header.
    public init(checking bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.headerLength else { throw .truncated }
        self.bytes = bytes
    }

    public var destination: MACAddress { MACAddress(bytes: bytes, offset: Field.destination) }
    public var source: MACAddress { MACAddress(bytes: bytes, offset: Field.source) }
    public var etherType: EtherType { EtherType(rawValue: NetworkOrder.read16(bytes, Field.etherType)) }

    /// Everything after the header, Ethernet padding included (IPv4 trims it
    /// with its total length).
    public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[Self.headerLength...]) }
}

/// A parsed Ethernet II header.
public struct EthernetRepr: Hashable, Sendable {
    public var destination: MACAddress
    public var source: MACAddress
    public var etherType: EtherType

    public init(destination: MACAddress, source: MACAddress, etherType: EtherType) {
        self.destination = destination
        self.source = source
        self.etherType = etherType
    }

    public init(_ frame: EthernetFrame) {
        self.init(destination: frame.destination, source: frame.source, etherType: frame.etherType)
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> EthernetRepr {
        EthernetRepr(try EthernetFrame(checking: bytes))
    }

    /// Writes the header at the start of `bytes`, which must hold `EthernetFrame.headerLength` octets.
    public func emit(into bytes: UnsafeMutableRawBufferPointer) {
        precondition(bytes.count >= EthernetFrame.headerLength, "buffer too small for an Ethernet header: \(bytes.count)")
        destination.write(to: bytes, offset: EthernetFrame.Field.destination)
        source.write(to: bytes, offset: EthernetFrame.Field.source)
        NetworkOrder.write16(etherType.rawValue, bytes, EthernetFrame.Field.etherType)
    }
}
