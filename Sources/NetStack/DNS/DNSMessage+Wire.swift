// DNS message encoding and parsing, RFC 1035 §4.1:
//
//   +---------------------+
//   |        Header       |  12 octets, §4.1.1
//   +---------------------+
//   |       Question      |  QDCOUNT entries: QNAME, QTYPE, QCLASS
//   +---------------------+
//   |        Answer       |  ANCOUNT records: NAME, TYPE, CLASS, TTL, RDLENGTH, RDATA
//   +---------------------+
//   |      Authority      |  not parsed
//   +---------------------+
//   |      Additional     |  not parsed
//   +---------------------+

extension DNSHeader {
    /// RFC 1035 §4.1.1: the header is six 16-bit fields.
    public static let length = 12

    // Bits of the second 16-bit field (RFC 1035 §4.1.1):
    // QR(15) Opcode(14-11) AA(10) TC(9) RD(8) RA(7) Z(6-4) RCODE(3-0).
    static let responseBit: UInt16 = 1 << 15
    static let opcodeShift: UInt16 = 11
    static let opcodeMask: UInt16 = 0xF
    static let authoritativeBit: UInt16 = 1 << 10
    static let truncatedBit: UInt16 = 1 << 9
    static let recursionDesiredBit: UInt16 = 1 << 8
    static let recursionAvailableBit: UInt16 = 1 << 7
    static let responseCodeMask: UInt16 = 0xF
}

extension DNSMessage {
    /// The opcode of a standard query (RFC 1035 §4.1.1).
    public static let standardQueryOpcode: UInt8 = 0
    /// A valid name of at most 255 octets has at most 127 labels, so it never
    /// needs more compression pointers than that. More pointers mean a loop.
    static let maximumCompressionPointers = 127
    /// RFC 1035 §4.1.4: a pointer is two octets starting with bits 11, and a
    /// label length octet starts with bits 00.
    static let pointerTag: UInt8 = 0b11
    static let labelTag: UInt8 = 0b00
    static let pointerOffsetMask: UInt16 = 0x3FFF
    /// RFC 2181 §8: a TTL with the most significant bit set is treated as 0.
    static let maximumTimeToLive: UInt32 = 0x7FFF_FFFF

    /// Encodes a standard query for the A records of `name`, class IN, with
    /// RD set and no other flags (RFC 1035 §4.1.1-§4.1.2). Names are not
    /// compressed, because a query holds only one.
    public static func encodeQuery(id: UInt16, name: DNSName) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(DNSHeader.length + name.wireLength + 4)

        append16(id, to: &bytes)
        append16(DNSHeader.recursionDesiredBit, to: &bytes)
        append16(1, to: &bytes)  // QDCOUNT
        append16(0, to: &bytes)  // ANCOUNT
        append16(0, to: &bytes)  // NSCOUNT
        append16(0, to: &bytes)  // ARCOUNT

        for label in name.labels {
            bytes.append(UInt8(label.count))
            bytes.append(contentsOf: label)
        }
        bytes.append(0)  // the root label
        append16(DNSRecordType.a.rawValue, to: &bytes)
        append16(DNSClass.internet.rawValue, to: &bytes)
        return bytes
    }

    private static func append16(_ value: UInt16, to bytes: inout [UInt8]) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    /// Parses the header, the question section and the answer section of
    /// `bytes`. Every read is bounds checked, and names may use compression
    /// pointers to any offset inside the message.
    public static func parse(_ bytes: [UInt8]) throws(DNSWireError) -> DNSMessage {
        var reader = DNSMessageReader(bytes: bytes)

        let header = try reader.readHeader()

        var questions: [DNSQuestion] = []
        for _ in 0..<header.questionCount {
            let name = try reader.readName()
            let type = DNSRecordType(rawValue: try reader.read16())
            let recordClass = DNSClass(rawValue: try reader.read16())
            questions.append(DNSQuestion(name: name, type: type, recordClass: recordClass))
        }

        // Each pass consumes at least 11 octets or throws, so a large ANCOUNT
        // cannot make this loop run longer than the message allows.
        var answers: [DNSResourceRecord] = []
        for _ in 0..<header.answerCount {
            answers.append(try reader.readResourceRecord())
        }
        return DNSMessage(header: header, questions: questions, answers: answers)
    }
}

/// A cursor over one DNS message. Every read checks the bounds and throws
/// `truncated` rather than trapping.
struct DNSMessageReader {
    let bytes: [UInt8]
    var offset = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private func require(_ count: Int, at position: Int) throws(DNSWireError) {
        guard position >= 0, count <= bytes.count - position else {
            throw .truncated(offset: position, needed: count, length: bytes.count)
        }
    }

