/// The part of a TLS connection that client and server share above the
/// record layer: received bytes through `RecordConnection`, dispatch of its
/// content, application data out and close_notify. Each side supplies its
/// handshake state machine through `handleHandshake` and `fail`.
protocol TLSEndpoint: AnyObject {
    var wire: RecordConnection { get set }
    var events: [TLSEvent] { get set }
    /// Whether the handshake completed and the connection has not failed.
    var isEstablished: Bool { get }
    var hasFailed: Bool { get }
    /// Handshake messages that precede a key change and must end their
    /// record (RFC 8446 §5.1). They differ by direction.
    static var keyChangeTypes: Set<HandshakeType> { get }
    /// "client" or "server": the peer, for error messages.
    static var peerRole: String { get }

    func handleHandshake(_ message: HandshakeReassembler.Message) throws
    /// Queues the alert for `error`, records a `.failed` event and stops the connection.
    func fail(_ error: TLSError)
}

extension TLSEndpoint {
    /// Appends `bytes` to the record layer, handles every complete record and
    /// returns the events they produced. After a failure or the peer's
    /// close_notify no more input is taken.
    func receiveRecords<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> [TLSEvent] {
        if hasFailed { return [] }
        guard !wire.receivedCloseNotify else { return [] }
        wire.records.append(bytes)
        do {
            while !wire.receivedCloseNotify, let content = try wire.nextContent(keyChangeTypes: Self.keyChangeTypes) {
                try handle(content)
                if hasFailed { break }
            }
        } catch let error as TLSError {
            fail(error)
        } catch {
            fail(TLSError(.internalError, "\(error)"))
        }
        defer { events.removeAll() }
        return events
    }

    private func handle(_ content: RecordConnection.Content) throws {
        switch content {
        case .applicationData(let data):
            guard isEstablished else {
                throw TLSError(.unexpectedMessage, "application_data before the \(Self.peerRole) Finished")
            }
            events.append(.applicationData(data))
        case .closeNotify:
            events.append(.closeNotifyReceived)
        case .ignoredAlert:
            break
        case .handshake(let messages):
            for message in messages {
                try handleHandshake(message)
                if hasFailed { return }
            }
        }
    }

    /// Seals application data into records, after the handshake and before close_notify only.
    func sendApplicationData(_ applicationData: [UInt8]) throws {
        guard isEstablished, !wire.sentCloseNotify else {
            throw TLSError(.closed, "cannot send application data: connection not established or closed")
        }
        try wire.write(.applicationData, applicationData)
    }

    /// Sends close_notify (RFC 8446 §6.1) unless the connection failed.
    func sendCloseNotify() {
        if hasFailed { return }
        wire.sendCloseNotify()
    }
}
