import CapnetBase
import NIC

/// A datagram addressed to us, whole (reassembled if it was fragmented),
/// with what ICMP errors about it need.
struct ReceivedDatagram {
    var header: IPv4Repr
    /// Sent to a link-layer broadcast address.
    var isLinkBroadcast: Bool
    /// Sent to 255.255.255.255 or the subnet's broadcast address.
    var isBroadcast: Bool
    /// The header as received and the first 8 octets of the payload, quoted in ICMP errors.
    var quote: UnsafeRawBufferPointer
}

extension Interface {
    /// True for 255.255.255.255 and the subnet's directed broadcast address.
    func isBroadcast(_ destination: IPv4Address) -> Bool {
        destination == .broadcast || destination == network.broadcastAddress
    }

    /// Checks a received IPv4 datagram, reassembles fragments and delivers
    /// whole datagrams addressed to us.
    func receiveIPv4(_ bytes: UnsafeRawBufferPointer, isLinkBroadcast: Bool, now: Instant) {
        let packet: IPv4Packet
        do {
            packet = try IPv4Packet(checking: bytes)
        } catch {
            count(.ipv4Malformed)
            return
        }
        guard packet.isChecksumValid else {
            count(.ipv4BadChecksum)
            return
        }
        let header = IPv4Repr(packet)
        counters.ipv4DatagramsReceived += 1

        // Accept our address, the subnet broadcast and 255.255.255.255 (RFC 1122 §3.3.6).
        let isBroadcastDestination = isBroadcast(header.destination)
        guard header.destination == address || isBroadcastDestination else {
            count(.ipv4NotForUs)
            return
        }
        // RFC 1122 §3.2.1.3: discard datagrams from a source that is not one
        // host. Our own address as the source means a loop or a spoofed datagram.
        let source = header.source
        guard !isBroadcast(source), !source.isMulticast, !source.isLoopback, source != address,
              !source.isUnspecified || isBroadcastDestination else {
            count(.ipv4InvalidSource)
            return
        }

        guard header.isFragment else {
            let quoteLength = min(packet.totalLength, packet.headerLength + IPv4Reassembler.quotedPayloadLength)
            let datagram = ReceivedDatagram(header: header, isLinkBroadcast: isLinkBroadcast,
                                            isBroadcast: isBroadcastDestination,
                                            quote: UnsafeRawBufferPointer(rebasing: packet.bytes[..<quoteLength]))
            deliver(datagram, payload: packet.payload, now: now)
            return
        }

        counters.ipv4FragmentsReceived += 1
        let outcome = reassembler.insert(header, header: packet.header, payload: packet.payload, now: now) { reason in
            count(reason)
        }
        guard case .complete(let whole, let payload, let quote) = outcome else { return }
        counters.ipv4DatagramsReassembled += 1
        quote.withUnsafeBytes { quote in
            payload.withUnsafeBytes { payload in
                let datagram = ReceivedDatagram(header: whole, isLinkBroadcast: isLinkBroadcast,
                                                isBroadcast: isBroadcastDestination, quote: quote)
                deliver(datagram, payload: payload, now: now)
            }
        }
    }

    /// Hands a whole datagram to ICMP, UDP or the registered transport.
    func deliver(_ datagram: ReceivedDatagram, payload: UnsafeRawBufferPointer, now: Instant) {
        let header = datagram.header
        switch header.protocolNumber {
        case .icmp:
            counters.ipv4DatagramsDelivered += 1
            receiveICMP(datagram, payload: payload, now: now)
        case .udp:
            counters.ipv4DatagramsDelivered += 1
            receiveUDP(datagram, payload: payload, now: now)
        default:
            guard let handler = handlers[header.protocolNumber] else {
                count(.ipv4UnknownProtocol)
                sendICMPError(.destinationUnreachable(.protocolUnreachable, nextHopMTU: 0), about: datagram,
                              payload: payload, now: now)
                return
            }
            counters.ipv4DatagramsDelivered += 1
            var output: Interface = self
            handler.receive(source: header.source, destination: header.destination, payload: payload,
                            now: now, output: &output)
        }
    }
}
