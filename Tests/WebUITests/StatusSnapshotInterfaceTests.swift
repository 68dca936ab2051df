// Fills the snapshot's interface and neighbor rows from two real NetStack
// interfaces on an in-memory link: the second interface replies to the
// first's ARP request, so the neighbor row carries the peer's own MAC.
import CapnetBase
import NIC
import NetStack
import Testing
@testable import WebUI

@Suite struct StatusSnapshotInterfaceTests {
    @Test func rowsFromAnInterface() throws {
        let (deviceA, deviceB) = MemoryLinkDevice.makePair(names: ("memA", "memB"))
        // Without gratuitous ARP, the only ARP exchange is A's request and B's reply.
        var configurationA = Interface.Configuration(address: IPv4Network("192.0.2.1/24")!)
        configurationA.sendsGratuitousARP = false
        var configurationB = Interface.Configuration(address: IPv4Network("192.0.2.2/24")!)
        configurationB.sendsGratuitousARP = false
        let a = try Interface(device: deviceA, configuration: configurationA)
        let b = try Interface(device: deviceB, configuration: configurationB)
        defer {
            a.close()
            b.close()
        }
        let clock = VirtualTimeSource()
        // A first turn sets each interface's clock, so the send below is timed at `clock.now()`.
        a.poll(now: clock.now())
        b.poll(now: clock.now())
        // One UDP-protocol datagram of 8 zero bytes from A to B: A must resolve B first.
        let queued = a.send(source: a.address, destination: b.address, protocolNumber: .udp, payloadLength: 8) {
            $0.initializeMemory(as: UInt8.self, repeating: 0)
        }
        #expect(queued)
        for _ in 0..<4 {
            a.poll(now: clock.now())
            b.poll(now: clock.now())
            clock.advance(by: .milliseconds(1))
        }

        let status = InterfaceStatus(a)
        #expect(status.name == "memA")
        #expect(status.network == "192.0.2.1/24")
        #expect(status.hardwareAddress == "02:00:00:00:00:01")
        #expect(status.mtu == 1500)
        #expect(status.receivedFrames == a.counters.receivedFrames)
        #expect(status.receivedFrames >= 1)
        #expect(status.sentFrames == 2)  // the ARP request and the datagram
        #expect(status.counters.first { $0.name == "arp_requests_sent" }?.value == 1)
        #expect(status.counters.first { $0.name == "arp_replies_received" }?.value == 1)
        #expect(status.counters.first { $0.name == "device_frames_transmitted" }?.value == deviceA.counters.transmittedFrames)
        #expect(status.drops.map(\.reason) == DropReason.allCases.map(\.label))
        let arp = try #require(status.gauges.first { $0.name == "arp_entries" })
        #expect(arp.value == 1)
        #expect(arp.limit == ARPCache.Configuration().maximumEntries)

        let neighbors = NeighborStatus.rows(of: a)
        #expect(neighbors.count == 1)
        #expect(neighbors.first?.address == "192.0.2.2")
        #expect(neighbors.first?.hardwareAddress == "02:00:00:00:00:02")
        #expect(neighbors.first?.state == .resolved)
        #expect(neighbors.first?.interface == "memA")

        let service = ServiceInfo(version: "test", startedAt: fixedDate, uptimeSeconds: 1, addresses: [])
        let snapshot = StatusSnapshot.collect(from: [a, b], service: service, generatedAt: fixedDate)
        #expect(snapshot.interfaces.map(\.name) == ["memA", "memB"])
        #expect(snapshot.neighbors.map(\.interface) == ["memA", "memB"])
        let totals = StatusHistory.Totals(interfaces: [a, b], handshakes: 0, connections: 0)
        #expect(totals.packets == deviceA.counters.transmittedFrames + deviceB.counters.transmittedFrames
            + deviceA.counters.receivedFrames + deviceB.counters.receivedFrames)
    }
}
