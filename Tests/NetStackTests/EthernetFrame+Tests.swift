import NIC
import Testing
@testable import NetStack

@Suite struct EthernetFrameTests {
    @Test func parsesScapyARPFrame() throws {
        let repr = try withBytes(ScapyVectors.arpRequestForUs) { try EthernetRepr.parse($0) }
        #expect(repr.destination == .broadcast)
        #expect(repr.source == TestAddresses.peerMAC)
        #expect(repr.etherType == .arp)
    }

    @Test func payloadFollowsHeader() throws {
        let payloadCount = try withBytes(ScapyVectors.echoRequest) { try EthernetFrame(checking: $0).payload.count }
        #expect(payloadCount == ScapyVectors.echoRequest.count - 14)
    }

    @Test func emitMatchesScapyHeader() {
        let header = emitted(count: EthernetFrame.headerLength) { buffer in
            EthernetRepr(destination: TestAddresses.peerMAC, source: TestAddresses.ourMAC, etherType: .ipv4)
                .emit(into: buffer)
        }
        #expect(header == Array(ScapyVectors.echoReply.prefix(14)))
    }

    @Test func roundTrip() throws {
        let original = EthernetRepr(destination: .broadcast, source: TestAddresses.ourMAC, etherType: .ipv6)
        let bytes = emitted(count: EthernetFrame.headerLength) { original.emit(into: $0) }
        let parsed = try withBytes(bytes) { try EthernetRepr.parse($0) }
        #expect(parsed == original)
    }

    @Test func truncatedHeaderIsRejected() {
        for length in 0..<EthernetFrame.headerLength {
            let bytes = Array(ScapyVectors.arpRequestForUs.prefix(length))
            #expect(throws: WireError.truncated) { try withBytes(bytes) { try EthernetRepr.parse($0) } }
        }
    }

    @Test func unknownEtherTypeIsKept() throws {
        var bytes = ScapyVectors.arpRequestForUs
        bytes[12] = 0x88
        bytes[13] = 0xCC
        let repr = try withBytes(bytes) { try EthernetRepr.parse($0) }
        #expect(repr.etherType.rawValue == 0x88CC)
        #expect(repr.etherType.description == "0x88cc")
    }
}
