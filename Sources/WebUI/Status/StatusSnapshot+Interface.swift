// Fills the interface and neighbor part of a snapshot from a NetStack
// Interface: its counters, drops by reason, gauges with their bounds, the
// device's counters, and the ARP table.
import Foundation
import NetStack
import NIC

extension InterfaceStatus {
    /// Reads `interface` on the thread that drives it. `name` is the name
    /// the operator knows the interface by (the device name by default).
    public init(_ interface: Interface, name: String? = nil) {
        let c = interface.counters
        let device = interface.device.counters
        self.init(name: name ?? interface.device.name, network: interface.network.description,
                  hardwareAddress: interface.device.macAddress.description, mtu: interface.device.mtu,
                  receivedFrames: c.receivedFrames, receivedBytes: c.receivedBytes,
                  sentFrames: c.sentFrames, sentBytes: c.sentBytes,
                  counters: Self.protocolCounters(c) + Self.deviceCounters(device),
                  drops: DropReason.allCases.map { DropCount(reason: $0.label, count: c[drop: $0]) },
                  gauges: Self.gauges(interface.gauges))
    }

    static func protocolCounters(_ c: InterfaceCounters) -> [CounterReading] {
        [
            CounterReading(name: "arp_requests_received", help: "ARP requests received.", value: c.arpRequestsReceived),
            CounterReading(name: "arp_replies_received", help: "ARP replies received.", value: c.arpRepliesReceived),
            CounterReading(name: "arp_requests_sent", help: "ARP requests sent.", value: c.arpRequestsSent),
            CounterReading(name: "arp_replies_sent", help: "ARP replies sent.", value: c.arpRepliesSent),
            CounterReading(name: "ipv4_datagrams_received", help: "IPv4 datagrams received.",
                           value: c.ipv4DatagramsReceived),
            CounterReading(name: "ipv4_datagrams_delivered",
                           help: "IPv4 datagrams handed to ICMP, UDP or TCP after reassembly.",
                           value: c.ipv4DatagramsDelivered),
            CounterReading(name: "ipv4_datagrams_sent", help: "IPv4 datagrams sent.", value: c.ipv4DatagramsSent),
            CounterReading(name: "ipv4_fragments_received", help: "IPv4 fragments received.",
                           value: c.ipv4FragmentsReceived),
            CounterReading(name: "ipv4_datagrams_reassembled", help: "IPv4 datagrams reassembled from fragments.",
                           value: c.ipv4DatagramsReassembled),
            CounterReading(name: "ipv4_datagrams_fragmented", help: "IPv4 datagrams sent as fragments.",
                           value: c.ipv4DatagramsFragmented),
            CounterReading(name: "ipv4_fragments_sent", help: "IPv4 fragments sent.", value: c.ipv4FragmentsSent),
            CounterReading(name: "icmp_echo_requests_received", help: "ICMP echo requests received.",
                           value: c.icmpEchoRequestsReceived),
            CounterReading(name: "icmp_echo_replies_sent", help: "ICMP echo replies sent.",
                           value: c.icmpEchoRepliesSent),
            CounterReading(name: "icmp_errors_sent", help: "ICMP error messages sent.", value: c.icmpErrorsSent),
            CounterReading(name: "icmp_errors_received", help: "ICMP error messages received.",
                           value: c.icmpErrorsReceived),
            CounterReading(name: "udp_datagrams_received", help: "UDP datagrams received.",
                           value: c.udpDatagramsReceived),
            CounterReading(name: "udp_datagrams_sent", help: "UDP datagrams sent.", value: c.udpDatagramsSent),
        ]
    }

