import NIC
import Testing
@testable import NetStack

@Suite struct ARPPacketTests {
    static func arpPayload(_ frame: [UInt8]) -> [UInt8] { Array(frame.dropFirst(14)) }

    @Test func parsesScapyRequest() throws {
        let repr = try withBytes(Self.arpPayload(ScapyVectors.arpRequestForUs)) { try ARPRepr.parse($0) }
        #expect(repr.operation == .request)
        #expect(repr.senderHardwareAddress == TestAddresses.peerMAC)
        #expect(repr.senderProtocolAddress == TestAddresses.peerIP)
        #expect(repr.targetHardwareAddress == .zero)
        #expect(repr.targetProtocolAddress == TestAddresses.ourIP)
    }

    @Test func emitMatchesScapyReply() {
        let repr = ARPRepr(operation: .reply, senderHardwareAddress: TestAddresses.ourMAC,
                           senderProtocolAddress: TestAddresses.ourIP, targetHardwareAddress: TestAddresses.peerMAC,
                           targetProtocolAddress: TestAddresses.peerIP)
        let bytes = emitted(count: ARPPacket.length) { repr.emit(into: $0) }
        #expect(bytes == Self.arpPayload(ScapyVectors.arpReplyFromUs))
    }

    @Test func roundTrip() throws {
        let payload = Self.arpPayload(ScapyVectors.arpReplyFromPeer)
        let repr = try withBytes(payload) { try ARPRepr.parse($0) }
        #expect(emitted(count: ARPPacket.length) { repr.emit(into: $0) } == payload)
    }

    @Test func truncatedPacketIsRejected() {
        let payload = Self.arpPayload(ScapyVectors.arpRequestForUs)
        for length in 0..<ARPPacket.length {
            #expect(throws: WireError.truncated) { try withBytes(Array(payload.prefix(length))) { try ARPRepr.parse($0) } }
        }
    }

    @Test func otherHardwareTypeIsRejected() {
        var payload = Self.arpPayload(ScapyVectors.arpRequestForUs)
        payload[1] = 6  // IEEE 802 networks
        #expect(throws: WireError.unsupportedHardware) { try withBytes(payload) { try ARPRepr.parse($0) } }
        payload[1] = 1
        payload[4] = 8  // a hardware address length other than 6
        #expect(throws: WireError.unsupportedHardware) { try withBytes(payload) { try ARPRepr.parse($0) } }
    }

    @Test func otherProtocolTypeIsRejected() {
        var payload = Self.arpPayload(ScapyVectors.arpRequestForUs)
        payload[2] = 0x86
        payload[3] = 0xDD
        #expect(throws: WireError.unsupportedProtocol) { try withBytes(payload) { try ARPRepr.parse($0) } }
    }

    @Test func unknownOperationIsKept() throws {
        var payload = Self.arpPayload(ScapyVectors.arpRequestForUs)
        payload[7] = 3  // RARP request
        let repr = try withBytes(payload) { try ARPRepr.parse($0) }
        #expect(repr.operation == ARPOperation(rawValue: 3))
    }
}
