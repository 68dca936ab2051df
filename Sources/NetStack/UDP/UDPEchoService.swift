import CapnetBase

/// Echoes every datagram received on one UDP socket back to its sender, byte
/// for byte (the behaviour of RFC 862's echo service, on any port).
public final class UDPEchoService: InterfaceService {
    public let socket: UDPSocket
    public private(set) var echoedDatagrams: UInt64 = 0
    /// Echoes the interface dropped on the way out.
    public private(set) var failedEchoes: UInt64 = 0

    public init(socket: UDPSocket) {
        self.socket = socket
    }

    /// Binds `port` on `interface` and registers the service to be polled there.
    public static func start(on interface: Interface, port: UInt16) throws(UDPSocketError) -> UDPEchoService {
        let service = UDPEchoService(socket: try interface.bindUDP(port: port))
        interface.addService(service)
        return service
    }

    public func poll(now: Instant) {
        while let datagram = socket.receive() {
            let sent = (try? socket.send(datagram.payload, to: datagram.source)) ?? false
            if sent { echoedDatagrams += 1 } else { failedEchoes += 1 }
        }
    }

    public var nextDeadline: Instant? { nil }
}
