import NIC

/// An ARP opcode (RFC 826, IANA "ARP Operation Codes"). Unknown values are
/// kept: RFC 826 merges the sender's mapping before looking at the opcode.
public struct ARPOperation: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let request = ARPOperation(rawValue: 1)
    public static let reply = ARPOperation(rawValue: 2)

    public var description: String {
        switch self {
        case .request: "request"
        case .reply: "reply"
        default: "op-\(rawValue)"
        }
    }
}

/// A checked view of an ARP packet for Ethernet and IPv4 (RFC 826):
///
/// ```
/// ar$hrd (2)  ar$pro (2)  ar$hln (1)  ar$pln (1)  ar$op (2)
/// ar$sha (6)  ar$spa (4)  ar$tha (6)  ar$tpa (4)
/// ```
///
/// Packets for other hardware or protocol types are rejected with a typed
/// error, so the caller can count them.
public struct ARPPacket {
    enum Field {
        static let hardwareType = 0
        static let protocolType = 2
        static let hardwareLength = 4
        static let protocolLength = 5
        static let operation = 6
        static let senderHardwareAddress = 8
        static let senderProtocolAddress = 14
        static let targetHardwareAddress = 18
        static let targetProtocolAddress = 24
    }

    /// The fixed part before the addresses: hrd, pro, hln, pln, op.
    static let fixedLength = 8
    /// The whole packet for Ethernet and IPv4: 8 + 2 × (6 + 4) octets.
    public static let length = 28
    /// ar$hrd for Ethernet (IANA "Hardware Types").
    public static let hardwareTypeEthernet: UInt16 = 1
    /// ar$hln for Ethernet: a MAC-48 address.
    static let ethernetAddressLength: UInt8 = 6
    /// ar$pln for IPv4.
    static let ipv4AddressLength: UInt8 = 4

    public let bytes: UnsafeRawBufferPointer

    /// Checks the length and that the packet maps IPv4 to Ethernet addresses.
    public init(checking bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.fixedLength else { throw .truncated }
        guard NetworkOrder.read16(bytes, Field.hardwareType) == Self.hardwareTypeEthernet,
              bytes[Field.hardwareLength] == Self.ethernetAddressLength else { throw .unsupportedHardware }
        guard NetworkOrder.read16(bytes, Field.protocolType) == EtherType.ipv4.rawValue,
              bytes[Field.protocolLength] == Self.ipv4AddressLength else { throw .unsupportedProtocol }
        guard bytes.count >= Self.length else { throw .truncated }
        self.bytes = bytes
    }

    public var operation: ARPOperation { ARPOperation(rawValue: NetworkOrder.read16(bytes, Field.operation)) }
    public var senderHardwareAddress: MACAddress { MACAddress(bytes: bytes, offset: Field.senderHardwareAddress) }
    public var senderProtocolAddress: IPv4Address { IPv4Address(bytes: bytes, offset: Field.senderProtocolAddress) }
    public var targetHardwareAddress: MACAddress { MACAddress(bytes: bytes, offset: Field.targetHardwareAddress) }
    public var targetProtocolAddress: IPv4Address { IPv4Address(bytes: bytes, offset: Field.targetProtocolAddress) }
}

/// A parsed Ethernet/IPv4 ARP packet.
public struct ARPRepr: Hashable, Sendable {
    public var operation: ARPOperation
    public var senderHardwareAddress: MACAddress
    public var senderProtocolAddress: IPv4Address
    public var targetHardwareAddress: MACAddress
    public var targetProtocolAddress: IPv4Address

    public init(operation: ARPOperation, senderHardwareAddress: MACAddress, senderProtocolAddress: IPv4Address,
                targetHardwareAddress: MACAddress, targetProtocolAddress: IPv4Address) {
        self.operation = operation
        self.senderHardwareAddress = senderHardwareAddress
        self.senderProtocolAddress = senderProtocolAddress
        self.targetHardwareAddress = targetHardwareAddress
        self.targetProtocolAddress = targetProtocolAddress
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> ARPRepr {
        let packet = try ARPPacket(checking: bytes)
        return ARPRepr(operation: packet.operation,
                       senderHardwareAddress: packet.senderHardwareAddress,
                       senderProtocolAddress: packet.senderProtocolAddress,
                       targetHardwareAddress: packet.targetHardwareAddress,
                       targetProtocolAddress: packet.targetProtocolAddress)
    }

    /// Writes the packet at the start of `bytes`, which must hold `ARPPacket.length` octets.
    public func emit(into bytes: UnsafeMutableRawBufferPointer) {
        precondition(bytes.count >= ARPPacket.length, "buffer too small for an ARP packet: \(bytes.count)")
        typealias Field = ARPPacket.Field
        NetworkOrder.write16(ARPPacket.hardwareTypeEthernet, bytes, Field.hardwareType)
        NetworkOrder.write16(EtherType.ipv4.rawValue, bytes, Field.protocolType)
        bytes[Field.hardwareLength] = ARPPacket.ethernetAddressLength
        bytes[Field.protocolLength] = ARPPacket.ipv4AddressLength
        NetworkOrder.write16(operation.rawValue, bytes, Field.operation)
        senderHardwareAddress.write(to: bytes, offset: Field.senderHardwareAddress)
        senderProtocolAddress.write(to: bytes, offset: Field.senderProtocolAddress)
        targetHardwareAddress.write(to: bytes, offset: Field.targetHardwareAddress)
        targetProtocolAddress.write(to: bytes, offset: Field.targetProtocolAddress)
    }
}
