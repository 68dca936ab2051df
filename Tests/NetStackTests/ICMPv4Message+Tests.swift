import Testing
@testable import NetStack

@Suite struct ICMPv4MessageTests {
    /// Returns the ICMP message of an Ethernet frame carrying IPv4 without options.
    static func icmp(_ frame: [UInt8]) -> [UInt8] { Array(frame.dropFirst(14 + 20)) }

    @Test func parsesScapyEchoRequest() throws {
        let (repr, data) = try withBytes(Self.icmp(ScapyVectors.echoRequest)) { bytes in
            let (repr, data) = try ICMPv4Repr.parse(bytes)
            return (repr, Array(data))
        }
        #expect(repr == .echoRequest(identifier: 0x1234, sequenceNumber: 7))
        #expect(data == Array(0..<56))
    }

    @Test func emitMatchesScapyEchoReply() {
        let message = Self.icmp(ScapyVectors.echoReply)
        let data: [UInt8] = Array(0..<56)
        let bytes = emitted(count: 8 + data.count) { buffer in
            data.withUnsafeBytes { ICMPv4Repr.echoReply(identifier: 0x1234, sequenceNumber: 7).emit(into: buffer, data: $0) }
        }
        #expect(bytes == message)
    }

    @Test func emitMatchesScapyPortUnreachable() {
        let quote = Array(ScapyVectors.udpToClosedPort.dropFirst(14).prefix(28))
        let bytes = emitted(count: 8 + quote.count) { buffer in
            quote.withUnsafeBytes {
                ICMPv4Repr.destinationUnreachable(.portUnreachable, nextHopMTU: 0).emit(into: buffer, data: $0)
            }
        }
        #expect(bytes == Self.icmp(ScapyVectors.portUnreachable))
    }

    @Test func parsesScapyTimeExceeded() throws {
        let (repr, quoteCount) = try withBytes(Self.icmp(ScapyVectors.reassemblyTimeExceeded)) { bytes in
            let (repr, data) = try ICMPv4Repr.parse(bytes)
            return (repr, data.count)
        }
        #expect(repr == .timeExceeded(.fragmentReassemblyTimeExceeded))
        #expect(repr.type.isError)
        #expect(quoteCount == 28)
    }

    @Test func roundTripKeepsUnknownType() throws {
        let original = ICMPv4Repr.other(type: ICMPv4Type(rawValue: 13), code: 0, restOfHeader: 0xDEAD_BEEF)
        let data: [UInt8] = [1, 2, 3]
        let bytes = emitted(count: 11) { buffer in data.withUnsafeBytes { original.emit(into: buffer, data: $0) } }
        let parsed = try withBytes(bytes) { try ICMPv4Repr.parse($0).0 }
        #expect(parsed == original)
    }

    @Test func fragmentationNeededCarriesMTU() throws {
        let original = ICMPv4Repr.destinationUnreachable(.fragmentationNeeded, nextHopMTU: 1400)
        let bytes = emitted(count: 8) { buffer in original.emit(into: buffer, data: UnsafeRawBufferPointer(start: nil, count: 0)) }
        #expect(bytes[6] == 0x05)
        #expect(bytes[7] == 0x78)
        let parsed = try withBytes(bytes) { try ICMPv4Repr.parse($0).0 }
        #expect(parsed == original)
    }

    @Test func truncatedMessageIsRejected() {
        let message = Self.icmp(ScapyVectors.echoRequest)
        for length in 0..<8 {
            #expect(throws: WireError.truncated) { try withBytes(Array(message.prefix(length))) { try ICMPv4Repr.parse($0) } }
        }
    }

    @Test func corruptDataFailsChecksum() {
        var message = Self.icmp(ScapyVectors.echoRequest)
        message[20] ^= 0xFF
        #expect(throws: WireError.badChecksum) { try withBytes(message) { try ICMPv4Repr.parse($0) } }
        let shortened = Array(Self.icmp(ScapyVectors.echoRequest).dropLast())
        #expect(throws: WireError.badChecksum) { try withBytes(shortened) { try ICMPv4Repr.parse($0) } }
    }
}
