@testable import TLSEngine

/// A TLS 1.3 client written step by step for driving the server sans-IO,
/// with hooks to send what a correct client never would.
///
/// It uses the engine's codec, key schedule and record layer, which the
/// RFC 8448 tests check independently, and drives them with its own
/// handshake logic.
final class ScriptedClient {
    let provider = CryptoProvider.shared
    var suites: [CipherSuite] = [.tlsAES128GCMSHA256]
    var groups: [NamedGroup] = [.x25519, .secp256r1]
    var shareGroups: [NamedGroup] = [.x25519]
    var signatureSchemes: [SignatureScheme] = [.ecdsaSecp256r1SHA256, .rsaPSSRSAESHA256, .ed25519]
    var sessionID: [UInt8] = []
    var serverName: String?
    var alpn: [String] = []
    var extraExtensions: [TLSExtension] = []
    var offersEarlyData = false
    var recordSizeLimit: Int?
    /// Sends a client Finished whose verify_data has one bit flipped.
    var corruptsFinished = false

    private(set) var keyShares: [NamedGroup: KeyExchangePrivateKey] = [:]
    var records = RecordLayer()
    var handshakeBuffer = HandshakeReassembler()
    let random: [UInt8]

    // Filled in by the handshake.
    var schedule: KeySchedule?
    var aead: AEADAlgorithm?
    var clientApplicationSecret: [UInt8] = []
    var serverApplicationSecret: [UInt8] = []
    var receivedMessages: [HandshakeType] = []
    var serverHello: ServerHello?

    init() {
        random = CryptoProvider.shared.randomBytes(32)
    }

    /// Builds the ClientHello handshake message from the settings above.
    func clientHello() throws -> [UInt8] {
        var extensions = ExtensionList()
        if let serverName {
            var writer = ByteWriter()
            writer.writeNested(prefixBytes: 2) { list in
                list.writeUInt8(0)
                list.writeOpaque(prefixBytes: 2, Array(serverName.utf8))
            }
            extensions.append(.serverName, writer.bytes)
        }
        extensions.append(.supportedVersions, [0x02, 0x03, 0x04])
        var groupWriter = ByteWriter()
        groupWriter.writeNested(prefixBytes: 2) { list in groups.forEach { list.writeUInt16($0.rawValue) } }
        extensions.append(.supportedGroups, groupWriter.bytes)
        var schemeWriter = ByteWriter()
        schemeWriter.writeNested(prefixBytes: 2) { list in signatureSchemes.forEach { list.writeUInt16($0.rawValue) } }
        extensions.append(.signatureAlgorithms, schemeWriter.bytes)
        var shareWriter = ByteWriter()
        for group in shareGroups where keyShares[group] == nil {
            keyShares[group] = try KeyExchangePrivateKey(group: group)
        }
        shareWriter.writeNested(prefixBytes: 2) { list in
            for group in shareGroups {
                KeyShareEntry(group: group, keyExchange: keyShares[group]!.publicKeyBytes).write(to: &list)
            }
        }
        extensions.append(.keyShare, shareWriter.bytes)
        if !alpn.isEmpty {
            var writer = ByteWriter()
            writer.writeNested(prefixBytes: 2) { list in alpn.forEach { list.writeOpaque(prefixBytes: 1, Array($0.utf8)) } }
            extensions.append(.applicationLayerProtocolNegotiation, writer.bytes)
        }
        if let recordSizeLimit {
            extensions.append(.recordSizeLimit, [UInt8(recordSizeLimit >> 8), UInt8(recordSizeLimit & 0xFF)])
        }
        if offersEarlyData { extensions.append(.earlyData, []) }
        for ext in extraExtensions { extensions.append(ext.type, ext.data) }
        let hello = ClientHello(random: random, legacySessionID: sessionID, cipherSuites: suites, extensions: extensions)
        return HandshakeHeader.encode(.clientHello, body: hello.encodeBody())
    }

    /// Frames `content` as one unprotected record.
    static func plaintextRecord(_ type: ContentType, _ content: [UInt8], version: UInt16 = 0x0301) -> [UInt8] {
        [type.rawValue, UInt8(version >> 8), UInt8(version & 0xFF), UInt8(content.count >> 8), UInt8(content.count & 0xFF)]
            + content
    }

    /// Seals `innerPlaintext` as one protected record, bypassing every size check.
    func rawProtectedRecord(innerPlaintext: [UInt8]) throws -> [UInt8] {
        let protection = records.writeProtection!
        let length = innerPlaintext.count + protection.aead.algorithm.tagLength
        let header: [UInt8] = [ContentType.applicationData.rawValue, 0x03, 0x03, UInt8(length >> 8), UInt8(length & 0xFF)]
        let sealed = protection.aead.seal(nonce: try protection.nextNonce(), additionalData: header,
                                          plaintext: innerPlaintext)
        return header + sealed
    }

    /// Writes content with the client's current keys.
    func protectedRecords(_ type: ContentType, _ content: [UInt8]) throws -> [UInt8] {
        var output: [UInt8] = []
        try records.write(type, content, to: &output)
        return output
    }

