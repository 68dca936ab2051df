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
}
