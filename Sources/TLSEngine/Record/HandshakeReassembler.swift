/// Joins handshake messages fragmented across records and splits messages
/// coalesced in one record (RFC 8446 §5.1).
struct HandshakeReassembler {
    /// The largest handshake message body accepted: 2^16 bytes covers any
    /// ClientHello (its extensions are at most 2^16-1 bytes) and the other
    /// messages a server receives. This is the bound on the handshake buffer:
    /// it never holds more than one message of this size plus one record.
    static let maxMessageLength = 1 << 16

    private var buffer: [UInt8] = []

    var isEmpty: Bool { buffer.isEmpty }

    mutating func append(_ fragment: [UInt8]) {
        buffer.append(contentsOf: fragment)
    }

    /// One complete handshake message.
    struct Message {
        var type: HandshakeType
        var body: [UInt8]
        /// Header and body, as the transcript hash takes them.
        var encoded: [UInt8]
    }

    /// Takes the next complete message; `nil` when more bytes are needed.
    mutating func nextMessage() throws -> Message? {
        guard buffer.count >= HandshakeHeader.length else { return nil }
        let length = Int(buffer[1]) << 16 | Int(buffer[2]) << 8 | Int(buffer[3])
        guard length <= Self.maxMessageLength else {
            throw TLSError(.lengthOutOfRange,
                           "handshake message of \(length) bytes exceeds the \(Self.maxMessageLength)-byte bound")
        }
        let total = HandshakeHeader.length + length
        guard buffer.count >= total else { return nil }
        let encoded = Array(buffer[0..<total])
        buffer.removeSubrange(0..<total)
        return Message(type: HandshakeType(rawValue: encoded[0]), body: Array(encoded[HandshakeHeader.length...]),
                       encoded: encoded)
    }
}
