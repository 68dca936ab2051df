import Testing
@testable import NetStack

/// Byte vectors for the TCP header. The checksums were computed with an
/// independent RFC 1071 implementation (a short Python script summing 16-bit
/// words over the pseudo-header and segment), not with capnet's code.
@Suite struct TCPHeaderTests {
    /// A SYN laid out as Linux sends it: MSS 1460, SACK-permitted, timestamps
    /// (val 1000, ecr 0), NOP, window scale 7. 192.0.2.1:54321 > 192.0.2.2:80.
    static let linuxSyn: [UInt8] = [
        0xd4, 0x31, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0,
        0x87, 0xf5, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00, 0x03, 0xe8,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ]
    static let synSource = IPv4Address(192, 0, 2, 1)
    static let synDestination = IPv4Address(192, 0, 2, 2)

    /// PSH|ACK with NOP NOP TS(2000, 1000), NOP NOP SACK(0x12345700-0x12345800)
    /// and the payload "hello". 10.0.0.1:80 > 10.0.0.2:54321.
    static let dataSegment: [UInt8] = [
        0x00, 0x50, 0xd4, 0x31, 0xff, 0xff, 0xff, 0xf0, 0x12, 0x34, 0x56, 0x79, 0xb0, 0x18, 0x01, 0xf6,
        0xca, 0x8d, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0x00, 0x07, 0xd0, 0x00, 0x00, 0x03, 0xe8,
        0x01, 0x01, 0x05, 0x0a, 0x12, 0x34, 0x57, 0x00, 0x12, 0x34, 0x58, 0x00, 0x68, 0x65, 0x6c, 0x6c,
        0x6f,
    ]

    @Test func parsesLinuxSyn() throws {
        try Self.linuxSyn.withUnsafeBytes { bytes in
            let (header, payload) = try TCPHeaderRepr.parse(bytes, source: Self.synSource,
                                                             destination: Self.synDestination)
            #expect(header.sourcePort == 54321)
            #expect(header.destinationPort == 80)
            #expect(header.sequenceNumber == TCPSeq(0x1234_5678))
            #expect(header.flags == .syn)
            #expect(header.window == 64240)
            #expect(header.options.maximumSegmentSize == 1460)
            #expect(header.options.sackPermitted)
            #expect(header.options.timestamps == TCPTimestamps(value: 1000, echoReply: 0))
            #expect(header.options.windowScale == 7)
            #expect(header.options.sackBlocks.isEmpty)
            #expect(payload.count == 0)
            #expect(header.headerLength == 40)
        }
    }

    @Test func emitsLinuxSynByteForByte() {
        let header = TCPHeaderRepr(sourcePort: 54321, destinationPort: 80, sequenceNumber: TCPSeq(0x1234_5678),
                                   flags: .syn, window: 64240,
                                   options: TCPOptions(maximumSegmentSize: 1460, windowScale: 7, sackPermitted: true,
                                                       timestamps: TCPTimestamps(value: 1000, echoReply: 0)))
        var out = [UInt8](repeating: 0xEE, count: header.headerLength)
        out.withUnsafeMutableBytes { bytes in
            header.emit(into: bytes)
            TCPHeaderRepr.fillChecksum(segment: bytes, source: Self.synSource, destination: Self.synDestination)
        }
        #expect(out == Self.linuxSyn)
    }

    @Test func parsesDataSegmentWithSack() throws {
        try Self.dataSegment.withUnsafeBytes { bytes in
            let (header, payload) = try TCPHeaderRepr.parse(bytes, source: IPv4Address(10, 0, 0, 1),
                                                             destination: IPv4Address(10, 0, 0, 2))
            #expect(header.flags == [.psh, .ack])
            #expect(header.sequenceNumber == TCPSeq(0xFFFF_FFF0))
            #expect(header.acknowledgmentNumber == TCPSeq(0x1234_5679))
            #expect(header.window == 502)
            #expect(header.options.timestamps == TCPTimestamps(value: 2000, echoReply: 1000))
            #expect(header.options.sackBlocks == [TCPSackBlock(left: TCPSeq(0x1234_5700), right: TCPSeq(0x1234_5800))])
            #expect(Array(payload) == Array("hello".utf8))
        }
    }

    @Test func roundTripsDataSegment() throws {
        var copy = Self.dataSegment
        let header = try Self.dataSegment.withUnsafeBytes { bytes in
            try TCPHeaderRepr(parsing: TCPHeaderView(checking: bytes))
        }
        copy.withUnsafeMutableBytes { bytes in
            for i in 0..<header.headerLength { bytes[i] = 0 }
            header.emit(into: bytes)
            TCPHeaderRepr.fillChecksum(segment: bytes, source: IPv4Address(10, 0, 0, 1),
                                       destination: IPv4Address(10, 0, 0, 2))
        }
        #expect(copy == Self.dataSegment)
    }

