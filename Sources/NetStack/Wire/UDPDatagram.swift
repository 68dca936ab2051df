/// A checked view of a UDP datagram (RFC 768):
///
/// ```
/// |          Source Port          |       Destination Port        |
/// |            Length             |           Checksum            |
/// ```
///
/// `init(checking:)` validates the length field against the buffer once and
/// trims anything past it.
public struct UDPDatagram {
    enum Field {
        static let sourcePort = 0
        static let destinationPort = 2
        static let length = 4
        static let checksum = 6
    }

    public static let headerLength = 8
    /// Largest payload in one IPv4 datagram: 65535 − 20 (IPv4) − 8 (UDP).
    public static let maximumPayloadLength = IPv4Packet.maximumTotalLength - IPv4Packet.minimumHeaderLength - headerLength
    /// A transmitted checksum of 0 means "none" (RFC 768), so a computed 0 is sent as all ones.
    static let noChecksum: UInt16 = 0
    static let zeroChecksumOnWire: UInt16 = 0xFFFF

    /// Header and payload, up to the length field.
    public let bytes: UnsafeRawBufferPointer

    public init(checking buffer: UnsafeRawBufferPointer) throws(WireError) {
        guard buffer.count >= Self.headerLength else { throw .truncated }
        let length = Int(NetworkOrder.read16(buffer, Field.length))
        guard length >= Self.headerLength, length <= buffer.count else { throw .badLength }
        bytes = UnsafeRawBufferPointer(rebasing: buffer[..<length])
    }

    public var sourcePort: UInt16 { NetworkOrder.read16(bytes, Field.sourcePort) }
    public var destinationPort: UInt16 { NetworkOrder.read16(bytes, Field.destinationPort) }
    public var length: Int { bytes.count }
    public var checksum: UInt16 { NetworkOrder.read16(bytes, Field.checksum) }
    public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[Self.headerLength...]) }

    /// True when the sender sent no checksum or the checksum, pseudo-header
    /// included, verifies.
    public func isChecksumValid(source: IPv4Address, destination: IPv4Address) -> Bool {
        if checksum == Self.noChecksum { return true }
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination, protocolNumber: IPProtocol.udp.rawValue,
                            length: bytes.count)
        sum.add(bytes)
        return sum.value == 0
    }
}

/// A parsed UDP header. The payload is returned beside it by `parse`.
public struct UDPRepr: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16

    public init(sourcePort: UInt16, destinationPort: UInt16) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }

    /// Parses the header, checks the checksum unless it is 0, and returns the payload.
    public static func parse(_ bytes: UnsafeRawBufferPointer, source: IPv4Address,
                             destination: IPv4Address) throws(WireError) -> (UDPRepr, UnsafeRawBufferPointer) {
        let datagram = try UDPDatagram(checking: bytes)
        guard datagram.isChecksumValid(source: source, destination: destination) else { throw .badChecksum }
        return (UDPRepr(sourcePort: datagram.sourcePort, destinationPort: datagram.destinationPort), datagram.payload)
    }

    /// Writes the header into `bytes` (exactly 8 octets plus the payload,
    /// which the caller has already written after the header) and the
    /// checksum over the pseudo-header, header and payload.
    public func emit(into bytes: UnsafeMutableRawBufferPointer, source: IPv4Address, destination: IPv4Address) {
        precondition(bytes.count >= UDPDatagram.headerLength && bytes.count <= Int(UInt16.max),
                     "UDP datagram length out of range: \(bytes.count)")
        typealias Field = UDPDatagram.Field
        NetworkOrder.write16(sourcePort, bytes, Field.sourcePort)
        NetworkOrder.write16(destinationPort, bytes, Field.destinationPort)
        NetworkOrder.write16(UInt16(bytes.count), bytes, Field.length)
        NetworkOrder.write16(0, bytes, Field.checksum)
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination, protocolNumber: IPProtocol.udp.rawValue,
                            length: bytes.count)
        sum.add(UnsafeRawBufferPointer(bytes))
        let checksum = sum.value == UDPDatagram.noChecksum ? UDPDatagram.zeroChecksumOnWire : sum.value
        NetworkOrder.write16(checksum, bytes, Field.checksum)
    }
}