    static func deviceCounters(_ d: DeviceCounters) -> [CounterReading] {
        [
            CounterReading(name: "device_frames_received", help: "Frames the device received.",
                           value: d.receivedFrames),
            CounterReading(name: "device_bytes_received", help: "Bytes the device received.", value: d.receivedBytes),
            CounterReading(name: "device_frames_transmitted", help: "Frames the device transmitted.",
                           value: d.transmittedFrames),
            CounterReading(name: "device_bytes_transmitted", help: "Bytes the device transmitted.",
                           value: d.transmittedBytes),
            CounterReading(name: "device_receive_drops_pool_exhausted",
                           help: "Received frames dropped because no frame pool slot was free.",
                           value: d.receiveDropsPoolExhausted),
            CounterReading(name: "device_receive_drops_oversize",
                           help: "Received frames dropped because they were longer than a frame pool slot.",
                           value: d.receiveDropsOversize),
            CounterReading(name: "device_receive_drops_queue_full",
                           help: "Frames an in-memory link dropped because the receive queue was full.",
                           value: d.receiveDropsQueueFull),
            CounterReading(name: "device_transmit_drops_oversize",
                           help: "Frames not sent because they exceeded the MTU plus the Ethernet header.",
                           value: d.transmitDropsOversize),
            CounterReading(name: "device_transmit_drops_error", help: "Frames not sent because the operating system rejected them.",
                           value: d.transmitDropsError),
            CounterReading(name: "device_injected_drops", help: "Frames dropped on purpose by the fault injector.",
                           value: d.injectedDrops),
            CounterReading(name: "device_injected_duplicates", help: "Frames duplicated by the fault injector.",
                           value: d.injectedDuplicates),
            CounterReading(name: "device_injected_reorders", help: "Frames reordered by the fault injector.",
                           value: d.injectedReorders),
            CounterReading(name: "device_injected_delays", help: "Frames delayed by the fault injector.",
                           value: d.injectedDelays),
            CounterReading(name: "device_injected_queue_overflows",
                           help: "Frames the fault injector dropped because its delay queue was full.",
                           value: d.injectedQueueOverflows),
        ]
    }

    static func gauges(_ g: InterfaceGauges) -> [GaugeReading] {
        [
            GaugeReading(name: "arp_entries", help: "ARP cache entries.", value: g.arpEntries,
                         limit: g.arpEntriesLimit),
            GaugeReading(name: "arp_pending_frames", help: "Frames waiting for ARP resolution.",
                         value: g.arpPendingFrames, limit: g.arpPendingFramesLimit),
            GaugeReading(name: "reassembly_datagrams", help: "IPv4 datagrams being reassembled.",
                         value: g.reassemblyDatagrams, limit: g.reassemblyDatagramsLimit),
            GaugeReading(name: "reassembly_bytes", help: "Bytes buffered for IPv4 reassembly.",
                         value: g.reassemblyBytes, limit: g.reassemblyBytesLimit),
            GaugeReading(name: "udp_sockets", help: "Bound UDP sockets.", value: g.udpSockets, limit: nil),
            GaugeReading(name: "frame_pool_free_slots", help: "Free slots in the frame pool.",
                         value: g.framePoolFree, limit: g.framePoolSize),
        ]
    }
}

extension NeighborStatus {
    /// Converts one ARP table row of the interface named `interface`.
    public init(_ entry: ARPTableEntry, interface: String) {
        let state: State
        let requests: Int
        switch entry.state {
        case .resolved:
            state = .resolved
            requests = 0
        case .incomplete(let requestsSent):
            state = .incomplete
            requests = requestsSent
        }
        self.init(interface: interface, address: entry.address.description,
                  hardwareAddress: entry.hardwareAddress?.description, state: state, requestsSent: requests,
                  expiresInSeconds: entry.expiresIn.seconds, pendingFrames: entry.pendingFrames)
    }

    /// Converts every ARP table row of `interface`.
    public static func rows(of interface: Interface, name: String? = nil) -> [NeighborStatus] {
        let name = name ?? interface.device.name
        return interface.arpTable.map { NeighborStatus($0, interface: name) }
    }
}

extension StatusSnapshot {
    /// Builds a snapshot with the interface and neighbor rows of
    /// `interfaces` filled in. The owner adds connections, TLS sessions
    /// and certificates to the result.
    public static func collect(from interfaces: [Interface], service: ServiceInfo, generatedAt: Date)
        -> StatusSnapshot
    {
        StatusSnapshot(generatedAt: generatedAt, service: service,
                       interfaces: interfaces.map { InterfaceStatus($0) },
                       neighbors: interfaces.flatMap { NeighborStatus.rows(of: $0) })
    }
}

extension StatusHistory.Totals {
    /// Reads the packet total (frames received plus sent) of `interfaces`;
    /// the owner supplies handshakes and connections from TCP and TLS.
    public init(interfaces: [Interface], handshakes: UInt64, connections: Int) {
        let packets = interfaces.reduce(UInt64(0)) { $0 + $1.counters.receivedFrames + $1.counters.sentFrames }
        self.init(packets: packets, handshakes: handshakes, connections: connections)
    }
}
