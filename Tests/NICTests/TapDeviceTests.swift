import Foundation
import Testing
import CapnetBase
import CURing
@testable import NIC

/// The kernel side of every namespace test is 192.0.2.1; the device plays 192.0.2.2.
let kernelIP: [UInt8] = [192, 0, 2, 1]
let stackIP: [UInt8] = [192, 0, 2, 2]

/// Makes the kernel ping the device's address, and checks by hand the ARP
/// request it sends (RFC 826), replies, receives the ICMP echo request,
/// replies to that, and checks that ping saw the reply.
func exchangeARPAndPing(device: FrameDevice, kernelMAC: MACAddress, namespace: TestNamespace) throws {
    let ping = try namespace.background(["ping", "-n", "-c", "1", "-W", "5", "192.0.2.2"])
    defer { _ = ping.wait(timeout: 0) }

    let request = try device.receiveFirst(timeout: 5) { Wire.isARP($0) }
    guard let arp = request else {
        Issue.record("no ARP request from the kernel within 5 s")
        return
    }
    // Ethernet: broadcast destination, the kernel's MAC as source, type ARP.
    #expect(Array(arp[0..<6]) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
    #expect(Wire.mac(arp, 6) == kernelMAC)
    #expect(Array(arp[12..<14]) == [0x08, 0x06])
    // ARP: hrd 1 (Ethernet), pro 0x0800, hln 6, pln 4, op 1 (request).
    #expect(Array(arp[14..<22]) == [0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01])
    #expect(Wire.mac(arp, 22) == kernelMAC)             // sha
    #expect(Array(arp[28..<32]) == kernelIP)              // spa
    #expect(Array(arp[38..<42]) == stackIP)               // tpa

    try device.send(Wire.arpReply(senderMAC: device.macAddress, senderIP: stackIP,
                                  targetMAC: kernelMAC, targetIP: kernelIP))

    let echo = try device.receiveFirst(timeout: 5) { Wire.isICMPEchoRequest($0) }
    guard let echo else {
        Issue.record("no ICMP echo request within 5 s after the ARP reply")
        return
    }
    #expect(Wire.mac(echo, 0) == device.macAddress)
    #expect(Wire.mac(echo, 6) == kernelMAC)
    #expect(Array(echo[26..<30]) == kernelIP)
    #expect(Array(echo[30..<34]) == stackIP)

    try device.send(Wire.echoReply(to: echo, from: device.macAddress))
    let result = ping.wait(timeout: 10)
    #expect(result.status == 0, "ping did not get the echo reply: \(result.output)")
}

@Suite(.serialized, .enabled(if: Privileges.canUseNamespaces, Privileges.skipReason))
struct TapDeviceTests {
    @Test func arpAndPingThroughTapInNamespace() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        try ns.addTap("captap0")

        let device = try TapDevice(name: "captap0", namespace: ns.name)
        defer { device.close() }
        #expect(device.mtu == 1500)
        #expect(device.macAddress != device.kernelMACAddress)
        #expect(device.macAddress.octet(0) & 0x03 == 0x02)   // locally administered unicast
        #expect(!device.createdInterface)

        try exchangeARPAndPing(device: device, kernelMAC: device.kernelMACAddress, namespace: ns)
        #expect(device.counters.receivedFrames >= 2)
        #expect(device.counters.transmittedFrames == 2)
        #expect(device.counters.transmitDropsError == 0)
    }

    @Test func missingDeviceIsNotFound() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        do {
            let device = try TapDevice(name: "capmissing0", namespace: ns.name)
            device.close()
            Issue.record("attaching to a missing tap succeeded")
        } catch let error as DeviceError {
            #expect(error.code == .notFound)
            #expect(error.description.contains("capmissing0"))
            #expect(error.description.contains("ip tuntap add dev capmissing0 mode tap"))
            #expect(error.description.contains(ns.name))
        }
    }

    @Test func secondOpenIsBusy() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        try ns.addTap("capbusy0")
        let first = try TapDevice(name: "capbusy0", namespace: ns.name)
        defer { first.close() }
        do {
            let second = try TapDevice(name: "capbusy0", namespace: ns.name)
            second.close()
            Issue.record("a second open of the same tap succeeded")
        } catch let error as DeviceError {
            #expect(error.code == .busy)
            #expect(error.description.contains("capbusy0"))
            #expect(error.description.contains("another process has it open"))
        }
    }

    @Test func notATapIsInvalid() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        try ns.exec(["ip", "tuntap", "add", "dev", "captun0", "mode", "tun"])
        do {
            let device = try TapDevice(name: "captun0", namespace: ns.name)
            device.close()
            Issue.record("attaching to a tun (not tap) interface succeeded")
        } catch let error as DeviceError {
            #expect(error.code == .invalidArgument)
            #expect(error.description.contains("not a tap device"))
        }
    }

    @Test func missingCapabilityIsPermissionDenied() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        // Drop CAP_NET_ADMIN on the namespace thread only, then ask to create.
        let outcome: Result<TapDevice, Error> = try NetworkNamespace.run(in: ns.name) {
            let rc = capnet_drop_net_admin_this_thread()
            guard rc == 0 else { throw TestFailure("capset failed: \(rc)") }
            return Result { try TapDevice(name: "capperm0", namespace: nil, create: true) }
        }
        switch outcome {
        case .success(let device):
            device.close()
            Issue.record("creating a tap without CAP_NET_ADMIN succeeded")
        case .failure(let error as DeviceError):
            #expect(error.code == .permissionDenied)
            #expect(error.description.contains("CAP_NET_ADMIN"))
            #expect(error.description.contains("capperm0"))
        case .failure(let error):
            Issue.record("unexpected error: \(error)")
        }
    }

    @Test func createsTapWhenAsked() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        let mac = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x42)
        let device = try TapDevice(name: "capnew0", namespace: ns.name, create: true, mtu: 1400, macAddress: mac)
        #expect(device.createdInterface)
        #expect(device.mtu == 1400)
        #expect(device.macAddress == mac)
        let shown = try ns.exec(["ip", "-o", "link", "show", "capnew0"])
        #expect(shown.output.contains("capnew0"))
        #expect(shown.output.contains(",UP"))
        device.close()
        // A tap capnet created itself is not persistent: it goes with the fd.
        let after = try ns.exec(["ip", "link", "show", "capnew0"], check: false)
        #expect(after.status != 0)
    }

    @Test func closeReturnsEverySlot() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        try ns.addTap("capslots0")
        let device = try TapDevice(name: "capslots0", namespace: ns.name, poolSlots: 128, readDepth: 16)
        #expect(device.pool.freeCount == 128 - 16)
        device.close()
        #expect(device.pool.freeCount == 128)
    }
}

