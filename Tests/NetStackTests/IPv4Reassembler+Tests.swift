import CapnetBase
import Testing
@testable import NetStack

@Suite struct IPv4ReassemblerTests {
    static let start = Instant(nanoseconds: 5_000_000_000)
    static let payload: [UInt8] = (0..<40).map { UInt8($0) }

    /// Makes one fragment of `data` with identification `id`.
    static func fragment(_ range: Range<Int>, more: Bool, id: UInt16 = 1, of data: [UInt8] = payload)
        -> (IPv4Repr, [UInt8]) {
        let header = IPv4Repr(source: TestAddresses.peerIP, destination: TestAddresses.ourIP, protocolNumber: .udp,
                              payloadLength: range.count, identification: id, moreFragments: more,
                              fragmentOffset: UInt16(range.lowerBound / 8))
        return (header, Array(data[range]))
    }

    final class Drops {
        var reasons: [DropReason] = []
    }

    static func insert(_ reassembler: inout IPv4Reassembler, _ piece: (IPv4Repr, [UInt8]), drops: Drops,
                       now: Instant = start) -> IPv4Reassembler.Outcome {
        let headerBytes = emitted(count: 20) { piece.0.emit(into: $0) }
        return headerBytes.withUnsafeBytes { header in
            piece.1.withUnsafeBytes { data in
                reassembler.insert(piece.0, header: header, payload: data, now: now) { drops.reasons.append($0) }
            }
        }
    }

    static func completed(_ outcome: IPv4Reassembler.Outcome) -> [UInt8]? {
        if case .complete(_, let data, _) = outcome { return data }
        return nil
    }

    @Test func inOrderCompletes() {
        var reassembler = IPv4Reassembler()
        let drops = Drops()
        #expect(Self.completed(Self.insert(&reassembler, Self.fragment(0..<16, more: true), drops: drops)) == nil)
        #expect(Self.completed(Self.insert(&reassembler, Self.fragment(16..<32, more: true), drops: drops)) == nil)
        let outcome = Self.insert(&reassembler, Self.fragment(32..<40, more: false), drops: drops)
        #expect(Self.completed(outcome) == Self.payload)
        guard case .complete(let header, _, _) = outcome else { return }
        #expect(header.payloadLength == 40)
        #expect(!header.isFragment)
        #expect(reassembler.datagramsInProgress == 0)
        #expect(reassembler.bufferedBytes == 0)
        #expect(drops.reasons.isEmpty)
    }

    @Test func outOfOrderCompletes() {
        var reassembler = IPv4Reassembler()
        let drops = Drops()
        _ = Self.insert(&reassembler, Self.fragment(32..<40, more: false), drops: drops)
        _ = Self.insert(&reassembler, Self.fragment(0..<16, more: true), drops: drops)
        let outcome = Self.insert(&reassembler, Self.fragment(16..<32, more: true), drops: drops)
        #expect(Self.completed(outcome) == Self.payload)
    }

    @Test func overlapDropsWholeDatagram() {
        var reassembler = IPv4Reassembler()
        let drops = Drops()
        _ = Self.insert(&reassembler, Self.fragment(0..<16, more: true), drops: drops)
        let overlapping = Self.insert(&reassembler, Self.fragment(8..<24, more: true), drops: drops)
        #expect(Self.completed(overlapping) == nil)
        #expect(drops.reasons == [.reassemblyOverlap])
        // Fragments still to come are dropped too (RFC 5722 §4), even ones that would complete it.
        _ = Self.insert(&reassembler, Self.fragment(16..<32, more: true), drops: drops)
        let last = Self.insert(&reassembler, Self.fragment(32..<40, more: false), drops: drops)
        #expect(Self.completed(last) == nil)
        #expect(drops.reasons == [.reassemblyOverlap, .reassemblyDiscardedDatagram, .reassemblyDiscardedDatagram])
        #expect(reassembler.bufferedBytes == 0)
    }

    @Test func exactDuplicateIsIgnored() {
        var reassembler = IPv4Reassembler()
        let drops = Drops()
        _ = Self.insert(&reassembler, Self.fragment(0..<16, more: true), drops: drops)
        _ = Self.insert(&reassembler, Self.fragment(0..<16, more: true), drops: drops)
        _ = Self.insert(&reassembler, Self.fragment(16..<32, more: true), drops: drops)
        let outcome = Self.insert(&reassembler, Self.fragment(32..<40, more: false), drops: drops)
        #expect(Self.completed(outcome) == Self.payload)
        #expect(drops.reasons == [.reassemblyDuplicateFragment])
    }

    @Test func timeoutReportsFragmentZero() {
        var reassembler = IPv4Reassembler()
        let drops = Drops()
        _ = Self.insert(&reassembler, Self.fragment(0..<16, more: true), drops: drops)
        _ = Self.insert(&reassembler, Self.fragment(16..<24, more: true, id: 2), drops: drops)
        var reported: [(IPv4Repr, [UInt8])] = []
        reassembler.poll(now: Self.start + .seconds(29), timeExceeded: { reported.append(($0, $1)) },
                         drop: { drops.reasons.append($0) })
        #expect(reported.isEmpty)
        #expect(reassembler.nextDeadline == Self.start + .seconds(30))
        reassembler.poll(now: Self.start + .seconds(30), timeExceeded: { reported.append(($0, $1)) },
                         drop: { drops.reasons.append($0) })
        // Only the datagram whose fragment zero arrived is reported.
        #expect(reported.count == 1)
        #expect(reported.first?.0.identification == 1)
        #expect(reported.first?.1.count == 20 + 8)
        #expect(drops.reasons == [.reassemblyTimeout, .reassemblyTimeout])
        #expect(reassembler.datagramsInProgress == 0)
    }

