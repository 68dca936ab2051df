import CapnetBase

/// An IPv4 protocol number (IANA "Assigned Internet Protocol Numbers").
/// Unknown values are kept, so a datagram for another protocol can be counted
/// and answered with ICMP protocol unreachable.
public struct IPProtocol: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// RFC 792.
    public static let icmp = IPProtocol(rawValue: 1)
    /// RFC 9293.
    public static let tcp = IPProtocol(rawValue: 6)
    /// RFC 768.
    public static let udp = IPProtocol(rawValue: 17)

    public var description: String {
        switch self {
        case .icmp: "icmp"
        case .tcp: "tcp"
        case .udp: "udp"
        default: "proto-\(rawValue)"
        }
    }
}

/// An IPv4 address and a transport port.
public struct IPv4Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16

    public init(address: IPv4Address, port: UInt16) {
        self.address = address
        self.port = port
    }

    public var description: String { "\(address):\(port)" }
}

/// How a transport protocol (UDP, TCP) hands a datagram to the IPv4 layer.
///
/// The IPv4 layer chooses the route and next hop, allocates a frame, writes
/// the Ethernet and IPv4 headers, and calls `fill` with the buffer for the
/// transport header and payload (exactly `payloadLength` bytes). The transport
/// computes its own checksum there, pseudo-header included. A payload larger
/// than the link MTU allows is fragmented by the IPv4 layer (TCP never asks
/// for that: it sizes segments by the MSS).
public protocol IPv4Output {
    /// Returns false when the datagram was dropped (no frame slot, ARP queue
    /// full, no route); the transport treats that as a loss.
    mutating func send(source: IPv4Address, destination: IPv4Address, protocolNumber: IPProtocol,
                       payloadLength: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) -> Bool
}

/// A transport protocol (TCP) that the interface hands datagrams to.
///
/// The interface validates and reassembles IPv4 datagrams addressed to it,
/// then passes each one's payload (transport header and data) to the handler
/// registered for its protocol number. It calls `poll` on every loop turn
/// and no later than `nextDeadline`, so the handler can run timers and send.
public protocol IPv4TransportHandler: AnyObject {
    func receive<Output: IPv4Output>(source: IPv4Address, destination: IPv4Address,
                                     payload: UnsafeRawBufferPointer, now: Instant,
                                     output: inout Output)

    func poll<Output: IPv4Output>(now: Instant, output: inout Output)

    /// The earliest time `poll` has work to do, or nil when idle.
    var nextDeadline: Instant? { get }
}
