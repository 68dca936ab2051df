import CapnetBase
import NIC

/// One IPv4 interface on one frame device: Ethernet, ARP, IPv4 with
/// fragmentation and reassembly, ICMP and UDP, and the registered transports
/// (TCP) above them.
///
/// The interface is driven by one thread: `poll(now:)` runs one turn to
/// completion and `nextDeadline` returns when the next turn is due. Only the
/// owner of the interface mints UDP sockets and registers transports, and a
/// `UDPSocket` reaches its one port and nothing else.
public final class Interface {
    public struct Configuration: Sendable {
        /// The interface address and its on-link subnet.
        public var address: IPv4Network
        /// The default gateway, which must be on the subnet; nil means on-link only.
        public var gateway: IPv4Address?
        /// TTL of the datagrams this interface sends.
        public var timeToLive: UInt8 = IPv4Repr.defaultTimeToLive
        public var arp = ARPCache.Configuration()
        public var reassembly = IPv4Reassembler.Configuration()
        public var icmpRateLimit = ICMPRateLimiter.Configuration()
        /// Datagrams queued on one UDP socket before new ones are dropped.
        public var udpReceiveQueueCapacity = 64
        /// Frames received per turn, and frames gathered before a transmit call.
        public var batchCapacity = 32
        /// The IPv4 identification of the first datagram sent; each datagram
        /// takes the next value (RFC 6864 §4.1 requires no particular sequence).
        public var initialIdentification: UInt16 = 0
        /// Announce the address with a gratuitous ARP request on the first turn (RFC 5227 §3).
        public var sendsGratuitousARP = true

        public init(address: IPv4Network, gateway: IPv4Address? = nil) {
            self.address = address
            self.gateway = gateway
        }
    }

    /// RFC 791 §3.2: every IPv4 module handles datagrams of 68 octets without fragmenting further.
    public static let minimumMTU = 68

    static let log = Logger(.ip)

    public let device: FrameDevice
    public let configuration: Configuration
    public var address: IPv4Address { configuration.address.address }
    public var network: IPv4Network { configuration.address }

    public internal(set) var counters = InterfaceCounters()
    var arpCache: ARPCache
    var reassembler: IPv4Reassembler
    var icmpRateLimiter: ICMPRateLimiter
    var receiveBatch: FrameBatch
    var transmitBatch: FrameBatch
    var handlers: [IPProtocol: IPv4TransportHandler] = [:]
    var services: [InterfaceService] = []
    var udpPorts: [UInt16: UDPPortState] = [:]
    var nextIdentification: UInt16
    var hasAnnounced = false
    /// The time of the current or last turn, for sends from outside `poll`.
    var currentTime = Instant.zero
    /// Room for one whole datagram's payload while it is cut into fragments.
    let fragmentScratch: UnsafeMutableRawBufferPointer
    var transmitErrorLog = LogRateLimiter()
    var conflictLog = LogRateLimiter()

    /// Creates an interface on `device`. Throws when the gateway is off the
    /// subnet or the device's MTU or frame slots are too small for IPv4.
    public init(device: FrameDevice, configuration: Configuration) throws(InterfaceError) {
        if let gateway = configuration.gateway, !configuration.address.contains(gateway) {
            throw InterfaceError("gateway \(gateway) is not on the subnet \(configuration.address); give a gateway inside it")
        }
        guard device.mtu >= Self.minimumMTU else {
            throw InterfaceError("device \(device.name) has MTU \(device.mtu), below IPv4's minimum of \(Self.minimumMTU)")
        }
        guard device.pool.slotSize >= device.mtu + EthernetFrame.headerLength else {
            throw InterfaceError("device \(device.name) has \(device.pool.slotSize)-octet frame slots, too small for MTU \(device.mtu) plus the Ethernet header")
        }
        guard configuration.batchCapacity > 0, configuration.udpReceiveQueueCapacity > 0 else {
            throw InterfaceError("batch capacity and UDP receive queue capacity must be positive")
        }
        self.device = device
        self.configuration = configuration
        arpCache = ARPCache(configuration: configuration.arp)
        reassembler = IPv4Reassembler(configuration: configuration.reassembly)
        icmpRateLimiter = ICMPRateLimiter(configuration: configuration.icmpRateLimit)
        receiveBatch = FrameBatch(capacity: configuration.batchCapacity)
        transmitBatch = FrameBatch(capacity: configuration.batchCapacity)
        nextIdentification = configuration.initialIdentification
        fragmentScratch = .allocate(byteCount: IPv4Packet.maximumTotalLength, alignment: MemoryLayout<UInt64>.alignment)
    }

    deinit {
        arpCache.removeAll { device.pool.release($0.slot) }
        transmitBatch.releaseAll(to: device.pool)
        fragmentScratch.deallocate()
    }

    /// Hands every datagram with `protocolNumber` addressed to this interface
    /// to `handler`, and polls it on every turn. ICMP and UDP are built in.
    public func register(_ handler: IPv4TransportHandler, for protocolNumber: IPProtocol) throws(InterfaceError) {
        guard protocolNumber != .icmp, protocolNumber != .udp else {
            throw InterfaceError("protocol \(protocolNumber) is handled by the interface itself and cannot be registered")
        }
        guard handlers[protocolNumber] == nil else {
            throw InterfaceError("a handler for protocol \(protocolNumber) is already registered")
        }
        handlers[protocolNumber] = handler
    }

    /// Polls `service` on every turn, after received frames are processed and
    /// before the batch is transmitted.
    public func addService(_ service: InterfaceService) {
        services.append(service)
    }

    /// Transmits what is queued, releases the frames waiting for ARP and
    /// closes the device. The interface must not be polled afterwards.
    public func close() {
        flushTransmitBatch(now: currentTime)
        arpCache.removeAll { device.pool.release($0.slot) }
        device.close()
    }

    /// The ARP table for display.
    public var arpTable: [ARPTableEntry] { arpCache.snapshot(now: currentTime) }

    /// Counts a drop and logs it at trace level, which costs one comparison when disabled.
    func count(_ reason: DropReason) {
        counters.count(reason)
        Self.log.trace("dropped: \(reason.label)", "device=\(device.name)")
    }
}

/// A transport that wants the ICMP errors about datagrams it sent, such as
/// TCP acting on destination unreachable (RFC 1122 §4.2.3.9). A handler
/// registered with `Interface.register(_:for:)` that also conforms to this
/// protocol receives them.
public protocol IPv4ICMPErrorReceiver: AnyObject {
    /// `original` is the quoted header of our datagram, and `originalPayload`
    /// its first octets as quoted (at least 8, the transport ports included,
    /// when the sender follows RFC 792).
    func receiveICMPError(_ message: ICMPv4Repr, from reporter: IPv4Address, original: IPv4Repr,
                          originalPayload: UnsafeRawBufferPointer, now: Instant)
}

/// Something the interface polls on each turn, such as the UDP echo service.
public protocol InterfaceService: AnyObject {
    func poll(now: Instant)
    /// The earliest time `poll` has work to do, or nil when it waits for datagrams only.
    var nextDeadline: Instant? { get }
}

/// A configuration or usage error of the interface, with what to change.
public struct InterfaceError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String

    init(_ description: String) { self.description = description }
}
