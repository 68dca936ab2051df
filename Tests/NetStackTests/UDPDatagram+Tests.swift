import Testing
@testable import NetStack

@Suite struct UDPDatagramTests {
    static func udp(_ datagram: [UInt8]) -> [UInt8] { Array(datagram.dropFirst(20)) }
    static func udpInFrame(_ frame: [UInt8]) -> [UInt8] { Array(frame.dropFirst(14 + 20)) }

    @Test func parsesScapyDatagramAndVerifiesChecksum() throws {
        let (repr, payload) = try withBytes(Self.udpInFrame(ScapyVectors.udpToPort7)) { bytes in
            let (repr, payload) = try UDPRepr.parse(bytes, source: TestAddresses.peerIP, destination: TestAddresses.ourIP)
            return (repr, Array(payload))
        }
        #expect(repr == UDPRepr(sourcePort: 40000, destinationPort: 7))
        #expect(payload == Array("hello, capnet".utf8))
    }

    @Test func emitMatchesScapyChecksum() {
        let expected = Self.udpInFrame(ScapyVectors.udpEchoFromPort7)
        let payload = Array("hello, capnet".utf8)
        var bytes = [UInt8](repeating: 0, count: 8) + payload
        bytes.withUnsafeMutableBytes { buffer in
            UDPRepr(sourcePort: 7, destinationPort: 40000).emit(into: buffer, source: TestAddresses.ourIP,
                                                                destination: TestAddresses.peerIP)
        }
        #expect(bytes == expected)
    }

    @Test func zeroSumIsSentAsAllOnes() {
        let expected = Self.udp(ScapyVectors.udpChecksumAllOnes)
        #expect(expected[6] == 0xFF)
        #expect(expected[7] == 0xFF)
        var bytes = [UInt8](repeating: 0, count: 8) + Array(expected[8...])
        bytes.withUnsafeMutableBytes { buffer in
            UDPRepr(sourcePort: 7, destinationPort: 40000).emit(into: buffer, source: TestAddresses.ourIP,
                                                                destination: TestAddresses.peerIP)
        }
        #expect(bytes == expected)
    }

    @Test func allOnesChecksumVerifies() throws {
        let udp = Self.udp(ScapyVectors.udpChecksumAllOnes)
        let valid = try withBytes(udp) { try UDPDatagram(checking: $0).isChecksumValid(source: TestAddresses.ourIP, destination: TestAddresses.peerIP) }
        #expect(valid)
    }

    @Test func zeroChecksumMeansNone() throws {
        let udp = Self.udp(ScapyVectors.udpWithoutChecksum)
        #expect(udp[6] == 0)
        #expect(udp[7] == 0)
        let payload = try withBytes(udp) { bytes in
            Array(try UDPRepr.parse(bytes, source: TestAddresses.peerIP, destination: TestAddresses.ourIP).1)
        }
        #expect(payload == Array("no checksum".utf8))
    }

    @Test func wrongPseudoHeaderFailsChecksum() {
        let udp = Self.udpInFrame(ScapyVectors.udpToPort7)
        #expect(throws: WireError.badChecksum) {
            try withBytes(udp) { try UDPRepr.parse($0, source: TestAddresses.offLinkIP, destination: TestAddresses.ourIP) }
        }
    }

    @Test func corruptPayloadFailsChecksum() {
        var udp = Self.udpInFrame(ScapyVectors.udpToPort7)
        udp[9] ^= 0x20
        #expect(throws: WireError.badChecksum) {
            try withBytes(udp) { try UDPRepr.parse($0, source: TestAddresses.peerIP, destination: TestAddresses.ourIP) }
        }
    }

    @Test func badLengthsAreRejected() {
        let udp = Self.udpInFrame(ScapyVectors.udpToPort7)
        for length in 0..<8 {
            #expect(throws: WireError.truncated) { try withBytes(Array(udp.prefix(length))) { try UDPDatagram(checking: $0) } }
        }
        #expect(throws: WireError.badLength) { try withBytes(Array(udp.dropLast())) { try UDPDatagram(checking: $0) } }
        var short = udp
        short[4] = 0
        short[5] = 7
        #expect(throws: WireError.badLength) { try withBytes(short) { try UDPDatagram(checking: $0) } }
    }

    @Test func trailingBytesPastLengthAreIgnored() throws {
        let udp = Self.udpInFrame(ScapyVectors.udpToPort7) + [0xAA, 0xBB]
        let (_, payload) = try withBytes(udp) { bytes in
            let (repr, payload) = try UDPRepr.parse(bytes, source: TestAddresses.peerIP, destination: TestAddresses.ourIP)
            return (repr, Array(payload))
        }
        #expect(payload == Array("hello, capnet".utf8))
    }
}
