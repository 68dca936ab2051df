import CapnetBase

/// A datagram received on a UDP socket.
public struct UDPReceivedDatagram: Hashable, Sendable {
    public var source: IPv4Endpoint
    /// Our address or the broadcast address it was sent to, and our port.
    public var destination: IPv4Endpoint
    public var payload: [UInt8]

    public init(source: IPv4Endpoint, destination: IPv4Endpoint, payload: [UInt8]) {
        self.source = source
        self.destination = destination
        self.payload = payload
    }
}

/// An error from binding a UDP socket or sending on it.
public enum UDPSocketError: Error, Equatable, Sendable, CustomStringConvertible {
    case portInUse(UInt16)
    case noFreeEphemeralPort
    case payloadTooLarge(Int)
    case invalidDestination(IPv4Endpoint)
    case closed(UInt16)

    public var description: String {
        switch self {
        case .portInUse(let port):
            "UDP port \(port) is already bound on this interface; close the other socket or choose another port"
        case .noFreeEphemeralPort:
            "no free UDP port in \(ephemeralPorts.lowerBound)-\(ephemeralPorts.upperBound); close unused sockets"
        case .payloadTooLarge(let length):
            "UDP payload of \(length) octets exceeds the IPv4 maximum of \(UDPDatagram.maximumPayloadLength)"
        case .invalidDestination(let endpoint):
            "invalid UDP destination \(endpoint): port 0 and address 0.0.0.0 cannot be sent to"
        case .closed(let port):
            "UDP socket on port \(port) is closed"
        }
    }
}

/// The receive queue of one bound UDP port, shared by the interface (which
/// fills it) and the socket (which drains it).
final class UDPPortState {
    let port: UInt16
    let capacity: Int
    var queue: [UDPReceivedDatagram] = []
    var head = 0
    var overflowCount: UInt64 = 0

    init(port: UInt16, capacity: Int) {
        self.port = port
        self.capacity = capacity
    }

    var pendingCount: Int { queue.count - head }

    /// Appends a datagram, or counts an overflow and returns false when full.
    func enqueue(_ datagram: UDPReceivedDatagram) -> Bool {
        guard pendingCount < capacity else {
            overflowCount += 1
            return false
        }
        queue.append(datagram)
        return true
    }

    func dequeue() -> UDPReceivedDatagram? {
        guard head < queue.count else { return nil }
        let datagram = queue[head]
        head += 1
        // Reclaim consumed slots once they outnumber the capacity.
        if head >= capacity {
            queue.removeFirst(head)
            head = 0
        }
        return datagram
    }
}

/// The capability to send from and receive on one UDP port of one interface.
/// It is minted by `Interface.bindUDP(port:)` and reaches no other port.
/// Use it from the interface's run-loop thread only.
public final class UDPSocket {
    /// Weak, because a service registered on the interface keeps its socket
    /// alive and a strong reference would make a cycle.
    private weak var interface: Interface?
    private let state: UDPPortState
    public private(set) var isOpen = true

    init(interface: Interface, state: UDPPortState) {
        self.interface = interface
        self.state = state
    }

    /// The local address and port, or nil once the interface is gone.
    public var localEndpoint: IPv4Endpoint? { interface.map { IPv4Endpoint(address: $0.address, port: state.port) } }
    public var localPort: UInt16 { state.port }
    /// Datagrams waiting in the receive queue.
    public var pendingCount: Int { state.pendingCount }
    /// The receive queue's bound, in datagrams.
    public var receiveQueueCapacity: Int { state.capacity }
    /// Datagrams dropped because the receive queue was full.
    public var receiveQueueOverflows: UInt64 { state.overflowCount }

    /// Removes and returns the oldest queued datagram, or returns nil when the queue is empty.
    public func receive() -> UDPReceivedDatagram? {
        state.dequeue()
    }

    /// Sends `payload` to `destination`, fragmenting it when it exceeds the
    /// MTU. Returns false when the datagram was dropped on the way out (no
    /// route, ARP queue full, no frame slot); the interface counts why.
    /// The frames go out on the interface's next turn, and timers this send
    /// starts (ARP) count from the time of the last turn.
    @discardableResult
    public func send(_ payload: UnsafeRawBufferPointer, to destination: IPv4Endpoint) throws(UDPSocketError) -> Bool {
        let interface = try checkSend(length: payload.count, to: destination)
        return interface.sendUDP(from: state.port, to: destination, payload: payload)
    }

    @discardableResult
    public func send(_ payload: [UInt8], to destination: IPv4Endpoint) throws(UDPSocketError) -> Bool {
        let interface = try checkSend(length: payload.count, to: destination)
        return payload.withUnsafeBytes { bytes in
            interface.sendUDP(from: state.port, to: destination, payload: bytes)
        }
    }

    /// Returns the interface to send through after checking the socket and its arguments.
    private func checkSend(length: Int, to destination: IPv4Endpoint) throws(UDPSocketError) -> Interface {
        guard isOpen, let interface else { throw .closed(state.port) }
        guard length <= UDPDatagram.maximumPayloadLength else { throw .payloadTooLarge(length) }
        guard destination.port != 0, !destination.address.isUnspecified else { throw .invalidDestination(destination) }
        return interface
    }

    /// Unbinds the port and discards queued datagrams; later datagrams to the
    /// port get port unreachable. Idempotent.
    public func close() {
        guard isOpen else { return }
        isOpen = false
        interface?.unbindUDP(state)
        state.queue.removeAll()
        state.head = 0
    }
}