    mutating func read8() throws(DNSWireError) -> UInt8 {
        try require(1, at: offset)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func read16() throws(DNSWireError) -> UInt16 {
        try require(2, at: offset)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func read32() throws(DNSWireError) -> UInt32 {
        let high = try read16()
        let low = try read16()
        return UInt32(high) << 16 | UInt32(low)
    }

    mutating func readHeader() throws(DNSWireError) -> DNSHeader {
        let id = try read16()
        let flags = try read16()
        return DNSHeader(
            id: id,
            isResponse: flags & DNSHeader.responseBit != 0,
            opcode: UInt8(flags >> DNSHeader.opcodeShift & DNSHeader.opcodeMask),
            isAuthoritative: flags & DNSHeader.authoritativeBit != 0,
            isTruncated: flags & DNSHeader.truncatedBit != 0,
            recursionDesired: flags & DNSHeader.recursionDesiredBit != 0,
            recursionAvailable: flags & DNSHeader.recursionAvailableBit != 0,
            responseCode: DNSResponseCode(rawValue: UInt8(flags & DNSHeader.responseCodeMask)),
            questionCount: try read16(),
            answerCount: try read16(),
            authorityCount: try read16(),
            additionalCount: try read16())
    }

    /// Reads a possibly compressed name at the cursor and moves the cursor
    /// past it: past the root label, or past the first pointer.
    mutating func readName() throws(DNSWireError) -> DNSName {
        let (name, end) = try readName(at: offset)
        offset = end
        return name
    }

    /// Reads the name at `start` and returns it with the offset just past
    /// its encoding at `start`. Pointers may go anywhere inside the message;
    /// loops are caught by the bound on jumps and the bound on the name's length.
    func readName(at start: Int) throws(DNSWireError) -> (DNSName, end: Int) {
        var labels: [[UInt8]] = []
        var position = start
        var end: Int?
        var jumps = 0
        var wireLength = 1  // the root label

        while true {
            try require(1, at: position)
            let lengthOctet = bytes[position]

            switch lengthOctet >> 6 {
            case DNSMessage.labelTag:
                if lengthOctet == 0 {
                    return (DNSName(wireLabels: labels), end ?? position + 1)
                }
                // Six bits cannot exceed 63, the maximum label length.
                let count = Int(lengthOctet)
                try require(1 + count, at: position)
                wireLength += 1 + count
                guard wireLength <= DNSName.maximumWireLength else { throw .nameTooLong(offset: start) }
                labels.append(Array(bytes[(position + 1)..<(position + 1 + count)]))
                position += 1 + count

            case DNSMessage.pointerTag:
                try require(2, at: position)
                let target = Int((UInt16(lengthOctet) << 8 | UInt16(bytes[position + 1])) & DNSMessage.pointerOffsetMask)
                guard target < bytes.count else {
                    throw .pointerOutOfRange(offset: position, target: target, length: bytes.count)
                }
                jumps += 1
                guard jumps <= DNSMessage.maximumCompressionPointers else {
                    throw .pointerLoop(offset: start, jumps: DNSMessage.maximumCompressionPointers)
                }
                if end == nil { end = position + 2 }
                position = target

            default:
                throw .reservedLabelType(offset: position, octet: lengthOctet)
            }
        }
    }

    mutating func readResourceRecord() throws(DNSWireError) -> DNSResourceRecord {
        let name = try readName()
        let type = DNSRecordType(rawValue: try read16())
        let recordClass = DNSClass(rawValue: try read16())
        let rawTimeToLive = try read32()
        let timeToLive = rawTimeToLive > DNSMessage.maximumTimeToLive ? 0 : rawTimeToLive
        let dataLength = Int(try read16())
        let dataStart = offset
        try require(dataLength, at: dataStart)

        let data: DNSResourceRecord.RecordData
        switch type {
        case .a where recordClass == .internet:
            guard dataLength == 4 else { throw .badRecordLength(offset: dataStart, type: type, length: dataLength) }
            data = .a(IPv4Address(rawValue: try read32()))
        case .cname:
            let (target, end) = try readName(at: dataStart)
            guard end == dataStart + dataLength else {
                throw .badRecordLength(offset: dataStart, type: type, length: dataLength)
            }
            data = .cname(target)
        default:
            data = .other
        }
        offset = dataStart + dataLength
        return DNSResourceRecord(name: name, type: type, recordClass: recordClass, timeToLive: timeToLive, data: data)
    }
}
