import Testing
@testable import TLSEngine

/// The server state machine driven sans-IO by a scripted client, including
/// the inputs a correct client never sends.
@Suite("Server connection with a scripted client")
struct ServerConnectionScriptedTests {
    /// Runs a full handshake and returns the server and the client holding application keys.
    static func established(_ client: ScriptedClient = ScriptedClient(),
                            configuration: TLSServerConfiguration = ServerFixture.configuration()) throws
        -> (TLSServerConnection, ScriptedClient) {
        let server = TLSServerConnection(configuration: configuration)
        let hello = try client.clientHello()
        let first = server.receive(ScriptedClient.plaintextRecord(.handshake, hello))
        #expect(first.isEmpty)
        let finished = try client.processServerFlight(server.takeOutput(), clientHello: hello)
        let events = server.receive(finished)
        guard case .handshakeCompleted = events.first else {
            throw FixtureError("handshake did not complete: \(events)")
        }
        return (server, client)
    }

    static func failure(_ events: [TLSEvent]) -> TLSError? {
        for case .failed(let error) in events { return error }
        return nil
    }

    @Test func fullHandshakeAndEcho() throws {
        let (server, client) = try Self.established()
        let events = server.receive(try client.protectedRecords(.applicationData, Array("ping".utf8)))
        #expect(events == [.applicationData(Array("ping".utf8))])
        try server.send(Array("pong".utf8))
        let reply = try client.read(server.takeOutput())
        #expect(reply.data == Array("pong".utf8))
    }

    @Test func clientHelloByteByByte() throws {
        let client = ScriptedClient()
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        let hello = try client.clientHello()
        for byte in ScriptedClient.plaintextRecord(.handshake, hello) {
            #expect(server.receive([byte]).isEmpty)
        }
        let finished = try client.processServerFlight(server.takeOutput(), clientHello: hello)
        guard case .handshakeCompleted = server.receive(finished).first else {
            Issue.record("handshake did not complete")
            return
        }
    }

    @Test func receiveFromRawBuffer() throws {
        let client = ScriptedClient()
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        let hello = try client.clientHello()
        let record = ScriptedClient.plaintextRecord(.handshake, hello)
        let events = record.withUnsafeBytes { server.receive($0) }
        #expect(events.isEmpty)
        _ = try client.processServerFlight(server.takeOutput(), clientHello: hello)
    }

    @Test func clientHelloAcrossRecords() throws {
        let client = ScriptedClient()
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        let hello = try client.clientHello()
        var input: [UInt8] = []
        for start in stride(from: 0, to: hello.count, by: 7) {
            input += ScriptedClient.plaintextRecord(.handshake, Array(hello[start..<min(start + 7, hello.count)]))
        }
        #expect(server.receive(input).isEmpty)
        _ = try client.processServerFlight(server.takeOutput(), clientHello: hello)
    }

    @Test func compatibilityModeEchoesSessionIDAndSendsCCS() throws {
        let client = ScriptedClient()
        client.sessionID = Array(repeating: 0xAB, count: 32)
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        let hello = try client.clientHello()
        _ = server.receive(ScriptedClient.plaintextRecord(.handshake, hello)
                           + ScriptedClient.plaintextRecord(.changeCipherSpec, [0x01]))
        let output = server.takeOutput()
        // ServerHello record, then the CCS record right after it.
        let serverHelloLength = Int(output[3]) << 8 | Int(output[4])
        let afterHello = Array(output[(5 + serverHelloLength)...])
        #expect(Array(afterHello.prefix(6)) == [0x14, 0x03, 0x03, 0x00, 0x01, 0x01])
        let finished = try client.processServerFlight(output, clientHello: hello)
        #expect(client.serverHello?.legacySessionIDEcho == client.sessionID)
        // A CCS before the client Finished is still dropped.
        let events = server.receive(ScriptedClient.plaintextRecord(.changeCipherSpec, [0x01]) + finished)
        guard case .handshakeCompleted = events.first else {
            Issue.record("handshake did not complete: \(events)")
            return
        }
    }

    @Test func ccsAfterHandshakeIsUnexpected() throws {
        let (server, client) = try Self.established()
        let events = server.receive(ScriptedClient.plaintextRecord(.changeCipherSpec, [0x01]))
        #expect(Self.failure(events)?.alert == .unexpectedMessage)
        #expect(ServerFixture.alert(in: server.takeOutput(), client: client) == .unexpectedMessage)
    }

