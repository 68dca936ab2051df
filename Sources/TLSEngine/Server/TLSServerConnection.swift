import CapnetBase
import CLibCrypto

/// One TLS 1.3 server connection, sans-IO: bytes from the peer go in through
/// `receive`, bytes for the peer come out through `takeOutput`, and the
/// owner moves them over whatever transport it has.
///
/// Memory per connection is bounded by: one partial record in the record
/// layer (at most 2^14 + 256 + 5 bytes, plus what one `receive` call passes
/// in), the handshake buffer (`HandshakeReassembler.maxMessageLength` plus one
/// record), and the output buffer, which holds what the owner has not taken
/// yet. The server's first flight is about the size of its certificate chain
/// plus 1 KiB (an estimate for P-256 and RSA-2048 chains), and application data
/// the owner sends stays there until it calls `takeOutput()`. Received application data is handed out in events, not kept.
public final class TLSServerConnection: TLSEndpoint {
    static let log = Logger(.tls)

    let configuration: TLSServerConfiguration
    var wire = RecordConnection()
    var events: [TLSEvent] = []
    var state: ServerState = .expectClientHello

    /// Handshake messages that precede a key change and must end their record (RFC 8446 §5.1).
    static let keyChangeTypes: Set<HandshakeType> = [.clientHello, .finished, .keyUpdate, .endOfEarlyData]

    /// The parameters the handshake agreed on, once it completes.
    public private(set) var negotiated: NegotiatedParameters?

    public init(configuration: TLSServerConfiguration) {
        self.configuration = configuration
        wire.records.padding = configuration.recordPadding
    }

    /// Whether the handshake completed and the connection has not failed.
    public var isEstablished: Bool {
        if case .connected = state { return true }
        return false
    }

    public var hasFailed: Bool {
        if case .failed = state { return true }
        return false
    }

    static let peerRole = "client"

    /// Whether there are bytes to send.
    public var hasOutput: Bool { !wire.output.isEmpty }

    /// Returns and clears the bytes to send to the peer.
    public func takeOutput() -> [UInt8] {
        wire.takeOutput()
    }

    /// Feeds bytes received from the peer and returns what happened.
    ///
    /// After a `.failed` event the connection takes no more input; the alert
    /// it queued is in `takeOutput()`.
    public func receive(_ bytes: [UInt8]) -> [TLSEvent] {
        receiveRecords(bytes)
    }

    /// Feeds bytes straight from a receive buffer (a socket's or a TCP
    /// segment's) without an intermediate array; the bytes are copied once
    /// into the record layer.
    public func receive(_ bytes: UnsafeRawBufferPointer) -> [TLSEvent] {
        receiveRecords(bytes)
    }

    /// Sends application data; only after the handshake completed.
    public func send(_ applicationData: [UInt8]) throws {
        try sendApplicationData(applicationData)
    }

    /// Rotates the sending keys with a KeyUpdate (RFC 8446 §4.6.3), asking the
    /// peer to rotate its own when `requestPeerUpdate` is true.
    public func updateKeys(requestPeerUpdate: Bool) throws {
        guard case .connected(var established) = state, !wire.sentCloseNotify else {
            throw TLSError(.closed, "cannot update keys: connection not established or closed")
        }
        try sendKeyUpdate(&established, request: requestPeerUpdate ? .updateRequested : .updateNotRequested)
        state = .connected(established)
    }

    /// Sends close_notify (RFC 8446 §6.1); no application data is sent after it.
    public func close() {
        sendCloseNotify()
    }

    // MARK: Records

    func handleHandshake(_ message: HandshakeReassembler.Message) throws {
        switch state {
        case .expectClientHello:
            guard message.type == .clientHello else {
                throw TLSError(.unexpectedMessage, "\(message.type) before ClientHello")
            }
            try processClientHello(message, retry: nil)
        case .expectRetriedClientHello(let retry):
            guard message.type == .clientHello else {
                throw TLSError(.unexpectedMessage, "\(message.type) after HelloRetryRequest")
            }
            try processClientHello(message, retry: retry)
        case .expectFinished(let awaiting):
            guard message.type == .finished else {
                throw TLSError(.unexpectedMessage, "\(message.type) while expecting the client Finished")
            }
            try processFinished(message, awaiting: awaiting)
        case .connected(var established):
            guard message.type == .keyUpdate else {
                throw TLSError(.unexpectedMessage, "post-handshake \(message.type) from the client")
            }
            try processKeyUpdate(message, established: &established)
            state = .connected(established)
        case .failed:
            return
        }
    }

