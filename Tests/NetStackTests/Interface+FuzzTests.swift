import CapnetBase
import HostSim
import NIC
import Testing
@testable import NetStack

/// Mutated and truncated copies of valid frames must be counted or replied to,
/// never trap, and never leak a frame slot.
@Suite struct InterfaceMalformedInputTests {
    static let seeds: [[UInt8]] = [
        ScapyVectors.arpRequestForUs, ScapyVectors.echoRequest, ScapyVectors.bigEchoRequestFragment0,
        ScapyVectors.bigEchoRequestFragment1, ScapyVectors.bigEchoRequestFragment2, ScapyVectors.udpToPort7,
        ScapyVectors.udpToClosedPort, ScapyVectors.unknownProtocol, ScapyVectors.tcpSegment,
    ]
    /// Frames per run: enough to hit every header field many times, small enough to run in well under a second.
    static let frameCount = 3000

    @Test(arguments: [1, 2, 3] as [UInt64])
    func mutatedFramesNeverTrap(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let harness = try InterfaceHarness { $0.icmpRateLimit = .init(messagesPerSecond: 1_000_000, burst: 1_000_000) }
        harness.learnPeer()
        _ = try UDPEchoService.start(on: harness.interface, port: 7)

        for index in 0..<Self.frameCount {
            var frame = Self.seeds[Int(random.next() % UInt64(Self.seeds.count))]
            let mutations = 1 + Int(random.next() % 4)
            for _ in 0..<mutations {
                // Bias towards the Ethernet, IPv4 and transport headers, where the checks are.
                let limit = random.chance(0.8) ? min(frame.count, 64) : frame.count
                let position = Int(random.next() % UInt64(limit))
                frame[position] = UInt8(truncatingIfNeeded: random.next())
            }
            if random.chance(0.2) {
                frame = Array(frame.prefix(Int(random.next() % UInt64(frame.count + 1))))
            }
            harness.device.inject(frame)
            if index % 16 == 0 {
                _ = harness.advance(by: .milliseconds(50))
            }
        }
        // Let reassembly time out and every ARP resolution fail or finish.
        _ = harness.advance(by: .seconds(60))
        for _ in 0..<4 { _ = harness.advance(by: .seconds(1)) }

        let counters = harness.interface.counters
        #expect(counters.receivedFrames == UInt64(Self.frameCount + 1))
        #expect(counters.totalDrops > 0)
        #expect(harness.interface.reassembler.bufferedBytes == 0)
        #expect(harness.interface.arpCache.pendingCount == 0)
        #expect(harness.device.pool.freeCount == harness.device.pool.slotCount)
    }
}
