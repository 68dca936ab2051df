import Testing
import CapnetBase
@testable import NIC

@Suite struct FaultInjectionConfigTests {
    @Test func parsesCommandLineForm() throws {
        let config = try FaultInjectionConfig(parsing: "loss=0.01,dup=0.002,reorder=5%,delay=2.5,seed=42")
        let expected = FaultProfile(loss: 0.01, duplicate: 0.002, reorder: 0.05, delay: .microseconds(2_500))
        #expect(config.receive == expected)
        #expect(config.transmit == expected)
        #expect(config.seed == 42)
        #expect(config.queueLimit == FaultInjectionConfig.defaultQueueLimit)
    }

    @Test func directionPrefixesSetOneSide() throws {
        let config = try FaultInjectionConfig(parsing: "rx.loss=0.5, tx.delay=10, queue=16, hold=3, seed=0x10")
        #expect(config.receive == FaultProfile(loss: 0.5))
        #expect(config.transmit == FaultProfile(delay: .milliseconds(10)))
        #expect(config.queueLimit == 16)
        #expect(config.reorderHold == .milliseconds(3))
        #expect(config.seed == 16)
    }

    @Test(arguments: [
        ("loss=1.5", ["loss=1.5", "0 to 1"]),
        ("loss=150%", ["loss=150%", "0 to 1"]),
        ("dup=-0.1", ["dup=-0.1", "0 to 1"]),
        ("reorder=often", ["reorder=often", "not a probability"]),
        ("delay=-1", ["delay=-1", "0 to 60000"]),
        ("delay=soon", ["delay=soon", "milliseconds"]),
        ("seed=-3", ["seed=-3", "whole number"]),
        ("queue=0", ["queue=0", "1...65536"]),
        ("jitter=5", ["jitter", "valid keys are"]),
        ("rx.seed=1", ["rx.seed", "valid keys are"]),
        ("loss", ["'loss'", "key=value"]),
        ("loss=0.1,loss=0.2", ["loss", "twice"]),
        ("", ["empty"]),
    ])
    func rejectsBadValue(text: String, fragments: [String]) {
        do {
            _ = try FaultInjectionConfig(parsing: text)
            Issue.record("accepted '\(text)'")
        } catch let error as DeviceError {
            #expect(error.code == .invalidArgument)
            for fragment in fragments {
                #expect(error.description.contains(fragment), "\(error.description)")
            }
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}

/// Frames carry a 32-bit sequence number after the Ethernet header (local
/// experimental EtherType 0x88B5, IEEE 802), so the tests can tell them apart.
struct SequencedFrames {
    static func make(_ sequence: Int) -> [UInt8] {
        var frame = Wire.bytes(MemoryLinkDevice.defaultMACAddresses.1) + Wire.bytes(MemoryLinkDevice.defaultMACAddresses.0)
        frame += [0x88, 0xB5]
        frame += withUnsafeBytes(of: UInt32(sequence).bigEndian) { Array($0) }
        while frame.count < 60 { frame.append(UInt8(truncatingIfNeeded: sequence)) }
        return frame
    }

    static func sequence(_ frame: [UInt8]) -> Int {
        Int(frame[14]) << 24 | Int(frame[15]) << 16 | Int(frame[16]) << 8 | Int(frame[17])
    }
}

@Suite struct FaultInjectingDeviceTests {
    let start = Instant(nanoseconds: 1_000_000_000)

    /// Sends `count` frames into a receive-side injector, `perStep` per
    /// virtual millisecond, and returns the sequence numbers received, after
    /// letting every held frame out.
    func runReceive(_ options: String, count: Int, perStep: Int = 10) throws -> (received: [Int], counters: DeviceCounters) {
        let (peer, local) = MemoryLinkDevice.makePair()
        let faulty = try FaultInjectingDevice(wrapping: local, options: options)
        let clock = VirtualTimeSource(start: start)
        var received: [Int] = []
        var sent = 0
        while sent < count {
            for _ in 0..<min(perStep, count - sent) {
                try peer.send(SequencedFrames.make(sent), now: clock.now())
                sent += 1
            }
            received += try drain(faulty, now: clock.now())
            clock.advance(by: .milliseconds(1))
        }
        // Let every delayed or reordered frame out, bounded by time.
        let end = clock.now() + .seconds(120)
        while let deadline = faulty.nextDeadline, clock.now() < end {
            clock.advance(to: deadline)
            received += try drain(faulty, now: clock.now())
        }
        #expect(faulty.heldFrameCount == 0)
        return (received, faulty.counters)
    }

    /// Receives until a call returns nothing (bounded by the pool size).
    func drain(_ device: FrameDevice, now: Instant) throws -> [Int] {
        var sequences: [Int] = []
        for _ in 0..<device.pool.slotCount {
            let frames = try device.receiveAll(now: now)
            if frames.isEmpty { break }
            sequences += frames.map(SequencedFrames.sequence)
        }
        return sequences
    }

    @Test func sameSeedSameFaults() throws {
        let options = "loss=0.2,dup=0.1,reorder=0.2,delay=3,seed=1234"
        let first = try runReceive(options, count: 500)
        let second = try runReceive(options, count: 500)
        #expect(first.received == second.received)
        #expect(first.counters == second.counters)
        let other = try runReceive("loss=0.2,dup=0.1,reorder=0.2,delay=3,seed=1235", count: 500)
        #expect(other.received != first.received)
    }

    @Test func lossAndDuplicationRatesAreBinomial() throws {
        let n = 10_000
        let run = try runReceive("loss=0.1,dup=0.05,seed=99", count: n, perStep: 100)
        // Binomial(10000, 0.1): sd 30, so ±150 is five standard deviations.
        #expect(abs(Int(run.counters.injectedDrops) - 1_000) <= 150)
        // Duplication is drawn for the 9000 or so survivors: mean 450, sd about 21.
        #expect(abs(Int(run.counters.injectedDuplicates) - 450) <= 105)
        #expect(run.received.count == n - Int(run.counters.injectedDrops) + Int(run.counters.injectedDuplicates))
        #expect(run.counters.receiveDropsQueueFull == 0)
        #expect(run.received == run.received.sorted())
    }

    @Test func reorderSwapsButLosesNothing() throws {
        let n = 2_000
        let run = try runReceive("reorder=0.1,seed=5", count: n)
        #expect(run.received.sorted() == Array(0..<n))
        // Binomial(2000, 0.1): sd about 13.4, so ±67 is five standard deviations.
        #expect(abs(Int(run.counters.injectedReorders) - 200) <= 67)
        let inversions = zip(run.received, run.received.dropFirst()).filter { $0 > $1 }.count
        #expect(inversions > 0)
        #expect(inversions <= Int(run.counters.injectedReorders))
    }

    @Test func reorderedFrameFollowsItsSuccessor() throws {
        // Every frame is held for a successor; as none is let through, both
        // wait out the hold (after the delay) and then leave in order.
        let (peer, local) = MemoryLinkDevice.makePair()
        let faulty = try FaultInjectingDevice(wrapping: local, options: "reorder=1,hold=4,delay=1,seed=3")
        try peer.send(SequencedFrames.make(0), now: start)
        try peer.send(SequencedFrames.make(1), now: start)
        let early = try faulty.receiveAll(now: start)
        #expect(early.isEmpty)
        #expect(faulty.nextDeadline == start + .milliseconds(5))
        let none = try faulty.receiveAll(now: start + .microseconds(4_999))
        #expect(none.isEmpty)
        let late = try faulty.receiveAll(now: start + .milliseconds(5))
        #expect(late.map(SequencedFrames.sequence) == [0, 1])
    }

    @Test func delayReleasesAtVirtualTime() throws {
        let (peer, local) = MemoryLinkDevice.makePair()
        let faulty = try FaultInjectingDevice(wrapping: local, options: "rx.delay=5,seed=1")
        for i in 0..<3 { try peer.send(SequencedFrames.make(i), now: start) }
        let atOnce = try faulty.receiveAll(now: start)
        #expect(atOnce.isEmpty)
        #expect(faulty.nextDeadline == start + .milliseconds(5))
        #expect(faulty.heldFrameCount == 3)
        let justBefore = try faulty.receiveAll(now: start + Nanoseconds(4_999_999))
        #expect(justBefore.isEmpty)
        let due = try faulty.receiveAll(now: start + .milliseconds(5))
        #expect(due.map(SequencedFrames.sequence) == [0, 1, 2])
        #expect(faulty.nextDeadline == nil)
        #expect(faulty.counters.injectedDelays == 3)
    }

    @Test func transmitDelayLeavesOnReceive() throws {
        let (local, peer) = MemoryLinkDevice.makePair()
        let faulty = try FaultInjectingDevice(wrapping: local, options: "tx.delay=2,seed=1")
        try faulty.send(SequencedFrames.make(7), now: start)
        #expect(peer.queuedFrameCount == 0)
        #expect(faulty.nextDeadline == start + .milliseconds(2))
        // wait returns at once when a frame is due; receive sends it.
        try faulty.wait(until: .distantFuture, now: start + .milliseconds(2))
        _ = try faulty.receiveAll(now: start + .milliseconds(2))
        let arrived = try peer.receiveAll(now: start + .milliseconds(2))
        #expect(arrived.map(SequencedFrames.sequence) == [7])
        #expect(local.counters.transmittedFrames == 1)
    }

    @Test func transmitFaultsLeaveReceiveAlone() throws {
        let (local, peer) = MemoryLinkDevice.makePair()
        let faulty = try FaultInjectingDevice(wrapping: local, options: "tx.loss=1,seed=1")
        for i in 0..<5 { try faulty.send(SequencedFrames.make(i), now: start) }
        #expect(peer.queuedFrameCount == 0)
        #expect(faulty.counters.injectedDrops == 5)
        for i in 0..<5 { try peer.send(SequencedFrames.make(i), now: start) }
        let received = try faulty.receiveAll(now: start)
        #expect(received.map(SequencedFrames.sequence) == [0, 1, 2, 3, 4])
    }

    @Test func fullQueueCountsOverflow() throws {
        let (peer, local) = MemoryLinkDevice.makePair()
        let faulty = try FaultInjectingDevice(wrapping: local, options: "delay=10,queue=4,seed=1")
        for i in 0..<6 { try peer.send(SequencedFrames.make(i), now: start) }
        let none = try faulty.receiveAll(now: start)
        #expect(none.isEmpty)
        #expect(faulty.heldFrameCount == 4)
        #expect(faulty.counters.injectedQueueOverflows == 2)
        let later = try faulty.receiveAll(now: start + .milliseconds(10))
        #expect(later.map(SequencedFrames.sequence) == [0, 1, 2, 3])
        #expect(local.pool.freeCount == local.pool.slotCount)
    }

    @Test func duplicateIsByteForByte() throws {
        let (peer, local) = MemoryLinkDevice.makePair()
        let faulty = try FaultInjectingDevice(wrapping: local, options: "dup=1,seed=1")
        try peer.send(SequencedFrames.make(1), now: start)
        try peer.send(SequencedFrames.make(2), now: start)
        let received = try faulty.receiveAll(now: start)
        #expect(received == [SequencedFrames.make(1), SequencedFrames.make(1), SequencedFrames.make(2), SequencedFrames.make(2)])
    }

    @Test func smallBatchKeepsTheRest() throws {
        let (peer, local) = MemoryLinkDevice.makePair()
        let faulty = try FaultInjectingDevice(wrapping: local, options: "dup=1,seed=1")
        for i in 0..<3 { try peer.send(SequencedFrames.make(i), now: start) }
        var order: [Int] = []
        for _ in 0..<10 {
            var batch = FrameBatch(capacity: 1)
            _ = try faulty.receive(into: &batch, now: start)
            for i in 0..<batch.count { order.append(SequencedFrames.sequence(Array(faulty.pool.bytes(batch[i])))) }
            batch.releaseAll(to: faulty.pool)
        }
        #expect(order == [0, 0, 1, 1, 2, 2])
    }

    @Test func closeReturnsHeldSlots() throws {
        let (peer, local) = MemoryLinkDevice.makePair()
        let faulty = try FaultInjectingDevice(wrapping: local, options: "delay=50,seed=1")
        for i in 0..<5 { try peer.send(SequencedFrames.make(i), now: start) }
        _ = try faulty.receiveAll(now: start)
        #expect(local.pool.freeCount == local.pool.slotCount - 5)
        faulty.close()
        #expect(local.pool.freeCount == local.pool.slotCount)
    }
}
