/// Conversion of an ECDSA signature from the DER `ECDSA-Sig-Value` that
/// libcrypto produces (RFC 3279 §2.2.3) to the fixed-width `r || s` that JWS
/// requires (RFC 7518 §3.4).
enum ECDSASignature {
    /// ASN.1 tags used by `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }`.
    private static let sequenceTag: UInt8 = 0x30
    private static let integerTag: UInt8 = 0x02
    /// X.690 §8.1.3.5: a first length octet with the high bit set counts the
    /// length octets that follow.
    private static let longFormLengthFlag: UInt8 = 0x80

    /// Returns `r || s`, each left-padded with zeros to `coordinateLength`
    /// bytes (32 for P-256). Rejects trailing bytes and oversized integers.
    static func raw(fromDER der: [UInt8], coordinateLength: Int) throws -> [UInt8] {
        var reader = DERReader(bytes: der)
        var sequence = DERReader(bytes: try reader.read(tag: sequenceTag))
        guard reader.isAtEnd else { throw invalid("trailing bytes after the sequence") }

        let r = try sequence.read(tag: integerTag)
        let s = try sequence.read(tag: integerTag)
        guard sequence.isAtEnd else { throw invalid("trailing bytes inside the sequence") }

        return try fixedWidth(r, coordinateLength) + fixedWidth(s, coordinateLength)
    }

    /// Strips the sign octet X.690 §8.3.2 adds and left-pads to `length`.
    private static func fixedWidth(_ integer: [UInt8], _ length: Int) throws -> [UInt8] {
        var magnitude = integer[...]
        while magnitude.count > 1, magnitude.first == 0 { magnitude = magnitude.dropFirst() }
        guard magnitude.count <= length else {
            throw invalid("integer of \(magnitude.count) bytes exceeds \(length)")
        }
        return [UInt8](repeating: 0, count: length - magnitude.count) + magnitude
    }

    private static func invalid(_ detail: String) -> ACMEError {
        .cryptoFailed(operation: "ECDSA signature conversion", detail: detail)
    }

    /// A bounds-checked reader of DER tag-length-value items.
    private struct DERReader {
        let bytes: [UInt8]
        var offset = 0

        var isAtEnd: Bool { offset == bytes.count }

        /// Reads one item with `tag` and returns its contents.
        mutating func read(tag: UInt8) throws -> [UInt8] {
            guard offset + 2 <= bytes.count, bytes[offset] == tag else {
                throw ECDSASignature.invalid("expected tag \(tag) at offset \(offset)")
            }
            var length = Int(bytes[offset + 1])
            offset += 2
            if UInt8(length) & ECDSASignature.longFormLengthFlag != 0 {
                // A P-256 or P-384 signature needs at most one length octet.
                let octets = length & 0x7F
                guard octets == 1, offset < bytes.count else {
                    throw ECDSASignature.invalid("unsupported length encoding at offset \(offset)")
                }
                length = Int(bytes[offset])
                offset += 1
            }
            guard length <= bytes.count - offset else {
                throw ECDSASignature.invalid("length \(length) runs past the end")
            }
            let contents = Array(bytes[offset..<offset + length])
            offset += length
            return contents
        }
    }
}
