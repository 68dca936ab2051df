import CapnetBase
import NIC

/// Ephemeral ports for sockets bound to port 0 (RFC 6335 §6, the IANA range).
let ephemeralPorts: ClosedRange<UInt16> = 49152...65535

extension Interface {
    /// Binds a UDP socket to `port` on this interface's address; port 0
    /// picks a free ephemeral port. Only the interface's owner can call this,
    /// and the socket reaches its own port and nothing else.
    public func bindUDP(port: UInt16) throws(UDPSocketError) -> UDPSocket {
        var chosen = port
        if chosen == 0 {
            guard let free = ephemeralPorts.first(where: { udpPorts[$0] == nil }) else {
                throw .noFreeEphemeralPort
            }
            chosen = free
        }
        guard udpPorts[chosen] == nil else { throw .portInUse(chosen) }
        let state = UDPPortState(port: chosen, capacity: configuration.udpReceiveQueueCapacity)
        udpPorts[chosen] = state
        return UDPSocket(interface: self, state: state)
    }

    func unbindUDP(_ state: UDPPortState) {
        if udpPorts[state.port] === state { udpPorts[state.port] = nil }
    }

    /// Queues a datagram on its port's socket, or sends ICMP port unreachable when no socket is bound.
    func receiveUDP(_ datagram: ReceivedDatagram, payload: UnsafeRawBufferPointer, now: Instant) {
        let header = datagram.header
        let udp: UDPRepr
        let data: UnsafeRawBufferPointer
        do {
            (udp, data) = try UDPRepr.parse(payload, source: header.source, destination: header.destination)
        } catch {
            count(error == .badChecksum ? .udpBadChecksum : .udpMalformed)
            return
        }
        counters.udpDatagramsReceived += 1

        guard let socket = udpPorts[udp.destinationPort] else {
            count(.udpNoSocket)
            sendICMPError(.destinationUnreachable(.portUnreachable, nextHopMTU: 0), about: datagram,
                          payload: payload, now: now)
            return
        }
        // NOTE: copying the payload into an array allocates once per datagram;
        // fine for UDP services, but not a zero-copy path.
        let received = UDPReceivedDatagram(source: IPv4Endpoint(address: header.source, port: udp.sourcePort),
                                           destination: IPv4Endpoint(address: header.destination, port: udp.destinationPort),
                                           payload: Array(data))
        if !socket.enqueue(received) { count(.udpReceiveQueueFull) }
    }

    /// Sends one datagram from `sourcePort`; returns false when IPv4 dropped it.
    func sendUDP(from sourcePort: UInt16, to destination: IPv4Endpoint, payload: UnsafeRawBufferPointer) -> Bool {
        let udp = UDPRepr(sourcePort: sourcePort, destinationPort: destination.port)
        let sent = send(source: address, destination: destination.address, protocolNumber: .udp,
                        payloadLength: UDPDatagram.headerLength + payload.count) { buffer in
            if payload.count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: buffer[UDPDatagram.headerLength...]).copyMemory(from: payload)
            }
            udp.emit(into: buffer, source: address, destination: destination.address)
        }
        if sent { counters.udpDatagramsSent += 1 }
        return sent
    }
}
