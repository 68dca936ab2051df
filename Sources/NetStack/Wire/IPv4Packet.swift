/// A checked view of an IPv4 datagram (RFC 791 §3.1).
///
/// ```
/// |Version|  IHL  |Type of Service|          Total Length         |
/// |         Identification        |Flags|      Fragment Offset    |
/// |  Time to Live |    Protocol   |         Header Checksum       |
/// |                       Source Address                          |
/// |                    Destination Address                        |
/// |                    Options                    |    Padding    |
/// ```
///
/// `init(checking:)` validates the version, the IHL and the total length
/// against the buffer once and trims link-layer padding, so no accessor can
/// read out of bounds. Options are skipped, not interpreted.
public struct IPv4Packet {
    enum Field {
        static let versionAndIHL = 0
        static let typeOfService = 1
        static let totalLength = 2
        static let identification = 4
        static let flagsAndFragmentOffset = 6
        static let timeToLive = 8
        static let protocolNumber = 9
        static let headerChecksum = 10
        static let source = 12
        static let destination = 16
    }

    /// The header without options: IHL 5.
    public static let minimumHeaderLength = 20
    /// IHL counts 32-bit words.
    static let ihlUnit = 4
    static let version: UInt8 = 4
    /// The total length field is 16 bits wide.
    public static let maximumTotalLength = 65535
    /// Fragment offsets count 8-octet units (RFC 791 §3.1, "Fragment Offset").
    public static let fragmentOffsetUnit = 8

    /// Flags (RFC 791 §3.1): bit 0 reserved, bit 1 DF, bit 2 MF, then the 13-bit offset.
    static let dontFragmentBit: UInt16 = 0x4000
    static let moreFragmentsBit: UInt16 = 0x2000
    static let fragmentOffsetMask: UInt16 = 0x1FFF

    /// The datagram: header, options and payload, without link padding.
    public let bytes: UnsafeRawBufferPointer

    public init(checking buffer: UnsafeRawBufferPointer) throws(WireError) {
        guard buffer.count >= Self.minimumHeaderLength else { throw .truncated }
        guard buffer[Field.versionAndIHL] >> 4 == Self.version else { throw .badVersion }
        let headerLength = Int(buffer[Field.versionAndIHL] & 0x0F) * Self.ihlUnit
        guard headerLength >= Self.minimumHeaderLength, headerLength <= buffer.count else { throw .badHeaderLength }
        let totalLength = Int(NetworkOrder.read16(buffer, Field.totalLength))
        guard totalLength >= headerLength, totalLength <= buffer.count else { throw .badTotalLength }
        bytes = UnsafeRawBufferPointer(rebasing: buffer[..<totalLength])
    }

    public var headerLength: Int { Int(bytes[Field.versionAndIHL] & 0x0F) * Self.ihlUnit }
    public var typeOfService: UInt8 { bytes[Field.typeOfService] }
    public var totalLength: Int { bytes.count }
    public var identification: UInt16 { NetworkOrder.read16(bytes, Field.identification) }
    public var dontFragment: Bool { NetworkOrder.read16(bytes, Field.flagsAndFragmentOffset) & Self.dontFragmentBit != 0 }
    public var moreFragments: Bool { NetworkOrder.read16(bytes, Field.flagsAndFragmentOffset) & Self.moreFragmentsBit != 0 }
    /// In 8-octet units.
    public var fragmentOffset: UInt16 { NetworkOrder.read16(bytes, Field.flagsAndFragmentOffset) & Self.fragmentOffsetMask }
    public var timeToLive: UInt8 { bytes[Field.timeToLive] }
    public var protocolNumber: IPProtocol { IPProtocol(rawValue: bytes[Field.protocolNumber]) }
    public var headerChecksum: UInt16 { NetworkOrder.read16(bytes, Field.headerChecksum) }
    public var source: IPv4Address { IPv4Address(bytes: bytes, offset: Field.source) }
    public var destination: IPv4Address { IPv4Address(bytes: bytes, offset: Field.destination) }

    /// The header including options.
    public var header: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[..<headerLength]) }
    public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[headerLength...]) }

    /// True when the header, options included, sums to zero (RFC 791 §3.1, "Header Checksum").
    public var isChecksumValid: Bool { InternetChecksum.compute(header) == 0 }
}

/// A parsed IPv4 header. Emitting writes a 20-octet header without options.
public struct IPv4Repr: Hashable, Sendable {
    public var source: IPv4Address
    public var destination: IPv4Address
    public var protocolNumber: IPProtocol
    public var payloadLength: Int
    public var timeToLive: UInt8
    public var identification: UInt16
    public var dontFragment: Bool
    public var moreFragments: Bool
    /// In 8-octet units, as on the wire.
    public var fragmentOffset: UInt16
    public var typeOfService: UInt8
    /// The received header length, options included; emit always writes 20.
    public var headerLength: Int

    /// RFC 1700's and Linux's default TTL (`net.ipv4.ip_default_ttl`).
    public static let defaultTimeToLive: UInt8 = 64