    @Test func configurableTimeout() {
        var configuration = IPv4Reassembler.Configuration()
        configuration.timeout = .seconds(5)
        var reassembler = IPv4Reassembler(configuration: configuration)
        let drops = Drops()
        _ = Self.insert(&reassembler, Self.fragment(0..<16, more: true), drops: drops)
        #expect(reassembler.nextDeadline == Self.start + .seconds(5))
    }

    @Test func memoryBoundEvictsOldest() {
        var configuration = IPv4Reassembler.Configuration()
        configuration.maximumBytes = 64
        var reassembler = IPv4Reassembler(configuration: configuration)
        let drops = Drops()
        let big = (0..<64).map { UInt8($0) }
        _ = Self.insert(&reassembler, Self.fragment(0..<40, more: true, id: 1, of: big), drops: drops)
        #expect(reassembler.bufferedBytes == 40)
        _ = Self.insert(&reassembler, Self.fragment(0..<32, more: true, id: 2, of: big), drops: drops)
        #expect(drops.reasons == [.reassemblyEvicted])
        #expect(reassembler.datagramsInProgress == 1)
        #expect(reassembler.bufferedBytes == 32)
    }

    @Test func datagramLargerThanBoundIsDropped() {
        var configuration = IPv4Reassembler.Configuration()
        configuration.maximumBytes = 32
        var reassembler = IPv4Reassembler(configuration: configuration)
        let drops = Drops()
        let outcome = Self.insert(&reassembler, Self.fragment(0..<40, more: true), drops: drops)
        #expect(Self.completed(outcome) == nil)
        #expect(drops.reasons == [.reassemblyMemoryLimit])
        #expect(reassembler.bufferedBytes == 0)
    }

    @Test func datagramCountBoundEvictsOldest() {
        var configuration = IPv4Reassembler.Configuration()
        configuration.maximumDatagrams = 2
        var reassembler = IPv4Reassembler(configuration: configuration)
        let drops = Drops()
        for id: UInt16 in 1...3 {
            _ = Self.insert(&reassembler, Self.fragment(0..<8, more: true, id: id), drops: drops)
        }
        #expect(reassembler.datagramsInProgress == 2)
        #expect(drops.reasons == [.reassemblyEvicted])
        // The evicted datagram (id 1) starts over; ids 2 and 3 are still there.
        let outcome = Self.insert(&reassembler, Self.fragment(8..<40, more: false, id: 3), drops: drops)
        #expect(Self.completed(outcome) == Array(Self.payload[0..<8]) + Array(Self.payload[8..<40]))
    }

    @Test func fragmentPastMaximumLengthIsDropped() {
        var reassembler = IPv4Reassembler()
        let drops = Drops()
        // Offset 8189 × 8 = 65512 plus 8 octets ends past 65535 − 20 (the "ping of death").
        let header = IPv4Repr(source: TestAddresses.peerIP, destination: TestAddresses.ourIP, protocolNumber: .icmp,
                              payloadLength: 8, identification: 9, moreFragments: false, fragmentOffset: 8189)
        let outcome = Self.insert(&reassembler, (header, [UInt8](repeating: 0, count: 8)), drops: drops)
        #expect(Self.completed(outcome) == nil)
        #expect(drops.reasons == [.reassemblyTooLarge])
    }

    @Test func oversizeFragmentsStayWithinDatagramBound() {
        var configuration = IPv4Reassembler.Configuration()
        configuration.maximumDatagrams = 4
        var reassembler = IPv4Reassembler(configuration: configuration)
        let drops = Drops()
        for id: UInt16 in 1...10 {
            let header = IPv4Repr(source: TestAddresses.peerIP, destination: TestAddresses.ourIP, protocolNumber: .icmp,
                                  payloadLength: 8, identification: id, moreFragments: false, fragmentOffset: 8189)
            _ = Self.insert(&reassembler, (header, [UInt8](repeating: 0, count: 8)), drops: drops)
        }
        #expect(reassembler.datagramsInProgress == 4)
        #expect(drops.reasons.filter { $0 == .reassemblyTooLarge }.count == 10)
    }

    @Test func invalidFragmentsAreDropped() {
        var reassembler = IPv4Reassembler()
        let drops = Drops()
        _ = Self.insert(&reassembler, Self.fragment(0..<12, more: true), drops: drops)
        _ = Self.insert(&reassembler, Self.fragment(0..<0, more: true, id: 2), drops: drops)
        #expect(drops.reasons == [.reassemblyInvalidFragment, .reassemblyInvalidFragment])
        // Two last fragments with different ends contradict each other.
        _ = Self.insert(&reassembler, Self.fragment(16..<24, more: false, id: 3), drops: drops)
        _ = Self.insert(&reassembler, Self.fragment(32..<40, more: false, id: 3), drops: drops)
        #expect(drops.reasons.last == .reassemblyInvalidFragment)
    }
}