    @Test func unprotectedAlertAfterHandshakeIsUnexpected() throws {
        let (server, _) = try Self.established()
        let events = server.receive(ScriptedClient.plaintextRecord(.alert, [2, 40]))
        #expect(Self.failure(events)?.alert == .unexpectedMessage)
    }

    @Test func ccsBeforeClientHelloIsUnexpected() {
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        let events = server.receive(ScriptedClient.plaintextRecord(.changeCipherSpec, [0x01]))
        #expect(Self.failure(events)?.alert == .unexpectedMessage)
        #expect(ServerFixture.alert(in: server.takeOutput(), client: nil) == .unexpectedMessage)
    }

    @Test func ccsWithWrongValueIsUnexpected() throws {
        let client = ScriptedClient()
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        _ = server.receive(ScriptedClient.plaintextRecord(.handshake, try client.clientHello()))
        let events = server.receive(ScriptedClient.plaintextRecord(.changeCipherSpec, [0x02]))
        #expect(Self.failure(events)?.alert == .unexpectedMessage)
    }

    @Test func oversizedPlaintextRecordOverflows() {
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        // Only the header: the length alone exceeds 2^14.
        let events = server.receive([0x16, 0x03, 0x01, 0x40, 0x01])
        #expect(Self.failure(events)?.alert == .recordOverflow)
        #expect(ServerFixture.alert(in: server.takeOutput(), client: nil) == .recordOverflow)
    }

    @Test func oversizedCiphertextRecordOverflows() throws {
        let (server, _) = try Self.established()
        // 2^14 + 257 bytes of ciphertext, one more than RFC 8446 §5.2 allows.
        let events = server.receive([0x17, 0x03, 0x03, 0x41, 0x01])
        #expect(Self.failure(events)?.alert == .recordOverflow)
    }

    @Test func innerPlaintextOverLimitOverflows() throws {
        let (server, client) = try Self.established()
        // 2^14 + 1 content bytes and the type byte.
        let inner = [UInt8](repeating: 0x41, count: (1 << 14) + 1) + [ContentType.applicationData.rawValue]
        let events = server.receive(try client.rawProtectedRecord(innerPlaintext: inner))
        #expect(Self.failure(events)?.alert == .recordOverflow)
    }

    @Test func maximumPlaintextIsAccepted() throws {
        let (server, client) = try Self.established()
        let payload = [UInt8](repeating: 0x42, count: 1 << 14)
        let events = server.receive(try client.protectedRecords(.applicationData, payload))
        #expect(events == [.applicationData(payload)])
    }

    @Test func tamperedRecordIsBadRecordMAC() throws {
        let (server, client) = try Self.established()
        var record = try client.protectedRecords(.applicationData, Array("hello".utf8))
        record[record.count - 1] ^= 0x01
        let events = server.receive(record)
        #expect(Self.failure(events)?.alert == .badRecordMAC)
        #expect(ServerFixture.alert(in: server.takeOutput(), client: client) == .badRecordMAC)
    }

    @Test func truncatedHandshakeBeforeAlertIsUnexpected() throws {
        let client = ScriptedClient()
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        let hello = try client.clientHello()
        let events = server.receive(ScriptedClient.plaintextRecord(.handshake, Array(hello.prefix(20)))
                                    + ScriptedClient.plaintextRecord(.alert, [2, 40]))
        #expect(Self.failure(events)?.alert == .unexpectedMessage)
    }

    @Test func truncatedClientHelloIsDecodeError() throws {
        let client = ScriptedClient()
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        var hello = try client.clientHello()
        // Claim 10 bytes fewer in the handshake header than the body holds: the extensions vector runs past the end.
        hello.removeLast(10)
        let length = hello.count - 4
        hello[1] = UInt8(length >> 16); hello[2] = UInt8((length >> 8) & 0xFF); hello[3] = UInt8(length & 0xFF)
        let events = server.receive(ScriptedClient.plaintextRecord(.handshake, hello))
        #expect(Self.failure(events)?.alert == .decodeError)
        #expect(ServerFixture.alert(in: server.takeOutput(), client: nil) == .decodeError)
    }

