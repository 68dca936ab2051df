import Testing
@testable import NetStack

@Suite struct IPv4PacketTests {
    static func ipv4(_ frame: [UInt8]) -> [UInt8] { Array(frame.dropFirst(14)) }

    /// A header reproduced in many texts on the Internet checksum (for
    /// example Wikipedia's "Internet checksum" article): UDP, 115 octets,
    /// DF, TTL 64, checksum 0xB861.
    static let textbookHeader = hexBytes("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7")

    @Test func textbookHeaderChecksumVerifies() throws {
        let datagram = Self.textbookHeader + [UInt8](repeating: 0, count: 0x73 - 20)
        let repr = try withBytes(datagram) { try IPv4Repr.parse($0) }
        #expect(repr.protocolNumber == .udp)
        #expect(repr.dontFragment)
        #expect(repr.payloadLength == 0x73 - 20)
        #expect(repr.source == IPv4Address(192, 168, 0, 1))
        #expect(repr.destination == IPv4Address(192, 168, 0, 199))
    }

    @Test func textbookHeaderEmitsSameChecksum() throws {
        let repr = try withBytes(Self.textbookHeader + [UInt8](repeating: 0, count: 0x73 - 20)) { try IPv4Repr.parse($0) }
        #expect(emitted(count: 20) { repr.emit(into: $0) } == Self.textbookHeader)
    }

    @Test func parsesScapyEchoRequestHeader() throws {
        let repr = try withBytes(Self.ipv4(ScapyVectors.echoRequest)) { try IPv4Repr.parse($0) }
        #expect(repr.source == TestAddresses.peerIP)
        #expect(repr.destination == TestAddresses.ourIP)
        #expect(repr.protocolNumber == .icmp)
        #expect(repr.identification == 0x4D2)
        #expect(repr.timeToLive == 64)
        #expect(repr.payloadLength == 8 + 56)
        #expect(!repr.isFragment)
    }

    @Test func emitMatchesScapyReplyHeader() {
        let repr = IPv4Repr(source: TestAddresses.ourIP, destination: TestAddresses.peerIP, protocolNumber: .icmp,
                            payloadLength: 8 + 56, identification: TestAddresses.firstIdentification)
        let header = emitted(count: 20) { repr.emit(into: $0) }
        #expect(header == Array(Self.ipv4(ScapyVectors.echoReply).prefix(20)))
    }

    @Test func optionsAreSkipped() throws {
        let bytes = ScapyVectors.ipv4WithOptions
        let packet = try withBytes(bytes) { try IPv4Packet(checking: $0) }
        #expect(packet.headerLength == 24)
        #expect(packet.isChecksumValid)
        #expect(packet.dontFragment)
        #expect(packet.timeToLive == 33)
        #expect(Array(packet.payload) == Array(bytes[24...]))
        let repr = try withBytes(bytes) { try IPv4Repr.parse($0) }
        #expect(repr.headerLength == 24)
        #expect(repr.payloadLength == 8 + 3)
    }

    @Test func fragmentFieldsOfScapyFragments() throws {
        let expected: [(offset: UInt16, more: Bool, payload: Int)] = [(0, true, 1480), (185, true, 1480), (370, false, 1048)]
        let fragments = [ScapyVectors.bigEchoRequestFragment0, ScapyVectors.bigEchoRequestFragment1,
                         ScapyVectors.bigEchoRequestFragment2]
        for (fragment, want) in zip(fragments, expected) {
            let repr = try withBytes(Self.ipv4(fragment)) { try IPv4Repr.parse($0) }
            #expect(repr.fragmentOffset == want.offset)
            #expect(repr.moreFragments == want.more)
            #expect(repr.payloadLength == want.payload)
            #expect(repr.identification == 0xBEEF)
        }
    }

    @Test func linkPaddingIsTrimmed() throws {
        let padded = ScapyVectors.udpWithoutChecksum + [0, 0, 0, 0, 0, 0]
        let packet = try withBytes(padded) { try IPv4Packet(checking: $0) }
        #expect(packet.totalLength == ScapyVectors.udpWithoutChecksum.count)
        #expect(packet.payload.count == ScapyVectors.udpWithoutChecksum.count - 20)
    }

    @Test func roundTrip() throws {
        let original = IPv4Repr(source: TestAddresses.peerIP, destination: TestAddresses.offLinkIP, protocolNumber: .tcp,
                                payloadLength: 100, timeToLive: 3, identification: 0xABCD, dontFragment: false,
                                moreFragments: true, fragmentOffset: 0x1FFF, typeOfService: 0x2E)
        let bytes = emitted(count: 120) { original.emit(into: UnsafeMutableRawBufferPointer(rebasing: $0[..<20])) }
        let parsed = try withBytes(bytes) { try IPv4Repr.parse($0) }
        #expect(parsed == original)
    }

    @Test func quotedHeaderParsesWithoutTotalLength() throws {
        // Port unreachable from scapy quotes 28 octets of a 41-octet datagram.
        let quote = Array(ScapyVectors.portUnreachable.dropFirst(14 + 20 + 8))
        let (repr, payloadCount) = try withBytes(quote) { bytes in
            let (repr, payload) = try IPv4Repr.parseQuoted(bytes)
            return (repr, payload.count)
        }
        #expect(repr.source == TestAddresses.peerIP)
        #expect(repr.protocolNumber == .udp)
        #expect(repr.identification == 0x78)
        #expect(repr.payloadLength == 8 + 13)
        #expect(payloadCount == 8)
        #expect(throws: WireError.badTotalLength) { try withBytes(quote) { try IPv4Repr.parse($0) } }
        #expect(throws: WireError.truncated) { try withBytes(Array(quote.prefix(19))) { try IPv4Repr.parseQuoted($0) } }
    }

    @Test func truncatedHeaderIsRejected() {
        let bytes = Self.ipv4(ScapyVectors.echoRequest)
        for length in 0..<20 {
            #expect(throws: WireError.truncated) { try withBytes(Array(bytes.prefix(length))) { try IPv4Repr.parse($0) } }
        }
    }

    @Test func corruptHeadersAreRejected() {
        let bytes = Self.ipv4(ScapyVectors.echoRequest)
        var version6 = bytes
        version6[0] = 0x65
        #expect(throws: WireError.badVersion) { try withBytes(version6) { try IPv4Repr.parse($0) } }

        var ihl4 = bytes
        ihl4[0] = 0x44
        #expect(throws: WireError.badHeaderLength) { try withBytes(ihl4) { try IPv4Repr.parse($0) } }

        var ihl15 = Array(bytes.prefix(40))
        ihl15[0] = 0x4F
        #expect(throws: WireError.badHeaderLength) { try withBytes(ihl15) { try IPv4Repr.parse($0) } }

        #expect(throws: WireError.badTotalLength) { try withBytes(Array(bytes.dropLast())) { try IPv4Repr.parse($0) } }

        var shortTotal = bytes
        shortTotal[2] = 0
        shortTotal[3] = 19
        #expect(throws: WireError.badTotalLength) { try withBytes(shortTotal) { try IPv4Repr.parse($0) } }

        var badChecksum = bytes
        badChecksum[8] ^= 0x01  // TTL changed, checksum not updated
        #expect(throws: WireError.badChecksum) { try withBytes(badChecksum) { try IPv4Repr.parse($0) } }
    }
}