    @Test func rejectsCorruptChecksum() {
        var corrupt = Self.dataSegment
        corrupt[corrupt.count - 1] ^= 0x01
        corrupt.withUnsafeBytes { bytes in
            #expect(throws: TCPWireError.badChecksum) {
                _ = try TCPHeaderRepr.parse(bytes, source: IPv4Address(10, 0, 0, 1),
                                            destination: IPv4Address(10, 0, 0, 2))
            }
            // The wrong pseudo-header fails too.
            let view = try? TCPHeaderView(checking: bytes)
            #expect(view?.verifyChecksum(source: IPv4Address(10, 0, 0, 9), destination: IPv4Address(10, 0, 0, 2)) == false)
        }
    }

    @Test func rejectsTruncatedInputs() {
        for length in 0..<Self.linuxSyn.count {
            let prefix = Array(Self.linuxSyn[0..<length])
            prefix.withUnsafeBytes { bytes in
                _ = #expect(throws: TCPWireError.truncated) { _ = try TCPHeaderView(checking: bytes) }
            }
        }
    }

    @Test func rejectsDataOffsetBelowFive() {
        var bad = Self.linuxSyn
        bad[12] = 0x40
        bad.withUnsafeBytes { bytes in
            _ = #expect(throws: TCPWireError.badDataOffset) { _ = try TCPHeaderView(checking: bytes) }
        }
    }

    private func parseOptions(_ bytes: [UInt8]) throws(TCPWireError) -> TCPOptions {
        var result: Result<TCPOptions, TCPWireError> = .failure(.truncated)
        bytes.withUnsafeBytes { raw in
            do throws(TCPWireError) { result = .success(try TCPOptions.parse(raw)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    @Test func skipsUnknownOptionsByLength() throws {
        // Kind 30 (MPTCP) with length 6, then MSS 536, then EOL and garbage.
        let options = try parseOptions([30, 6, 1, 2, 3, 4, 2, 4, 0x02, 0x18, 0, 0xFF, 0xFF, 0xFF])
        #expect(options.maximumSegmentSize == 536)
        #expect(options.timestamps == nil)
    }

    @Test func rejectsMalformedOptionLengths() {
        let cases: [([UInt8], UInt8)] = [
            ([2, 3, 5, 0], 2),            // MSS with length 3
            ([2, 4, 5], 2),               // MSS running past the end
            ([3, 4, 7, 0], 3),            // window scale with length 4
            ([4, 3, 0, 0], 4),            // SACK-permitted with length 3
            ([8, 8, 0, 0, 0, 0, 0, 0], 8), // timestamps with length 8
            ([5, 6, 0, 0, 0, 0], 5),      // SACK with a partial block
            ([30, 1, 0, 0], 30),          // unknown option with length 1
            ([30, 0], 30),                // length 0 would loop forever
            ([30], 30),                   // kind without a length byte
            ([30, 9, 0, 0], 30),          // unknown option past the end
        ]
        for (bytes, kind) in cases {
            #expect(throws: TCPWireError.badOptionLength(kind: kind)) { try self.parseOptions(bytes) }
        }
    }

    @Test func emitsSackBlocksAndRoundTrips() throws {
        let blocks = [TCPSackBlock(left: TCPSeq(100), right: TCPSeq(200)),
                      TCPSackBlock(left: TCPSeq(0xFFFF_FF00), right: TCPSeq(10)),
                      TCPSackBlock(left: TCPSeq(300), right: TCPSeq(400))]
        let options = TCPOptions(sackBlocks: blocks, timestamps: TCPTimestamps(value: 7, echoReply: 9))
        #expect(options.encodedLength == 40)
        var bytes = [UInt8](repeating: 0, count: options.encodedLength)
        bytes.withUnsafeMutableBytes { options.emit(into: $0) }
        #expect(Array(bytes[0..<4]) == [1, 1, 8, 10])
        #expect(Array(bytes[12..<16]) == [1, 1, 5, 26])
        #expect(try parseOptions(bytes) == options)
    }

    @Test func sequenceArithmeticWraps() {
        let a = TCPSeq(0xFFFF_FFF0)
        let b = a + 0x20
        #expect(b == TCPSeq(0x10))
        #expect(a < b)
        #expect(b - a == 0x20)
        #expect(a - b == -0x20)
        #expect(TCPSeq(5).isIn(a, b))
        #expect(!b.isIn(a, b))
        #expect(TCPSeq.max(a, b) == b)
    }
}
