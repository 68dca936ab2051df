import CapnetBase

/// One TLS 1.3 client connection, sans-IO like `TLSServerConnection`: the
/// ClientHello is in `takeOutput()` right after creation.
///
/// It verifies the server's chain and name with the configuration's trust
/// store, offers no PSK and sends no early data.
public final class TLSClientConnection: TLSEndpoint {
    static let log = Logger(.tls)

    let configuration: TLSClientConfiguration
    /// The host name or IP literal the certificate must match; sent as SNI when it is a name.
    public let serverName: String
    var wire = RecordConnection()
    var events: [TLSEvent] = []
    var state: ClientState

    let random: [UInt8]
    let sessionID: [UInt8]
    var keyShare: KeyExchangePrivateKey
    var transcriptBytes: [UInt8] = []

    public internal(set) var negotiated: NegotiatedParameters?

    /// The length of the random legacy_session_id sent for middlebox compatibility (RFC 8446 §D.4).
    static let compatibilitySessionIDLength = 32

    public init(configuration: TLSClientConfiguration, serverName: String) throws {
        self.configuration = configuration
        self.serverName = serverName
        random = configuration.provider.randomBytes(ClientHello.randomLength)
        sessionID = configuration.provider.randomBytes(Self.compatibilitySessionIDLength)
        guard let firstGroup = configuration.groups.first else {
            throw TLSError(.internalError, "client configuration has no groups")
        }
        do {
            keyShare = try KeyExchangePrivateKey(group: firstGroup)
        } catch {
            throw TLSError(.internalError, "key share generation for \(firstGroup) failed: \(error)")
        }
        state = .expectServerHello(retried: false)
        let hello = clientHello()
        transcriptBytes = hello
        try wire.write(.handshake, hello)
    }

    public var isEstablished: Bool {
        if case .connected = state { return true }
        return false
    }

    public var hasFailed: Bool {
        if case .failed = state { return true }
        return false
    }

    static let peerRole = "server"

    /// Handshake messages that precede a key change and must end their record (RFC 8446 §5.1).
    static let keyChangeTypes: Set<HandshakeType> = [.serverHello, .finished, .keyUpdate]

    public var hasOutput: Bool { !wire.output.isEmpty }

    /// Returns and clears the bytes to send to the server.
    public func takeOutput() -> [UInt8] {
        wire.takeOutput()
    }

    public func receive(_ bytes: [UInt8]) -> [TLSEvent] {
        receiveRecords(bytes)
    }

    /// Feeds bytes straight from a receive buffer (a socket's or a TCP
    /// segment's) without an intermediate array; the bytes are copied once
    /// into the record layer.
    public func receive(_ bytes: UnsafeRawBufferPointer) -> [TLSEvent] {
        receiveRecords(bytes)
    }

    public func send(_ applicationData: [UInt8]) throws {
        try sendApplicationData(applicationData)
    }

    /// Rotates the sending keys with a KeyUpdate (RFC 8446 §4.6.3), asking the
    /// server to rotate its own when `requestPeerUpdate` is true.
    public func updateKeys(requestPeerUpdate: Bool) throws {
        guard case .connected(var established) = state, !wire.sentCloseNotify else {
            throw TLSError(.closed, "cannot update keys: connection not established or closed")
        }
        try sendKeyUpdate(&established, request: requestPeerUpdate ? .updateRequested : .updateNotRequested)
        state = .connected(established)
    }

    private func sendKeyUpdate(_ established: inout ClientEstablished, request: KeyUpdateRequest) throws {
        try wire.write(.handshake, HandshakeHeader.encode(.keyUpdate, body: KeyUpdate(requestUpdate: request).encodeBody()))
        established.clientTrafficSecret = established.schedule.nextApplicationTrafficSecret(established.clientTrafficSecret)
        wire.records.writeProtection = try RecordProtection(schedule: established.schedule, algorithm: established.aead,
                                                            secret: established.clientTrafficSecret, sealing: true)
    }

    /// Sends close_notify (RFC 8446 §6.1); no application data is sent after it.
    public func close() {
        sendCloseNotify()
    }

    // MARK: Records

