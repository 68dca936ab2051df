import CapnetBase
import Foundation
import NIC
import Testing

/// Runs only inside the QEMU guest that `image/run-virtio-guest.sh` boots,
/// where `CAPNET_VIRTIO_PCI_ADDRESS` names a virtio-net PCI device bound to
/// vfio-pci and QEMU's user network (restricted, 192.0.2.0/24) is the peer.
/// Serialized because a VFIO group opens only once at a time.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["CAPNET_VIRTIO_PCI_ADDRESS"] != nil), .serialized)
struct VirtioPCIGuestTests {
    /// The MAC the script gives QEMU (`-device virtio-net-pci,mac=...`).
    static let expectedMAC = MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56)
    /// QEMU's user network with `net=192.0.2.0/24`: the guest's address and the gateway address QEMU replies for.
    static let guestAddress: [UInt8] = [192, 0, 2, 15]
    static let gatewayAddress: [UInt8] = [192, 0, 2, 2]

    /// Builds an ARP request (RFC 826) for `gatewayAddress`, padded to the
    /// 60-byte Ethernet minimum.
    static func arpRequest(from mac: MACAddress) -> [UInt8] {
        let macBytes = (0..<6).map { mac.octet($0) }
        var frame: [UInt8] = Array(repeating: 0xFF, count: 6) + macBytes + [0x08, 0x06]
        frame += [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]           // Ethernet, IPv4, request
        frame += macBytes + guestAddress + Array(repeating: 0, count: 6) + gatewayAddress
        frame += Array(repeating: 0, count: 60 - frame.count)
        return frame
    }

    /// Returns whether `frame` is an ARP reply (operation 2) from `gatewayAddress`.
    static func isGatewayReply(_ frame: [UInt8]) -> Bool {
        frame.count >= 42 && frame[12] == 0x08 && frame[13] == 0x06 && frame[21] == 2
            && Array(frame[28..<32]) == gatewayAddress
    }

    /// 70,000 requests and replies, more than the 65,536 positions of the
    /// 16-bit ring indices, against QEMU's device model: every request
    /// gets its reply and no slot leaks.
    @Test func ringIndicesWrapOnRealDevice() throws {
        let address = try #require(ProcessInfo.processInfo.environment["CAPNET_VIRTIO_PCI_ADDRESS"])
        let pool = FramePool(slotCount: 512)
        let driver = try VirtioNetDevice(pciAddress: address, pool: pool)
        let request = Self.arpRequest(from: driver.macAddress)
        let clock = MonotonicTimeSource()
        let deadline = clock.now() + .seconds(600)
        let total = 70_000
        let batchSize = 32
        var batch = FrameBatch(capacity: batchSize)
        var replies = 0
        var sent = 0
        while sent < total && clock.now() < deadline {
            for _ in 0..<min(batchSize, total - sent) {
                let slot = try #require(pool.allocate())
                pool.buffer(slot).copyBytes(from: request)
                batch.append(Frame(slot: slot, length: request.count))
            }
            sent += batch.count
            try driver.transmit(&batch, now: clock.now())
            while replies < sent && clock.now() < deadline {
                try driver.wait(until: clock.now() + .seconds(1), now: clock.now())
                _ = try driver.receive(into: &batch, now: clock.now())
                for i in 0..<batch.count where Self.isGatewayReply(Array(pool.bytes(batch[i]))) { replies += 1 }
                batch.releaseAll(to: pool)
            }
        }
        #expect(sent == total)
        #expect(replies == total)
        #expect(driver.counters.transmitDropsError == 0)
        driver.close()
        #expect(pool.freeCount == 512)
    }

    /// Receives (and drops) frames until `condition` is true or `timeout` passes.
    static func poll(_ driver: VirtioNetDevice, for timeout: Nanoseconds, until condition: () -> Bool) throws {
        let clock = MonotonicTimeSource()
        let deadline = clock.now() + timeout
        var batch = FrameBatch(capacity: 32)
        while !condition() && clock.now() < deadline {
            try driver.wait(until: clock.now() + .seconds(1), now: clock.now())
            _ = try driver.receive(into: &batch, now: clock.now())
            batch.releaseAll(to: driver.pool)
        }
    }

    /// Prints a line the script on the host waits for, unbuffered.
    static func announce(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// The host script turns the link off and on through QEMU's monitor
    /// (`set_link`) when it reads the announcements; the driver must detect both
    /// changes through configuration change interrupts and the status field.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CAPNET_VIRTIO_LINK_TEST"] == "1"))
    func linkChangesFromQEMUMonitor() throws {
        let address = try #require(ProcessInfo.processInfo.environment["CAPNET_VIRTIO_PCI_ADDRESS"])
        let pool = FramePool(slotCount: 512)
        let driver = try VirtioNetDevice(pciAddress: address, pool: pool)
        #expect(driver.isLinkUp)

        Self.announce("capnet-guest: waiting for link down")
        try Self.poll(driver, for: .seconds(120)) { !driver.isLinkUp }
        #expect(!driver.isLinkUp)

        Self.announce("capnet-guest: waiting for link up")
        try Self.poll(driver, for: .seconds(120)) { driver.isLinkUp }
        #expect(driver.isLinkUp)
        #expect(driver.virtioCounters.linkChanges == 2)
        driver.close()
        #expect(pool.freeCount == 512)
    }

    @Test func arpThroughQEMUUserNetwork() throws {
        let address = try #require(ProcessInfo.processInfo.environment["CAPNET_VIRTIO_PCI_ADDRESS"])
        let pool = FramePool(slotCount: 512)
        let driver = try VirtioNetDevice(pciAddress: address, pool: pool)
        #expect(driver.macAddress == Self.expectedMAC)
        #expect(driver.isLinkUp)
        #expect(driver.negotiatedFeatures.contains(.version1))

        var batch = FrameBatch(capacity: 32)
        let request = Self.arpRequest(from: driver.macAddress)
        let slot = try #require(pool.allocate())
        pool.buffer(slot).copyBytes(from: request)
        batch.append(Frame(slot: slot, length: request.count))
        let clock = MonotonicTimeSource()
        try driver.transmit(&batch, now: clock.now())

        var reply: [UInt8]?
        let deadline = clock.now() + .seconds(10)
        while reply == nil && clock.now() < deadline {
            try driver.wait(until: deadline, now: clock.now())
            _ = try driver.receive(into: &batch, now: clock.now())
            for i in 0..<batch.count {
                let frame = Array(pool.bytes(batch[i]))
                if Self.isGatewayReply(frame) { reply = frame }
            }
            batch.releaseAll(to: pool)
        }
        let answer = try #require(reply)
        // The reply is addressed to our MAC (target hardware address).
        #expect(Array(answer[32..<38]) == (0..<6).map { driver.macAddress.octet($0) })
        driver.close()
        #expect(pool.freeCount == 512)
    }
}
