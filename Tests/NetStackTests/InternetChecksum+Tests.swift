import Testing
@testable import NetStack

@Suite struct InternetChecksumTests {
    /// RFC 1071 §3's worked example: the words 0001 f203 f4f5 f6f7 sum to
    /// 0x2ddf0, which folds to 0xddf2; the checksum is its complement.
    @Test func rfc1071Example() {
        let bytes: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
        let checksum = bytes.withUnsafeBytes { InternetChecksum.compute($0) }
        #expect(checksum == ~UInt16(0xDDF2))
    }

    @Test func oddLengthPadsWithZero() {
        let odd: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4]
        let padded: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0x00]
        let oddSum = odd.withUnsafeBytes { InternetChecksum.compute($0) }
        let paddedSum = padded.withUnsafeBytes { InternetChecksum.compute($0) }
        #expect(oddSum == paddedSum)
    }

    /// The 8-byte bulk path against RFC 1071's definition, word by word: the
    /// RFC 1071 §3 example repeated to every length from 0 to 300, from an
    /// unaligned start, with odd tails.
    @Test func bulkPathMatchesWordSum() {
        let example: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7, 0xFF, 0xFF, 0x80]
        let storage = (0..<301).map { example[$0 % example.count] }
        for length in 0...300 {
            var sum: UInt32 = 0
            var index = 0
            while index < length {
                let high = UInt32(storage[index]) << 8
                let low = index + 1 < length ? UInt32(storage[index + 1]) : 0
                sum += high | low
                index += 2
            }
            while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
            let expected = ~UInt16(sum)
            // Start one byte into a buffer, so 8-byte loads are unaligned.
            let unaligned = [0x55] + storage
            let computed = unaligned.withUnsafeBytes { InternetChecksum.compute(UnsafeRawBufferPointer(rebasing: $0[1..<(1 + length)])) }
            #expect(computed == expected, "length \(length)")
        }
    }
}
