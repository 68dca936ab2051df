/// The record-level half of a connection that the client and the server
/// share: the record layer, handshake reassembly, the output buffer and the
/// close_notify state. The handshake state machines sit on top of it.
struct RecordConnection {
    var records = RecordLayer()
    var handshakeBuffer = HandshakeReassembler()
    /// Bytes for the peer that the owner has not taken yet.
    var output: [UInt8] = []
    var sentCloseNotify = false
    var receivedCloseNotify = false

    /// The content of one received record, sorted for the state machine.
    enum Content {
        /// The complete handshake messages the record finished, possibly none.
        case handshake([HandshakeReassembler.Message])
        case applicationData([UInt8])
        case closeNotify
        /// An alert that needs no action (user_canceled).
        case ignoredAlert
    }

    /// Reads the next record; `nil` when more bytes are needed.
    ///
    /// - Parameter keyChangeTypes: handshake messages that precede a key
    ///   change and so must end their record (RFC 8446 §5.1).
    mutating func nextContent(keyChangeTypes: Set<HandshakeType>) throws -> Content? {
        guard let record = try records.nextRecord() else { return nil }
        // RFC 8446 §5.1: handshake messages must not be interleaved with other record types.
        if record.contentType != .handshake && !handshakeBuffer.isEmpty {
            throw TLSError(.unexpectedMessage, "\(record.contentType) record inside a fragmented handshake message")
        }
        switch record.contentType {
        case .alert:
            return try alert(record.content)
        case .applicationData:
            return .applicationData(record.content)
        case .handshake:
            handshakeBuffer.append(record.content)
            var messages: [HandshakeReassembler.Message] = []
            while let message = try handshakeBuffer.nextMessage() {
                if keyChangeTypes.contains(message.type) && !handshakeBuffer.isEmpty {
                    throw TLSError(.unexpectedMessage, "\(message.type) not aligned with a record boundary")
                }
                messages.append(message)
            }
            return .handshake(messages)
        default:
            throw TLSError(.unexpectedMessage, "\(record.contentType) record")
        }
    }

    private mutating func alert(_ content: [UInt8]) throws -> Content {
        // RFC 8446 §5.1: an alert record carries exactly one two-byte alert.
        guard content.count == 2 else {
            throw TLSError(.lengthOutOfRange, "alert record of \(content.count) bytes")
        }
        let description = AlertDescription(rawValue: content[1])
        switch description {
        case .closeNotify:
            receivedCloseNotify = true
            return .closeNotify
        case .userCanceled:
            // RFC 8446 §6.1: user_canceled is followed by close_notify; nothing to do yet.
            return .ignoredAlert
        default:
            throw TLSError(.peerAlert(description), "peer sent alert \(description)")
        }
    }

    /// Appends `content` as records of `type` under the current write keys.
    mutating func write(_ type: ContentType, _ content: [UInt8]) throws {
        try records.write(type, content, to: &output)
    }

    mutating func takeOutput() -> [UInt8] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }

    /// Sends close_notify once (RFC 8446 §6.1).
    mutating func sendCloseNotify() {
        guard !sentCloseNotify else { return }
        sentCloseNotify = true
        try? write(.alert, [AlertLevel.warning.rawValue, AlertDescription.closeNotify.rawValue])
    }

    /// Sends the fatal alert `error` maps to, unless it maps to none or close_notify went out.
    mutating func sendAlert(for error: TLSError) {
        guard let alert = error.alert, !sentCloseNotify else { return }
        try? write(.alert, [AlertLevel.fatal.rawValue, alert.rawValue])
    }
}
