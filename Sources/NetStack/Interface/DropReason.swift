/// The reason the interface dropped a frame, a datagram or a reply it would
/// have sent. Each case's `label` is a Prometheus label value.
public enum DropReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    // Ethernet
    case ethernetTruncated
    /// Unicast to another MAC address, or multicast.
    case ethernetNotForUs
    /// IPv6 and every EtherType other than IPv4 and ARP.
    case ethernetUnsupportedType
    /// A frame with our own source MAC address, looped back by the link or a capture.
    case ethernetOwnFrame

    // ARP
    case arpTruncated
    case arpUnsupportedHardware
    case arpUnsupportedProtocol
    /// A sender claiming a broadcast, multicast or zero address.
    case arpInvalidSender
    /// A request for another host's address (no mapping learned either, RFC 826).
    case arpTargetNotUs
    /// An opcode other than request or reply, after the merge step.
    case arpUnsupportedOperation
    /// A frame that found its destination's pending queue (or all of them) full.
    case arpPendingQueueFull
    case arpTableFull
    /// A frame whose destination sent no reply to any ARP request.
    case arpResolutionFailed

    // IPv4
    case ipv4Malformed
    case ipv4BadChecksum
    case ipv4NotForUs
    /// A source that is broadcast, multicast, in 127/8 (RFC 1122 §3.2.1.3) or our own address.
    case ipv4InvalidSource
    /// No handler for the protocol number (protocol unreachable sent when allowed).
    case ipv4UnknownProtocol

    // Fragment reassembly
    /// A non-last fragment whose length is zero or not a multiple of 8, or
    /// lengths that contradict each other, or too many fragments.
    case reassemblyInvalidFragment
    /// Fragments that would end past 65535 octets.
    case reassemblyTooLarge
    /// A fragment overlapping one already received (RFC 5722).
    case reassemblyOverlap
    /// A fragment of a datagram discarded earlier (overlap, size or memory
    /// limit), which stays discarded until its reassembly timeout.
    case reassemblyDiscardedDatagram
    case reassemblyDuplicateFragment
    /// A datagram that would not fit in the memory bound even after evictions.
    case reassemblyMemoryLimit
    /// An older datagram evicted for a newer one.
    case reassemblyEvicted
    case reassemblyTimeout

    // ICMP
    case icmpMalformed
    case icmpBadChecksum
    /// Echo requests to a broadcast address are ignored (Linux's
    /// `icmp_echo_ignore_broadcasts` default).
    case icmpEchoToBroadcast
    /// A valid message the stack has no use for: echo replies, and errors
    /// about datagrams of a transport that does not take them.
    case icmpUnhandled
    /// An ICMP error not sent because of the rate limit.
    case icmpErrorRateLimited

    // UDP
    case udpMalformed
    case udpBadChecksum
    /// No socket on the port (port unreachable sent when allowed).
    case udpNoSocket
    case udpReceiveQueueFull

    // Sending
    /// No on-link route and no default gateway for the destination.
    case noRoute
    /// No free frame slot in the device's pool.
    case poolExhausted
    /// The device reported an error while transmitting a batch.
    case transmitError

    public var label: String {
        switch self {
        case .ethernetTruncated: "ethernet_truncated"
        case .ethernetNotForUs: "ethernet_not_for_us"
        case .ethernetUnsupportedType: "ethernet_unsupported_type"
        case .ethernetOwnFrame: "ethernet_own_frame"
        case .arpTruncated: "arp_truncated"
        case .arpUnsupportedHardware: "arp_unsupported_hardware"
        case .arpUnsupportedProtocol: "arp_unsupported_protocol"
        case .arpInvalidSender: "arp_invalid_sender"
        case .arpTargetNotUs: "arp_target_not_us"
        case .arpUnsupportedOperation: "arp_unsupported_operation"
        case .arpPendingQueueFull: "arp_pending_queue_full"
        case .arpTableFull: "arp_table_full"
        case .arpResolutionFailed: "arp_resolution_failed"
        case .ipv4Malformed: "ipv4_malformed"
        case .ipv4BadChecksum: "ipv4_bad_checksum"
        case .ipv4NotForUs: "ipv4_not_for_us"
        case .ipv4InvalidSource: "ipv4_invalid_source"
        case .ipv4UnknownProtocol: "ipv4_unknown_protocol"
        case .reassemblyInvalidFragment: "reassembly_invalid_fragment"
        case .reassemblyTooLarge: "reassembly_too_large"
        case .reassemblyOverlap: "reassembly_overlap"
        case .reassemblyDiscardedDatagram: "reassembly_discarded_datagram"
        case .reassemblyDuplicateFragment: "reassembly_duplicate_fragment"
        case .reassemblyMemoryLimit: "reassembly_memory_limit"
        case .reassemblyEvicted: "reassembly_evicted"
        case .reassemblyTimeout: "reassembly_timeout"
        case .icmpMalformed: "icmp_malformed"
        case .icmpBadChecksum: "icmp_bad_checksum"
        case .icmpEchoToBroadcast: "icmp_echo_to_broadcast"
        case .icmpUnhandled: "icmp_unhandled"
        case .icmpErrorRateLimited: "icmp_error_rate_limited"
        case .udpMalformed: "udp_malformed"
        case .udpBadChecksum: "udp_bad_checksum"
        case .udpNoSocket: "udp_no_socket"
        case .udpReceiveQueueFull: "udp_receive_queue_full"
        case .noRoute: "no_route"
        case .poolExhausted: "pool_exhausted"
        case .transmitError: "transmit_error"
        }
    }

    public var description: String { label }
}

/// Counters of one interface, read by metrics and the Web UI as a value.
public struct InterfaceCounters: Sendable, Equatable {
    public var receivedFrames: UInt64 = 0
    public var receivedBytes: UInt64 = 0
    public var sentFrames: UInt64 = 0
    public var sentBytes: UInt64 = 0

    public var arpRequestsReceived: UInt64 = 0
    public var arpRepliesReceived: UInt64 = 0
    public var arpRequestsSent: UInt64 = 0
    public var arpRepliesSent: UInt64 = 0

    public var ipv4DatagramsReceived: UInt64 = 0
    /// Datagrams handed to ICMP, UDP or a registered transport, after reassembly.
    public var ipv4DatagramsDelivered: UInt64 = 0
    public var ipv4DatagramsSent: UInt64 = 0
    public var ipv4FragmentsReceived: UInt64 = 0
    public var ipv4DatagramsReassembled: UInt64 = 0
    public var ipv4DatagramsFragmented: UInt64 = 0
    public var ipv4FragmentsSent: UInt64 = 0

    public var icmpEchoRequestsReceived: UInt64 = 0
    public var icmpEchoRepliesSent: UInt64 = 0
    public var icmpErrorsSent: UInt64 = 0
    /// Destination unreachable, time exceeded and other errors received, handled or not.
    public var icmpErrorsReceived: UInt64 = 0

    public var udpDatagramsReceived: UInt64 = 0
    public var udpDatagramsSent: UInt64 = 0

    /// Drops indexed by `DropReason.rawValue`.
    public private(set) var drops = [UInt64](repeating: 0, count: DropReason.allCases.count)

    public init() {}

    public subscript(drop reason: DropReason) -> UInt64 { drops[reason.rawValue] }

    public var totalDrops: UInt64 { drops.reduce(0, +) }

    mutating func count(_ reason: DropReason) { drops[reason.rawValue] += 1 }
}