    // MARK: Post-handshake

    private func processKeyUpdate(_ message: HandshakeReassembler.Message, established: inout Established) throws {
        let update = try KeyUpdate(body: message.body)
        established.clientTrafficSecret = established.schedule.nextApplicationTrafficSecret(established.clientTrafficSecret)
        wire.records.readProtection = try RecordProtection(schedule: established.schedule, algorithm: established.aead,
                                                      secret: established.clientTrafficSecret, sealing: false)
        // RFC 8446 §4.6.3: a request gets our own update in reply, unless we closed.
        if update.requestUpdate == .updateRequested && !wire.sentCloseNotify {
            try sendKeyUpdate(&established, request: .updateNotRequested)
        }
        Self.log.debug("client updated its traffic keys", "update_requested=\(update.requestUpdate == .updateRequested)")
        events.append(.keyUpdateReceived(updateRequested: update.requestUpdate == .updateRequested))
    }

    private func sendKeyUpdate(_ established: inout Established, request: KeyUpdateRequest) throws {
        let message = HandshakeHeader.encode(.keyUpdate, body: KeyUpdate(requestUpdate: request).encodeBody())
        try wire.write(.handshake, message)
        established.serverTrafficSecret = established.schedule.nextApplicationTrafficSecret(established.serverTrafficSecret)
        wire.records.writeProtection = try RecordProtection(schedule: established.schedule, algorithm: established.aead,
                                                       secret: established.serverTrafficSecret, sealing: true)
    }

    // MARK: Failure

    func fail(_ error: TLSError) {
        if case .failed = state { return }
        state = .failed
        wire.sendAlert(for: error)
        Self.log.info("TLS connection failed: \(error.reason)", "alert=\(error.alert.map { "\($0)" } ?? "none")")
        events.append(.failed(error))
    }

    func complete(_ parameters: NegotiatedParameters) {
        negotiated = parameters
        events.append(.handshakeCompleted(parameters))
    }

    func logSecret(_ label: String, clientRandom: [UInt8], secret: [UInt8]) {
        configuration.keyLog?.record(label: label, clientRandom: clientRandom, secret: secret)
    }
}

/// The server handshake state (RFC 8446 §A.2). Each case keeps what the next step needs.
enum ServerState {
    case expectClientHello
    case expectRetriedClientHello(RetryContext)
    case expectFinished(AwaitingFinished)
    case connected(Established)
    case failed
}

/// After a HelloRetryRequest: the choices the second ClientHello must agree with.
struct RetryContext {
    var transcript: TranscriptHash
    /// message_hash(ClientHello1) and the HelloRetryRequest, for PSK binders of the second ClientHello.
    var transcriptPrefix: [UInt8]
    var cipherSuite: CipherSuite
    var group: NamedGroup
    var sentCompatibilityCCS: Bool
    /// The first ClientHello's legacy_session_id, which the second must repeat.
    var legacySessionID: [UInt8]
}

/// After the server's flight: what verifying the client Finished needs.
struct AwaitingFinished {
    var schedule: KeySchedule
    var aead: AEADAlgorithm
    var transcript: TranscriptHash
    var clientHandshakeTrafficSecret: [UInt8]
    var clientApplicationTrafficSecret: [UInt8]
    var serverApplicationTrafficSecret: [UInt8]
    var masterSecret: [UInt8]
    var parameters: NegotiatedParameters
    /// Whether the client accepts tickets for psk_dhe_ke resumption.
    var clientAcceptsTickets: Bool
}

/// After the handshake: the current application traffic secrets.
struct Established {
    var schedule: KeySchedule
    var aead: AEADAlgorithm
    var clientTrafficSecret: [UInt8]
    var serverTrafficSecret: [UInt8]
    var resumptionMasterSecret: [UInt8]
}

/// Compares two secrets in constant time.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    return CRYPTO_memcmp(a, b, a.count) == 0
}