    @Test func duplicateExtensionIsIllegalParameter() throws {
        let client = ScriptedClient()
        client.extraExtensions = [TLSExtension(type: .supportedGroups, data: [0x00, 0x02, 0x00, 0x1D])]
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        let events = server.receive(ScriptedClient.plaintextRecord(.handshake, try client.clientHello()))
        #expect(Self.failure(events)?.alert == .illegalParameter)
    }

    @Test func greaseValuesAreIgnored() throws {
        let client = ScriptedClient()
        client.suites = [CipherSuite(rawValue: 0x0A0A), .tlsAES128GCMSHA256]
        client.groups = [NamedGroup(rawValue: 0x2A2A), .x25519]
        client.extraExtensions = [TLSExtension(type: ExtensionType(rawValue: 0x3A3A), data: [0])]
        #expect(isGREASE(0x3A3A))
        let (server, _) = try Self.established(client)
        #expect(server.negotiated?.cipherSuite == .tlsAES128GCMSHA256)
    }

    @Test func missingKeyShareExtensionIsMissingExtension() throws {
        let client = ScriptedClient()
        client.shareGroups = []
        let hello = try client.clientHello()
        // Drop the key_share extension by re-encoding without it.
        var parsed = try ClientHello(body: Array(hello.dropFirst(4)))
        parsed.extensions = ExtensionList(parsed.extensions.extensions.filter { $0.type != .keyShare })
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        let events = server.receive(ScriptedClient.plaintextRecord(.handshake,
                                                                   HandshakeHeader.encode(.clientHello, body: parsed.encodeBody())))
        #expect(Self.failure(events)?.alert == .missingExtension)
    }

    @Test func wrongClientFinishedIsDecryptError() throws {
        let client = ScriptedClient()
        client.corruptsFinished = true
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        let hello = try client.clientHello()
        _ = server.receive(ScriptedClient.plaintextRecord(.handshake, hello))
        let finished = try client.processServerFlight(server.takeOutput(), clientHello: hello)
        let events = server.receive(finished)
        #expect(Self.failure(events)?.alert == .decryptError)
    }

    @Test func applicationDataBeforeFinishedIsUnexpected() throws {
        let client = ScriptedClient()
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        let hello = try client.clientHello()
        _ = server.receive(ScriptedClient.plaintextRecord(.handshake, hello))
        _ = try client.processServerFlight(server.takeOutput(), clientHello: hello)
        // The client now holds application keys, which the server does not use for reading yet.
        let events = server.receive(try client.protectedRecords(.applicationData, [1, 2, 3]))
        #expect(Self.failure(events)?.alert == .badRecordMAC)
    }

    @Test func illegalKeyUpdateValueIsIllegalParameter() throws {
        let (server, client) = try Self.established()
        let events = server.receive(try client.protectedRecords(.handshake, HandshakeHeader.encode(.keyUpdate, body: [2])))
        #expect(Self.failure(events)?.alert == .illegalParameter)
    }

    @Test func keyUpdateRequestedIsAnswered() throws {
        let (server, client) = try Self.established()
        let update = try client.protectedRecords(.handshake, HandshakeHeader.encode(.keyUpdate, body: [1]))
        try client.rotateWriteKeys()
        let events = server.receive(update + (try client.protectedRecords(.applicationData, Array("after".utf8))))
        #expect(events == [.keyUpdateReceived(updateRequested: true), .applicationData(Array("after".utf8))])
        try server.send(Array("reply".utf8))
        let reply = try client.read(server.takeOutput())
        #expect(reply.messages == [.keyUpdate])
        #expect(reply.data == Array("reply".utf8))
    }

    @Test func keyUpdateNotAlignedToRecordIsUnexpected() throws {
        let (server, client) = try Self.established()
        // KeyUpdate followed by the start of another message in the same record.
        let content = HandshakeHeader.encode(.keyUpdate, body: [0]) + [0x18, 0x00]
        let events = server.receive(try client.protectedRecords(.handshake, content))
        #expect(Self.failure(events)?.alert == .unexpectedMessage)
    }

    @Test func closeNotifyIsReportedAndAnswered() throws {
        let (server, client) = try Self.established()
        let events = server.receive(try client.protectedRecords(.alert, [1, 0]))
        #expect(events == [.closeNotifyReceived])
        server.close()
        #expect(try client.read(server.takeOutput()).alerts == [.closeNotify])
        #expect(throws: TLSError.self) { try server.send([1]) }
    }