    /// Reads the server's ServerHello and encrypted flight, verifies them and
    /// returns the client Finished record. The client then uses its
    /// application keys.
    func processServerFlight(_ bytes: [UInt8], clientHello: [UInt8]) throws -> [UInt8] {
        records.append(bytes)
        var transcript: TranscriptHash?
        var clientHandshakeSecret: [UInt8] = []
        var serverHandshakeSecret: [UInt8] = []
        var masterSecret: [UInt8] = []
        records.acceptsCompatibilityCCS = true

        while let record = try records.nextRecord() {
            guard record.contentType == .handshake else {
                throw FixtureError("server sent \(record.contentType): \(record.content)")
            }
            handshakeBuffer.append(record.content)
            while let message = try handshakeBuffer.nextMessage() {
                receivedMessages.append(message.type)
                switch message.type {
                case .serverHello:
                    let hello = try ServerHello(body: message.body)
                    serverHello = hello
                    guard let (aead, hash) = hello.cipherSuite.algorithms else { throw FixtureError("bad suite") }
                    self.aead = aead
                    let schedule = KeySchedule(hash: hash)
                    self.schedule = schedule
                    var reader = ByteReader(hello.extensions[.keyShare] ?? [])
                    let share = try KeyShareEntry.read(from: &reader)
                    guard let key = keyShares[share.group] else { throw FixtureError("share for unoffered group") }
                    let shared = try key.sharedSecret(peerPublicKey: share.keyExchange)
                    let hashState = provider.makeTranscriptHash(hash)
                    hashState.update(clientHello)
                    hashState.update(message.encoded)
                    transcript = hashState
                    let handshakeSecret = schedule.handshakeSecret(earlySecret: schedule.earlySecret(preSharedKey: nil),
                                                                   sharedSecret: shared)
                    clientHandshakeSecret = schedule.deriveSecret(handshakeSecret, label: "c hs traffic", transcriptHash: hashState.current())
                    serverHandshakeSecret = schedule.deriveSecret(handshakeSecret, label: "s hs traffic", transcriptHash: hashState.current())
                    masterSecret = schedule.masterSecret(handshakeSecret: handshakeSecret)
                    records.readProtection = try RecordProtection(schedule: schedule, algorithm: aead,
                                                                  secret: serverHandshakeSecret, sealing: false)
                    records.writeProtection = try RecordProtection(schedule: schedule, algorithm: aead,
                                                                   secret: clientHandshakeSecret, sealing: true)
                case .finished:
                    guard let schedule, let transcript else { throw FixtureError("Finished before ServerHello") }
                    let expected = schedule.finishedVerifyData(baseKey: serverHandshakeSecret, transcriptHash: transcript.current())
                    guard expected == message.body else { throw FixtureError("server Finished does not verify") }
                    transcript.update(message.encoded)
                    let serverFinishedHash = transcript.current()
                    clientApplicationSecret = schedule.deriveSecret(masterSecret, label: "c ap traffic", transcriptHash: serverFinishedHash)
                    serverApplicationSecret = schedule.deriveSecret(masterSecret, label: "s ap traffic", transcriptHash: serverFinishedHash)
                    var verifyData = schedule.finishedVerifyData(baseKey: clientHandshakeSecret, transcriptHash: serverFinishedHash)
                    if corruptsFinished { verifyData[0] ^= 0x01 }
                    let finished = try protectedRecords(.handshake, HandshakeHeader.encode(.finished, body: verifyData))
                    records.readProtection = try RecordProtection(schedule: schedule, algorithm: aead!,
                                                                  secret: serverApplicationSecret, sealing: false)
                    records.writeProtection = try RecordProtection(schedule: schedule, algorithm: aead!,
                                                                   secret: clientApplicationSecret, sealing: true)
                    records.acceptsCompatibilityCCS = false
                    return finished
                default:
                    transcript?.update(message.encoded)
                }
            }
        }
        throw FixtureError("server flight ended before its Finished")
    }

    /// Reads application data and handshake messages the server sent after the handshake.
    func read(_ bytes: [UInt8]) throws -> (data: [UInt8], messages: [HandshakeType], alerts: [AlertDescription]) {
        records.append(bytes)
        var data: [UInt8] = []
        var messages: [HandshakeType] = []
        var alerts: [AlertDescription] = []
        while let record = try records.nextRecord() {
            switch record.contentType {
            case .applicationData: data += record.content
            case .alert: alerts.append(AlertDescription(rawValue: record.content[1]))
            case .handshake:
                handshakeBuffer.append(record.content)
                while let message = try handshakeBuffer.nextMessage() {
                    messages.append(message.type)
                    if message.type == .keyUpdate {
                        serverApplicationSecret = schedule!.nextApplicationTrafficSecret(serverApplicationSecret)
                        records.readProtection = try RecordProtection(schedule: schedule!, algorithm: aead!,
                                                                      secret: serverApplicationSecret, sealing: false)
                    }
                }
            default: break
            }
        }
        return (data, messages, alerts)
    }

    /// Rotates the client's sending keys after it sent a KeyUpdate.
    func rotateWriteKeys() throws {
        clientApplicationSecret = schedule!.nextApplicationTrafficSecret(clientApplicationSecret)
        records.writeProtection = try RecordProtection(schedule: schedule!, algorithm: aead!,
                                                       secret: clientApplicationSecret, sealing: true)
    }
}

/// Server configurations with one self-signed ECDSA P-256 certificate, made
/// once per test run by the openssl command line tool.
enum ServerFixture {
    static let certifiedKey: CertifiedKey = {
        let vault = try! KeyVault(storage: .memory, profile: .development)
        let fixtures = try! CertificateFixtures()
        return try! fixtures.certifiedKey(try! fixtures.make(.ecdsaP256), vault: vault, id: "fixture")
    }()

    static func configuration() -> TLSServerConfiguration {
        var configuration = TLSServerConfiguration(certificates: CertificateSource(certifiedKey))
        configuration.applicationProtocols = ["http/1.1"]
        return configuration
    }

    /// Reads the alert a failed server queued from its unprotected or protected output.
    static func alert(in output: [UInt8], client: ScriptedClient?) -> AlertDescription? {
        if let client, client.records.readProtection != nil {
            return try? client.read(output).alerts.first
        }
        guard output.count >= 7, output[0] == ContentType.alert.rawValue else { return nil }
        return AlertDescription(rawValue: output[6])
    }
}