    public init(source: IPv4Address, destination: IPv4Address, protocolNumber: IPProtocol, payloadLength: Int,
                timeToLive: UInt8 = IPv4Repr.defaultTimeToLive, identification: UInt16 = 0,
                dontFragment: Bool = false, moreFragments: Bool = false, fragmentOffset: UInt16 = 0,
                typeOfService: UInt8 = 0) {
        self.source = source
        self.destination = destination
        self.protocolNumber = protocolNumber
        self.payloadLength = payloadLength
        self.timeToLive = timeToLive
        self.identification = identification
        self.dontFragment = dontFragment
        self.moreFragments = moreFragments
        self.fragmentOffset = fragmentOffset
        self.typeOfService = typeOfService
        headerLength = IPv4Packet.minimumHeaderLength
    }

    public init(_ packet: IPv4Packet) {
        self.init(source: packet.source, destination: packet.destination, protocolNumber: packet.protocolNumber,
                  payloadLength: packet.totalLength - packet.headerLength, timeToLive: packet.timeToLive,
                  identification: packet.identification, dontFragment: packet.dontFragment,
                  moreFragments: packet.moreFragments, fragmentOffset: packet.fragmentOffset,
                  typeOfService: packet.typeOfService)
        headerLength = packet.headerLength
    }

    /// Parses and checks the header checksum.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> IPv4Repr {
        let packet = try IPv4Packet(checking: bytes)
        guard packet.isChecksumValid else { throw .badChecksum }
        return IPv4Repr(packet)
    }

    /// Parses the datagram quoted in an ICMP error (RFC 792): the header and
    /// the first octets of the payload. The total length and checksum are not
    /// checked, because the quote is cut short. Returns the quoted payload.
    public static func parseQuoted(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> (IPv4Repr, UnsafeRawBufferPointer) {
        guard bytes.count >= IPv4Packet.minimumHeaderLength else { throw .truncated }
        typealias Field = IPv4Packet.Field
        guard bytes[Field.versionAndIHL] >> 4 == IPv4Packet.version else { throw .badVersion }
        let headerLength = Int(bytes[Field.versionAndIHL] & 0x0F) * IPv4Packet.ihlUnit
        guard headerLength >= IPv4Packet.minimumHeaderLength, headerLength <= bytes.count else { throw .badHeaderLength }
        let flags = NetworkOrder.read16(bytes, Field.flagsAndFragmentOffset)
        var repr = IPv4Repr(source: IPv4Address(bytes: bytes, offset: Field.source),
                            destination: IPv4Address(bytes: bytes, offset: Field.destination),
                            protocolNumber: IPProtocol(rawValue: bytes[Field.protocolNumber]),
                            payloadLength: max(0, Int(NetworkOrder.read16(bytes, Field.totalLength)) - headerLength),
                            timeToLive: bytes[Field.timeToLive],
                            identification: NetworkOrder.read16(bytes, Field.identification),
                            dontFragment: flags & IPv4Packet.dontFragmentBit != 0,
                            moreFragments: flags & IPv4Packet.moreFragmentsBit != 0,
                            fragmentOffset: flags & IPv4Packet.fragmentOffsetMask,
                            typeOfService: bytes[Field.typeOfService])
        repr.headerLength = headerLength
        return (repr, UnsafeRawBufferPointer(rebasing: bytes[headerLength...]))
    }

    /// True for any fragment of a fragmented datagram, first and last included.
    public var isFragment: Bool { moreFragments || fragmentOffset != 0 }
    /// The payload's offset in the original datagram, in octets.
    public var fragmentByteOffset: Int { Int(fragmentOffset) * IPv4Packet.fragmentOffsetUnit }

    /// Writes a 20-octet header with its checksum at the start of `bytes`.
    public func emit(into bytes: UnsafeMutableRawBufferPointer) {
        let length = IPv4Packet.minimumHeaderLength
        precondition(bytes.count >= length, "buffer too small for an IPv4 header: \(bytes.count)")
        precondition(length + payloadLength <= IPv4Packet.maximumTotalLength, "IPv4 payload too long: \(payloadLength)")
        typealias Field = IPv4Packet.Field
        bytes[Field.versionAndIHL] = IPv4Packet.version << 4 | UInt8(length / IPv4Packet.ihlUnit)
        bytes[Field.typeOfService] = typeOfService
        NetworkOrder.write16(UInt16(length + payloadLength), bytes, Field.totalLength)
        NetworkOrder.write16(identification, bytes, Field.identification)
        var flags = fragmentOffset & IPv4Packet.fragmentOffsetMask
        if dontFragment { flags |= IPv4Packet.dontFragmentBit }
        if moreFragments { flags |= IPv4Packet.moreFragmentsBit }
        NetworkOrder.write16(flags, bytes, Field.flagsAndFragmentOffset)
        bytes[Field.timeToLive] = timeToLive
        bytes[Field.protocolNumber] = protocolNumber.rawValue
        NetworkOrder.write16(0, bytes, Field.headerChecksum)
        source.write(to: bytes, offset: Field.source)
        destination.write(to: bytes, offset: Field.destination)
        let checksum = InternetChecksum.compute(UnsafeRawBufferPointer(rebasing: bytes[..<length]))
        NetworkOrder.write16(checksum, bytes, Field.headerChecksum)
    }
}
