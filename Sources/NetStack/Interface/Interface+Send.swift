import CapnetBase
import NIC

/// The link-layer destination of a datagram.
enum NextHop: Equatable {
    /// A fixed link address: broadcast, or a multicast group's MAC.
    case link(MACAddress)
    /// A host on the subnet (the destination or the gateway) whose MAC ARP resolves.
    case host(IPv4Address)
}

extension Interface: IPv4Output {
    /// Sends one datagram: routes it, writes the headers, lets `fill` write
    /// the payload, and fragments it when it is larger than the MTU allows.
    /// Returns false when it was dropped (the reason is counted).
    public func send(source: IPv4Address, destination: IPv4Address, protocolNumber: IPProtocol,
                     payloadLength: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
        precondition(payloadLength >= 0 && payloadLength <= IPv4Packet.maximumTotalLength - IPv4Packet.minimumHeaderLength,
                     "IPv4 payload length out of range: \(payloadLength)")
        guard let nextHop = route(to: destination) else {
            count(.noRoute)
            return false
        }
        var header = IPv4Repr(source: source.isUnspecified ? address : source, destination: destination,
                              protocolNumber: protocolNumber, payloadLength: payloadLength,
                              timeToLive: configuration.timeToLive, identification: nextIdentification)
        nextIdentification &+= 1

        let maximumPayload = device.mtu - IPv4Packet.minimumHeaderLength
        if payloadLength <= maximumPayload {
            guard let frame = allocateFrame(destination: .zero, etherType: .ipv4,
                                            payloadLength: IPv4Packet.minimumHeaderLength + payloadLength) else {
                return false
            }
            let datagram = payload(of: frame)
            header.emit(into: datagram)
            fill(UnsafeMutableRawBufferPointer(rebasing: datagram[IPv4Packet.minimumHeaderLength...]))
            counters.ipv4DatagramsSent += 1
            return dispatch(frame, to: nextHop)
        }

        // Fragment (RFC 791 §3.2). Every fragment but the last carries the
        // largest multiple of 8 octets that fits and has MF set. Offsets count
        // 8-octet units, and all fragments share the identification.
        let whole = UnsafeMutableRawBufferPointer(rebasing: fragmentScratch[..<payloadLength])
        fill(whole)
        let fragmentPayload = maximumPayload / IPv4Packet.fragmentOffsetUnit * IPv4Packet.fragmentOffsetUnit
        var offset = 0
        while offset < payloadLength {
            let length = min(fragmentPayload, payloadLength - offset)
            header.payloadLength = length
            header.fragmentOffset = UInt16(offset / IPv4Packet.fragmentOffsetUnit)
            header.moreFragments = offset + length < payloadLength
            guard let frame = allocateFrame(destination: .zero, etherType: .ipv4,
                                            payloadLength: IPv4Packet.minimumHeaderLength + length) else {
                return false
            }
            let datagram = payload(of: frame)
            header.emit(into: datagram)
            UnsafeMutableRawBufferPointer(rebasing: datagram[IPv4Packet.minimumHeaderLength...])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: whole[offset..<offset + length]))
            counters.ipv4FragmentsSent += 1
            guard dispatch(frame, to: nextHop) else { return false }
            offset += length
        }
        counters.ipv4DatagramsSent += 1
        counters.ipv4DatagramsFragmented += 1
        return true
    }

    /// On-link destinations go direct, others through the gateway (RFC 1122 §3.3.1.1).
    func route(to destination: IPv4Address) -> NextHop? {
        if isBroadcast(destination) { return .link(.broadcast) }
        if destination.isMulticast { return .link(Self.multicastMAC(for: destination)) }
        // NOTE: datagrams to our own address or to 127/8 are not looped back.
        if destination == address || destination.isLoopback || destination.isUnspecified { return nil }
        if network.contains(destination) { return .host(destination) }
        if let gateway = configuration.gateway { return .host(gateway) }
        return nil
    }

    /// RFC 1112 §6.4: 01-00-5E-00-00-00 plus the group's low-order 23 bits.
    static func multicastMAC(for group: IPv4Address) -> MACAddress {
        let multicastPrefix: UInt64 = 0x01_00_5E_00_00_00
        let groupBits: UInt32 = 0x7F_FFFF
        return MACAddress(rawValue: multicastPrefix | UInt64(group.rawValue & groupBits))
    }

    /// Transmits a frame whose next hop is known, or queues it for ARP.
    private func dispatch(_ frame: Frame, to nextHop: NextHop) -> Bool {
        switch nextHop {
        case .link(let destination):
            setDestination(destination, of: frame)
            enqueueForTransmit(frame)
            return true
        case .host(let host):
            if let destination = arpCache.lookup(host, now: currentTime) {
                setDestination(destination, of: frame)
                enqueueForTransmit(frame)
                return true
            }
            do {
                let startResolving = try arpCache.enqueue(frame, for: host, now: currentTime)
                if startResolving { sendARPRequest(for: host) }
                return true
            } catch {
                device.pool.release(frame.slot)
                count(error == .tableFull ? .arpTableFull : .arpPendingQueueFull)
                return false
            }
        }
    }
}
