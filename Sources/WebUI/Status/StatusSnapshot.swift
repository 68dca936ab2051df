// The values the dashboard, the JSON API and the metrics endpoint render:
// one snapshot of the whole service, taken by the owner of the stack on its
// own thread and handed to the Web UI as plain data.
import Foundation

/// Everything the status pages show at one moment. The owner fills it; the
/// Web UI only reads it. Lists are in display order.
public struct StatusSnapshot: Codable, Hashable, Sendable {
    /// Wall-clock time the snapshot was taken.
    public var generatedAt: Date
    public var service: ServiceInfo
    public var interfaces: [InterfaceStatus]
    public var neighbors: [NeighborStatus]
    public var connections: [ConnectionStatus]
    public var tlsSessions: [TLSSessionStatus]
    public var certificates: [CertificateStatus]
    public var captures: [CaptureStatus]

    public init(generatedAt: Date, service: ServiceInfo, interfaces: [InterfaceStatus] = [],
                neighbors: [NeighborStatus] = [], connections: [ConnectionStatus] = [],
                tlsSessions: [TLSSessionStatus] = [], certificates: [CertificateStatus] = [],
                captures: [CaptureStatus] = [])
    {
        self.generatedAt = generatedAt
        self.service = service
        self.interfaces = interfaces
        self.neighbors = neighbors
        self.connections = connections
        self.tlsSessions = tlsSessions
        self.certificates = certificates
        self.captures = captures
    }
}

/// The running service: its version, how long it has run, where it listens.
public struct ServiceInfo: Codable, Hashable, Sendable {
    public var version: String
    public var startedAt: Date
    public var uptimeSeconds: Double
    /// Addresses the service listens on, as shown to the operator
    /// ("192.0.2.1", "https://ui.example.net/").
    public var addresses: [String]

    public init(version: String, startedAt: Date, uptimeSeconds: Double, addresses: [String]) {
        self.version = version
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.addresses = addresses
    }
}

/// One interface with its traffic totals, drops and bounded resources.
public struct InterfaceStatus: Codable, Hashable, Sendable {
    public var name: String
    /// Address and prefix, "192.0.2.1/24".
    public var network: String
    public var hardwareAddress: String?
    public var mtu: Int
    public var receivedFrames: UInt64
    public var receivedBytes: UInt64
    public var sentFrames: UInt64
    public var sentBytes: UInt64
    /// Other totals (ARP, IPv4, ICMP, UDP, device), in display order.
    public var counters: [CounterReading]
    /// Drops by reason, every reason listed, zero or not.
    public var drops: [DropCount]
    /// Occupancy of bounded resources, each with its bound.
    public var gauges: [GaugeReading]

    public init(name: String, network: String, hardwareAddress: String?, mtu: Int, receivedFrames: UInt64,
                receivedBytes: UInt64, sentFrames: UInt64, sentBytes: UInt64, counters: [CounterReading] = [],
                drops: [DropCount] = [], gauges: [GaugeReading] = [])
    {
        self.name = name
        self.network = network
        self.hardwareAddress = hardwareAddress
        self.mtu = mtu
        self.receivedFrames = receivedFrames
        self.receivedBytes = receivedBytes
        self.sentFrames = sentFrames
        self.sentBytes = sentBytes
        self.counters = counters
        self.drops = drops
        self.gauges = gauges
    }

    public var totalDrops: UInt64 { drops.reduce(0) { $0 + $1.count } }
}

/// A monotonically increasing total. `name` is the metric name without
/// the "capnet_" prefix and "_total" suffix, such as "arp_requests_received".
public struct CounterReading: Codable, Hashable, Sendable {
    public var name: String
    public var help: String
    public var value: UInt64

    public init(name: String, help: String, value: UInt64) {
        self.name = name
        self.help = help
        self.value = value
    }
}

/// Frames dropped for one reason; `reason` is `DropReason.label`.
public struct DropCount: Codable, Hashable, Sendable {
    public var reason: String
    public var count: UInt64

    public init(reason: String, count: UInt64) {
        self.reason = reason
        self.count = count
    }
}

/// The current size of a bounded resource and its bound. `name` is the
/// metric name without the "capnet_" prefix; the bound is exported as
/// `capnet_<name>_limit`.
public struct GaugeReading: Codable, Hashable, Sendable {
    public var name: String
    public var help: String
    public var value: Int
    public var limit: Int?

    public init(name: String, help: String, value: Int, limit: Int?) {
        self.name = name
        self.help = help
        self.value = value
        self.limit = limit
    }
}

/// One ARP table row (RFC 826).
public struct NeighborStatus: Codable, Hashable, Sendable {
    public enum State: String, Codable, Hashable, Sendable {
        case resolved, incomplete
    }

    public var interface: String
    public var address: String
    /// Nil while the entry is incomplete.
    public var hardwareAddress: String?
    public var state: State
    /// ARP requests sent while incomplete; zero once resolved.
    public var requestsSent: Int
    /// Seconds until the mapping expires (resolved) or the next request (incomplete).
    public var expiresInSeconds: Double
    /// Frames queued until the address resolves.
    public var pendingFrames: Int

    public init(interface: String, address: String, hardwareAddress: String?, state: State, requestsSent: Int,
                expiresInSeconds: Double, pendingFrames: Int)
    {
        self.interface = interface
        self.address = address
        self.hardwareAddress = hardwareAddress
        self.state = state
        self.requestsSent = requestsSent
        self.expiresInSeconds = expiresInSeconds
        self.pendingFrames = pendingFrames
    }
}
