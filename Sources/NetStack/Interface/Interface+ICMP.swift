import CapnetBase
import NIC

extension Interface {
    static let icmpLog = Logger(.icmp)

    /// Sends an echo reply for each echo request and counts every other message as unhandled.
    func receiveICMP(_ datagram: ReceivedDatagram, payload: UnsafeRawBufferPointer, now: Instant) {
        let message: ICMPv4Repr
        let data: UnsafeRawBufferPointer
        do {
            (message, data) = try ICMPv4Repr.parse(payload)
        } catch {
            count(error == .badChecksum ? .icmpBadChecksum : .icmpMalformed)
            return
        }

        guard case .echoRequest(let identifier, let sequenceNumber) = message else {
            if message.type.isError {
                deliverICMPError(message, from: datagram.header.source, quote: data, now: now)
            } else {
                count(.icmpUnhandled)
            }
            return
        }
        counters.icmpEchoRequestsReceived += 1
        guard !datagram.isBroadcast && !datagram.isLinkBroadcast else {
            count(.icmpEchoToBroadcast)
            return
        }

        // RFC 792: the reply carries the request's identifier, sequence number
        // and data; RFC 1122 §3.2.2.6: its source is the request's destination.
        let reply = ICMPv4Repr.echoReply(identifier: identifier, sequenceNumber: sequenceNumber)
        let sent = send(source: datagram.header.destination, destination: datagram.header.source,
                        protocolNumber: .icmp, payloadLength: ICMPv4Message.headerLength + data.count) { buffer in
            reply.emit(into: buffer, data: data)
        }
        if sent { counters.icmpEchoRepliesSent += 1 }
    }

    /// Passes an ICMP error about one of our datagrams to the transport that
    /// sent it (RFC 1122 §3.2.2), when that transport takes ICMP errors.
    func deliverICMPError(_ message: ICMPv4Repr, from reporter: IPv4Address, quote: UnsafeRawBufferPointer,
                          now: Instant) {
        counters.icmpErrorsReceived += 1
        guard let (original, originalPayload) = try? IPv4Repr.parseQuoted(quote) else {
            count(.icmpMalformed)
            return
        }
        guard original.source == address,
              let receiver = handlers[original.protocolNumber] as? IPv4ICMPErrorReceiver else {
            count(.icmpUnhandled)
            return
        }
        receiver.receiveICMPError(message, from: reporter, original: original, originalPayload: originalPayload,
                                  now: now)
    }

    /// Sends an ICMP error about a received datagram, unless RFC 1122 §3.2.2
    /// forbids one: never about an ICMP error, a broadcast or multicast, a
    /// non-first fragment, or a source that is not one host.
    func sendICMPError(_ message: ICMPv4Repr, about datagram: ReceivedDatagram,
                       payload: UnsafeRawBufferPointer, now: Instant) {
        let header = datagram.header
        guard !Self.isICMPError(protocolNumber: header.protocolNumber, payload: payload),
              header.fragmentOffset == 0, !datagram.isLinkBroadcast else { return }
        sendICMPError(message, to: header.source, quote: datagram.quote,
                      aboutBroadcast: datagram.isBroadcast || header.destination.isMulticast, now: now)
    }

    /// True when `payload` is an ICMP error message, or an ICMP message too
    /// short to have a type; no ICMP error is sent about either.
    static func isICMPError(protocolNumber: IPProtocol, payload: UnsafeRawBufferPointer) -> Bool {
        guard protocolNumber == .icmp else { return false }
        guard let type = payload.first else { return true }
        return ICMPv4Type(rawValue: type).isError
    }

    /// Sends an ICMP error to `destination` quoting `quote` (the offending
    /// header and first 8 payload octets), subject to the rate limit.
    func sendICMPError(_ message: ICMPv4Repr, to destination: IPv4Address, quote: UnsafeRawBufferPointer,
                       aboutBroadcast: Bool, now: Instant) {
        guard !aboutBroadcast, !destination.isUnspecified, !isBroadcast(destination),
              !destination.isMulticast, !destination.isLoopback else { return }
        guard icmpRateLimiter.allow(now: now) else {
            count(.icmpErrorRateLimited)
            return
        }
        let sent = send(source: address, destination: destination, protocolNumber: .icmp,
                        payloadLength: ICMPv4Message.headerLength + quote.count) { buffer in
            message.emit(into: buffer, data: quote)
        }
        if sent {
            counters.icmpErrorsSent += 1
            Self.icmpLog.debug("sent \(message.type)", "to=\(destination)")
        }
    }
}
