import CapnetBase
import NIC

extension Interface {
    static let arpLog = Logger(.arp)

    /// Runs RFC 826's reception algorithm: merge the sender's mapping if the
    /// table has one, then, only when we are the target, add it and reply to a request.
    func receiveARP(_ bytes: UnsafeRawBufferPointer, now: Instant) {
        let arp: ARPRepr
        do {
            arp = try ARPRepr.parse(bytes)
        } catch {
            switch error {
            case .unsupportedHardware: count(.arpUnsupportedHardware)
            case .unsupportedProtocol: count(.arpUnsupportedProtocol)
            default: count(.arpTruncated)
            }
            return
        }
        switch arp.operation {
        case .request: counters.arpRequestsReceived += 1
        case .reply: counters.arpRepliesReceived += 1
        default: break
        }

        // Never learn a group MAC address or a mapping for an address that is
        // not a single host. Another host claiming our own address is a conflict.
        let sender = arp.senderProtocolAddress
        guard !arp.senderHardwareAddress.isMulticast, arp.senderHardwareAddress != .zero else {
            count(.arpInvalidSender)
            return
        }
        if sender == address {
            if conflictLog.allow(now: now) {
                Self.arpLog.warning("address conflict: another host claims our address",
                                    "address=\(sender) mac=\(arp.senderHardwareAddress)")
            }
            count(.arpInvalidSender)
            return
        }
        // A probe (RFC 5227 §2.1.1) has sender 0.0.0.0, so reply to it but learn nothing.
        let senderIsHost = !sender.isUnspecified && !isBroadcast(sender) && !sender.isMulticast

        // RFC 826: "If the pair <protocol type, sender protocol address> is
        // already in my translation table, update the sender hardware address
        // field of the entry with the new information in the packet and set
        // Merge_flag to true."
        var merged = false
        if senderIsHost, let waiting = arpCache.merge(sender, hardwareAddress: arp.senderHardwareAddress, now: now) {
            merged = true
            for frame in waiting {
                setDestination(arp.senderHardwareAddress, of: frame)
                enqueueForTransmit(frame)
            }
        }

        // "?Am I the target protocol address?"
        guard arp.targetProtocolAddress == address else {
            count(.arpTargetNotUs)
            return
        }
        if !merged && senderIsHost {
            if !arpCache.insert(sender, hardwareAddress: arp.senderHardwareAddress, now: now) {
                count(.arpTableFull)
            }
        }

        // "?Is the opcode ares_op$REQUEST?"
        switch arp.operation {
        case .request:
            sendARP(ARPRepr(operation: .reply,
                            senderHardwareAddress: device.macAddress, senderProtocolAddress: address,
                            targetHardwareAddress: arp.senderHardwareAddress, targetProtocolAddress: sender),
                    to: arp.senderHardwareAddress)
            counters.arpRepliesSent += 1
        case .reply:
            break
        default:
            count(.arpUnsupportedOperation)
        }
    }

    /// Broadcasts a request for `target`'s hardware address.
    func sendARPRequest(for target: IPv4Address) {
        sendARP(ARPRepr(operation: .request,
                        senderHardwareAddress: device.macAddress, senderProtocolAddress: address,
                        targetHardwareAddress: .zero, targetProtocolAddress: target),
                to: .broadcast)
        counters.arpRequestsSent += 1
    }

    /// Sends an ARP announcement (RFC 5227 §3): a broadcast request whose sender
    /// and target protocol addresses are both ours, so neighbours update their tables.
    func sendGratuitousARP() {
        Self.arpLog.info("announcing address", "address=\(address) mac=\(device.macAddress) device=\(device.name)")
        sendARPRequest(for: address)
    }

    private func sendARP(_ arp: ARPRepr, to destination: MACAddress) {
        guard let frame = allocateFrame(destination: destination, etherType: .arp, payloadLength: ARPPacket.length) else {
            return
        }
        arp.emit(into: payload(of: frame))
        enqueueForTransmit(frame)
    }
}