/// Bursts larger than the posted reads and than one transmit batch, counted
/// by the kernel on the other side.
@Suite(.serialized, .enabled(if: Privileges.canUseNamespaces, Privileges.skipReason))
struct TapDeviceBurstTests {
    static let burst = 500

    func kernelCounter(_ ns: TestNamespace, _ tap: String, _ name: String) throws -> Int {
        let text = try ns.exec(["cat", "/sys/class/net/\(tap)/statistics/\(name)"]).output
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    @Test func transmitBurstReachesKernel() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        try ns.addTap("capburst0")
        let device = try TapDevice(name: "capburst0", namespace: ns.name, poolSlots: 256, readDepth: 8)
        defer { device.close() }
        let before = try kernelCounter(ns, "capburst0", "rx_packets")

        // Gratuitous ARP replies from the stack's address (RFC 5227 §3).
        let frame = Wire.arpReply(senderMAC: device.macAddress, senderIP: stackIP,
                                  targetMAC: .broadcast, targetIP: stackIP)
        var sent = 0
        var batch = FrameBatch(capacity: 64)
        while sent < Self.burst {
            while !batch.isFull && sent < Self.burst {
                guard let slot = device.pool.allocate() else { break }
                device.pool.buffer(slot).copyBytes(from: frame)
                batch.append(Frame(slot: slot, length: frame.count))
                sent += 1
            }
            try device.transmit(&batch, now: monotonicNow())
            let left = batch.count
            #expect(left == 0)
        }
        // Writes complete asynchronously; a receive harvests the rest.
        let giveUp = monotonicNow() + .seconds(5)
        while device.counters.transmittedFrames < UInt64(Self.burst) && monotonicNow() < giveUp {
            _ = try device.receiveAll()
            try device.wait(until: monotonicNow() + .milliseconds(10), now: monotonicNow())
        }
        #expect(device.counters.transmittedFrames == UInt64(Self.burst))
        #expect(device.counters.transmitDropsError == 0)
        let after = try kernelCounter(ns, "capburst0", "rx_packets")
        #expect(after - before == Self.burst)
        #expect(device.pool.freeCount == 256 - 8)
    }

    @Test func receiveBurstLosesNothing() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        try ns.addTap("capburst1")
        let device = try TapDevice(name: "capburst1", namespace: ns.name, poolSlots: 256, readDepth: 16)
        defer { device.close() }
        // A static neighbour entry, so the kernel sends without asking ARP.
        try ns.exec(["ip", "neigh", "add", "192.0.2.2", "lladdr", device.macAddress.description,
                     "dev", "capburst1", "nud", "permanent"])
        let script = """
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(\(Self.burst)):
            s.sendto(i.to_bytes(4, "big"), ("192.0.2.2", 9))
        """
        try ns.exec(["python3", "-c", script])

        var sequences: [Int] = []
        let giveUp = monotonicNow() + .seconds(5)
        while sequences.count < Self.burst && monotonicNow() < giveUp {
            for frame in try device.receiveAll(max: 32) where Self.isDiscardDatagram(frame) {
                sequences.append(Int(frame[42]) << 24 | Int(frame[43]) << 16 | Int(frame[44]) << 8 | Int(frame[45]))
            }
            try device.wait(until: monotonicNow() + .milliseconds(50), now: monotonicNow())
        }
        #expect(sequences == Array(0..<Self.burst))
        #expect(device.counters.receiveDropsPoolExhausted == 0)
    }

    /// Checks for an IPv4 UDP datagram without options to the discard port (RFC 863).
    static func isDiscardDatagram(_ f: [UInt8]) -> Bool {
        f.count >= 46 && Wire.u16(f, 12) == 0x0800 && f[14] == 0x45 && f[23] == 17 && Wire.u16(f, 36) == 9
    }
}

@Suite(.serialized, .enabled(if: Privileges.canUseNamespaces, Privileges.skipReason))
struct TapDeviceLifecycleTests {
    @Test func deletedTapFailsReceive() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        try ns.addTap("capgone0")
        let device = try TapDevice(name: "capgone0", namespace: ns.name, poolSlots: 64, readDepth: 8)
        defer { device.close() }
        try ns.exec(["ip", "link", "del", "capgone0"])

        var failure: DeviceError?
        let giveUp = monotonicNow() + .seconds(3)
        while failure == nil && monotonicNow() < giveUp {
            do {
                try device.wait(until: monotonicNow() + .milliseconds(100), now: monotonicNow())
                _ = try device.receiveAll()
            } catch let error as DeviceError {
                failure = error
            }
        }
        #expect(failure?.code == .ioFailure)
        #expect(failure?.description.contains("capgone0") == true)
    }
}