    @Test func earlyDataIsSkippedWithinLimit() throws {
        let client = ScriptedClient()
        client.offersEarlyData = true
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        let hello = try client.clientHello()
        // Two 0-RTT records the server cannot decrypt follow the ClientHello.
        let junk = ScriptedClient.plaintextRecord(.applicationData, [UInt8](repeating: 0x55, count: 100), version: 0x0303)
        _ = server.receive(ScriptedClient.plaintextRecord(.handshake, hello))
        let finished = try client.processServerFlight(server.takeOutput(), clientHello: hello)
        let events = server.receive(junk + junk + finished)
        guard case .handshakeCompleted = events.first else {
            Issue.record("handshake did not complete: \(events)")
            return
        }
    }

    @Test func earlyDataOverLimitFails() throws {
        let client = ScriptedClient()
        client.offersEarlyData = true
        var configuration = ServerFixture.configuration()
        configuration.maxEarlyDataSkipped = 150
        let server = TLSServerConnection(configuration: configuration)
        let hello = try client.clientHello()
        let junk = ScriptedClient.plaintextRecord(.applicationData, [UInt8](repeating: 0x55, count: 100), version: 0x0303)
        _ = server.receive(ScriptedClient.plaintextRecord(.handshake, hello))
        let events = server.receive(junk + junk)
        #expect(Self.failure(events)?.alert == .badRecordMAC)
    }

    @Test func helloRetryRequestThenHandshake() throws {
        let client = ScriptedClient()
        client.groups = [.secp384r1, .x25519]
        client.shareGroups = [.secp384r1]
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        let hello = try client.clientHello()
        _ = server.receive(ScriptedClient.plaintextRecord(.handshake, hello))
        let retryBytes = server.takeOutput()
        let retry = try ServerHello(body: Array(retryBytes[9...]))
        #expect(retry.isHelloRetryRequest)
        #expect(retry.extensions[.keyShare] == [0x00, 0x1D])

        // A second ClientHello that still lacks the x25519 share is illegal.
        let stubborn = server.receive(ScriptedClient.plaintextRecord(.handshake, hello))
        #expect(Self.failure(stubborn)?.alert == .illegalParameter)
    }

    @Test func retriedHelloWithNewSessionIDIsIllegal() throws {
        let client = ScriptedClient()
        client.groups = [.secp384r1, .x25519]
        client.shareGroups = [.secp384r1]
        client.sessionID = [1, 2, 3]
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        _ = server.receive(ScriptedClient.plaintextRecord(.handshake, try client.clientHello()))
        _ = server.takeOutput()
        client.shareGroups = [.x25519]
        client.sessionID = [4, 5, 6]
        let events = server.receive(ScriptedClient.plaintextRecord(.handshake, try client.clientHello()))
        #expect(Self.failure(events)?.alert == .illegalParameter)
    }

    @Test func recordSizeLimitShrinksServerRecords() throws {
        let client = ScriptedClient()
        client.recordSizeLimit = 256
        let (server, _) = try Self.established(client)
        try server.send([UInt8](repeating: 0x61, count: 1000))
        let output = server.takeOutput()
        // 1000 bytes in records of at most 255 content bytes: four records, each at most 256 + 16 bytes of ciphertext.
        var offset = 0
        var count = 0
        while offset < output.count {
            let length = Int(output[offset + 3]) << 8 | Int(output[offset + 4])
            #expect(length <= 256 + 16)
            offset += 5 + length
            count += 1
        }
        #expect(count == 4)
    }

    @Test func recordSizeLimitBelowMinimumIsIllegal() throws {
        let client = ScriptedClient()
        client.recordSizeLimit = 63
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        let events = server.receive(ScriptedClient.plaintextRecord(.handshake, try client.clientHello()))
        #expect(Self.failure(events)?.alert == .illegalParameter)
    }

    @Test func paddingHidesLength() throws {
        var configuration = ServerFixture.configuration()
        configuration.recordPadding = .multipleOf(64)
        let (server, client) = try Self.established(configuration: configuration)
        try server.send(Array("x".utf8))
        let output = server.takeOutput()
        #expect(Int(output[3]) << 8 | Int(output[4]) == 64 + 16)
        #expect(try client.read(output).data == Array("x".utf8))
    }
}