    func handleHandshake(_ message: HandshakeReassembler.Message) throws {
        switch state {
        case .expectServerHello(let retried):
            guard message.type == .serverHello else {
                throw TLSError(.unexpectedMessage, "\(message.type) while expecting ServerHello")
            }
            try processServerHello(message, retried: retried)
        case .expectEncryptedExtensions(var context):
            guard message.type == .encryptedExtensions else {
                throw TLSError(.unexpectedMessage, "\(message.type) while expecting EncryptedExtensions")
            }
            try processEncryptedExtensions(message, context: &context)
            context.transcript.update(message.encoded)
            state = .expectCertificate(context)
        case .expectCertificate(var context):
            if message.type == .certificateRequest && context.certificateRequestContext == nil {
                // RFC 8446 §4.3.2: optional client authentication. This client has
                // no certificate, so it answers with an empty Certificate.
                context.certificateRequestContext = try CertificateRequest(body: message.body).certificateRequestContext
                context.transcript.update(message.encoded)
                state = .expectCertificate(context)
                return
            }
            guard message.type == .certificate else {
                throw TLSError(.unexpectedMessage, "\(message.type) while expecting Certificate")
            }
            try processCertificate(message, context: &context)
            context.transcript.update(message.encoded)
            state = .expectCertificateVerify(context)
        case .expectCertificateVerify(var context):
            guard message.type == .certificateVerify else {
                throw TLSError(.unexpectedMessage, "\(message.type) while expecting CertificateVerify")
            }
            context.parameters.signatureScheme = try processCertificateVerify(message, context: context)
            context.transcript.update(message.encoded)
            state = .expectFinished(context)
        case .expectFinished(let context):
            guard message.type == .finished else {
                throw TLSError(.unexpectedMessage, "\(message.type) while expecting Finished")
            }
            try processFinished(message, context: context)
        case .connected(var established):
            switch message.type {
            case .newSessionTicket:
                // NOTE: tickets are parsed and dropped; the client does not resume.
                _ = try NewSessionTicket(body: message.body)
            case .keyUpdate:
                let update = try KeyUpdate(body: message.body)
                established.serverTrafficSecret = established.schedule.nextApplicationTrafficSecret(established.serverTrafficSecret)
                wire.records.readProtection = try RecordProtection(schedule: established.schedule, algorithm: established.aead,
                                                              secret: established.serverTrafficSecret, sealing: false)
                if update.requestUpdate == .updateRequested && !wire.sentCloseNotify {
                    try sendKeyUpdate(&established, request: .updateNotRequested)
                }
                state = .connected(established)
                events.append(.keyUpdateReceived(updateRequested: update.requestUpdate == .updateRequested))
            default:
                throw TLSError(.unexpectedMessage, "post-handshake \(message.type) from the server")
            }
        case .failed:
            return
        }
    }

    func fail(_ error: TLSError) {
        if case .failed = state { return }
        state = .failed
        wire.sendAlert(for: error)
        Self.log.info("TLS client connection failed: \(error.reason)", "alert=\(error.alert.map { "\($0)" } ?? "none")")
        events.append(.failed(error))
    }
}

/// The client handshake state (RFC 8446 §A.1).
enum ClientState {
    case expectServerHello(retried: Bool)
    case expectEncryptedExtensions(ClientHandshakeContext)
    case expectCertificate(ClientHandshakeContext)
    case expectCertificateVerify(ClientHandshakeContext)
    case expectFinished(ClientHandshakeContext)
    case connected(ClientEstablished)
    case failed
}

/// The secrets and choices the client carries from ServerHello to its Finished.
struct ClientHandshakeContext {
    var schedule: KeySchedule
    var aead: AEADAlgorithm
    var transcript: TranscriptHash
    var handshakeSecret: [UInt8]
    var clientHandshakeTrafficSecret: [UInt8]
    var serverHandshakeTrafficSecret: [UInt8]
    var parameters: NegotiatedParameters
    var serverPublicKey: PublicKey?
    /// The context of the server's CertificateRequest, when it sent one.
    var certificateRequestContext: [UInt8]? = nil
}

struct ClientEstablished {
    var schedule: KeySchedule
    var aead: AEADAlgorithm
    var clientTrafficSecret: [UInt8]
    var serverTrafficSecret: [UInt8]
}
