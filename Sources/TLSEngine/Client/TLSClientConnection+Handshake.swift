/// The client side of the full handshake (RFC 8446 §2, §4).
extension TLSClientConnection {
    /// Whether `serverName` is an IP literal, which RFC 6066 §3 forbids in SNI.
    var serverNameIsAddress: Bool {
        serverName.contains(":") || serverName.allSatisfy { $0.isNumber || $0 == "." }
    }

    func clientHello(cookie: [UInt8]? = nil) -> [UInt8] {
        var extensions = ExtensionList()
        if !serverNameIsAddress {
            var writer = ByteWriter()
            writer.writeNested(prefixBytes: 2) { list in
                list.writeUInt8(ExtensionList.hostNameType)
                list.writeOpaque(prefixBytes: 2, Array(serverName.utf8))
            }
            extensions.append(.serverName, writer.bytes)
        }

        extensions.append(.supportedVersions, [0x02, 0x03, 0x04])
        var groups = ByteWriter()
        groups.writeNested(prefixBytes: 2) { list in configuration.groups.forEach { list.writeUInt16($0.rawValue) } }
        extensions.append(.supportedGroups, groups.bytes)

        var schemes = ByteWriter()
        schemes.writeNested(prefixBytes: 2) { list in configuration.signatureSchemes.forEach { list.writeUInt16($0.rawValue) } }
        extensions.append(.signatureAlgorithms, schemes.bytes)

        var share = ByteWriter()
        share.writeNested(prefixBytes: 2) { KeyShareEntry(group: keyShare.group, keyExchange: keyShare.publicKeyBytes).write(to: &$0) }
        extensions.append(.keyShare, share.bytes)

        if !configuration.applicationProtocols.isEmpty {
            var writer = ByteWriter()
            writer.writeNested(prefixBytes: 2) { list in
                configuration.applicationProtocols.forEach { list.writeOpaque(prefixBytes: 1, Array($0.utf8)) }
            }
            extensions.append(.applicationLayerProtocolNegotiation, writer.bytes)
        }
        if let cookie { extensions.append(.cookie, cookie) }

        let hello = ClientHello(random: random, legacySessionID: sessionID, cipherSuites: configuration.cipherSuites,
                                extensions: extensions)
        return HandshakeHeader.encode(.clientHello, body: hello.encodeBody())
    }

    func processServerHello(_ message: HandshakeReassembler.Message, retried: Bool) throws {
        let hello = try ServerHello(body: message.body)
        guard hello.legacySessionIDEcho == sessionID else {
            throw TLSError(.illegalParameter, "ServerHello does not echo legacy_session_id")
        }
        guard configuration.cipherSuites.contains(hello.cipherSuite), let (aead, hash) = hello.cipherSuite.algorithms else {
            throw TLSError(.illegalParameter, "server chose \(hello.cipherSuite), which was not offered")
        }
        guard hello.extensions[.supportedVersions] == [0x03, 0x04] else {
            throw TLSError(.illegalParameter, "ServerHello without supported_versions 0x0304")
        }
        let provider = configuration.provider

        if hello.isHelloRetryRequest {
            // RFC 8446 §4.1.4: at most one retry, for a group we offered but did not share.
            guard !retried else { throw TLSError(.unexpectedMessage, "second HelloRetryRequest") }
            guard let selected = hello.extensions[.keyShare], selected.count == 2 else {
                throw TLSError(.illegalParameter, "HelloRetryRequest without a selected group")
            }
            let group = NamedGroup(rawValue: UInt16(selected[0]) << 8 | UInt16(selected[1]))
            guard configuration.groups.contains(group), group != keyShare.group else {
                throw TLSError(.illegalParameter, "HelloRetryRequest selects \(group)")
            }
            do {
                keyShare = try KeyExchangePrivateKey(group: group)
            } catch {
                throw TLSError(.internalError, "key share generation for \(group) failed: \(error)")
            }
            let messageHash = HandshakeHeader.encode(.messageHash, body: provider.hash(hash, transcriptBytes))
            let secondHello = clientHello(cookie: hello.extensions[.cookie])
            transcriptBytes = messageHash + message.encoded + secondHello
            // RFC 8446 §D.4: the compatibility CCS goes before the client's second flight.
            try wire.write(.changeCipherSpec, [0x01])
            try wire.write(.handshake, secondHello)
            wire.records.acceptsCompatibilityCCS = true
            state = .expectServerHello(retried: true)
            return
        }

        var reader = ByteReader(hello.extensions[.keyShare] ?? [])
        let serverShare = try KeyShareEntry.read(from: &reader)
        try reader.finish("ServerHello key_share")
        guard serverShare.group == keyShare.group else {
            throw TLSError(.illegalParameter, "server share for \(serverShare.group), client sent \(keyShare.group)")
        }
        let sharedSecret: [UInt8]
        do {
            sharedSecret = try keyShare.sharedSecret(peerPublicKey: serverShare.keyExchange)
        } catch {
            throw TLSError(.illegalParameter, "server key share rejected: \(error)")
        }

        let schedule = KeySchedule(hash: hash, provider: provider)
        let transcript = provider.makeTranscriptHash(hash)
        transcript.update(transcriptBytes)
        transcript.update(message.encoded)
        transcriptBytes = []
        let handshakeSecret = schedule.handshakeSecret(earlySecret: schedule.earlySecret(preSharedKey: nil),
                                                       sharedSecret: sharedSecret)
        let helloHash = transcript.current()
        let clientSecret = schedule.deriveSecret(handshakeSecret, label: "c hs traffic", transcriptHash: helloHash)
        let serverSecret = schedule.deriveSecret(handshakeSecret, label: "s hs traffic", transcriptHash: helloHash)
        configuration.keyLog?.record(label: "CLIENT_HANDSHAKE_TRAFFIC_SECRET", clientRandom: random, secret: clientSecret)
        configuration.keyLog?.record(label: "SERVER_HANDSHAKE_TRAFFIC_SECRET", clientRandom: random, secret: serverSecret)
        wire.records.readProtection = try RecordProtection(schedule: schedule, algorithm: aead, secret: serverSecret, sealing: false)
        wire.records.acceptsCompatibilityCCS = true

        let parameters = NegotiatedParameters(cipherSuite: hello.cipherSuite, group: keyShare.group,
                                              signatureScheme: nil, serverName: serverNameIsAddress ? nil : serverName,
                                              applicationProtocol: nil, usedHelloRetryRequest: retried, resumed: false)
        state = .expectEncryptedExtensions(ClientHandshakeContext(
            schedule: schedule, aead: aead, transcript: transcript, handshakeSecret: handshakeSecret,
            clientHandshakeTrafficSecret: clientSecret, serverHandshakeTrafficSecret: serverSecret,
            parameters: parameters, serverPublicKey: nil))
    }

    func processEncryptedExtensions(_ message: HandshakeReassembler.Message, context: inout ClientHandshakeContext) throws {
        let encrypted = try EncryptedExtensions(body: message.body)
        if let protocols = try encrypted.extensions.applicationProtocols() {
            // RFC 7301 §3.1: exactly one protocol, one the client offered.
            guard protocols.count == 1, let chosen = String(validating: protocols[0], as: UTF8.self),
                  configuration.applicationProtocols.contains(chosen) else {
                throw TLSError(.illegalParameter, "server selected an ALPN protocol that was not offered")
            }
            context.parameters.applicationProtocol = chosen
        }
        for forbidden in [ExtensionType.keyShare, .supportedVersions, .preSharedKey] where encrypted.extensions.contains(forbidden) {
            throw TLSError(.illegalParameter, "EncryptedExtensions carries \(forbidden)")
        }
    }

    func processCertificate(_ message: HandshakeReassembler.Message, context: inout ClientHandshakeContext) throws {
        let certificate = try CertificateMessage(body: message.body)
        guard !certificate.entries.isEmpty else {
            throw TLSError(.lengthOutOfRange, "server sent an empty Certificate")
        }
        context.serverPublicKey = try configuration.trustStore.verify(
            chain: certificate.entries.map(\.certificateData), serverName: serverName,
            time: configuration.verificationTime())
    }

    /// Checks the server's signature over the transcript and returns its scheme.
    func processCertificateVerify(_ message: HandshakeReassembler.Message, context: ClientHandshakeContext) throws
        -> SignatureScheme {
        let verify = try CertificateVerify(body: message.body)
        guard configuration.signatureSchemes.contains(verify.algorithm) else {
            throw TLSError(.illegalParameter, "server signed with \(verify.algorithm), which was not offered")
        }
        let content = CertificateVerify.signedContent(transcriptHash: context.transcript.current(), server: true)
        guard let key = context.serverPublicKey,
              key.verify(verify.algorithm, message: content, signature: verify.signature,
                         provider: configuration.provider) else {
            throw TLSError(.decryptError, "server CertificateVerify does not verify with \(verify.algorithm)")
        }
        return verify.algorithm
    }

    func processFinished(_ message: HandshakeReassembler.Message, context: ClientHandshakeContext) throws {
        let schedule = context.schedule
        let expected = schedule.finishedVerifyData(baseKey: context.serverHandshakeTrafficSecret,
                                                   transcriptHash: context.transcript.current())
        let finished = try Finished(body: message.body, hashLength: schedule.hash.outputLength)
        guard constantTimeEqual(finished.verifyData, expected) else {
            throw TLSError(.decryptError, "server Finished verify_data does not match")
        }
        context.transcript.update(message.encoded)

        let masterSecret = schedule.masterSecret(handshakeSecret: context.handshakeSecret)
        let serverFinishedHash = context.transcript.current()
        let clientApplicationSecret = schedule.deriveSecret(masterSecret, label: "c ap traffic", transcriptHash: serverFinishedHash)
        let serverApplicationSecret = schedule.deriveSecret(masterSecret, label: "s ap traffic", transcriptHash: serverFinishedHash)
        configuration.keyLog?.record(label: "CLIENT_TRAFFIC_SECRET_0", clientRandom: random, secret: clientApplicationSecret)
        configuration.keyLog?.record(label: "SERVER_TRAFFIC_SECRET_0", clientRandom: random, secret: serverApplicationSecret)

        // Compatibility CCS (unless sent before a second ClientHello), then Finished under the handshake keys.
        if !context.parameters.usedHelloRetryRequest {
            try wire.write(.changeCipherSpec, [0x01])
        }
        wire.records.writeProtection = try RecordProtection(schedule: schedule, algorithm: context.aead,
                                                       secret: context.clientHandshakeTrafficSecret, sealing: true)
        var clientFinishedHash = serverFinishedHash
        if let requestContext = context.certificateRequestContext {
            // RFC 8446 §4.4.2: with no certificate to send, an empty
            // certificate_list; the client Finished then covers it.
            let certificate = HandshakeHeader.encode(
                .certificate, body: CertificateMessage(certificateRequestContext: requestContext, chain: []).encodeBody())
            try wire.write(.handshake, certificate)
            context.transcript.update(certificate)
            clientFinishedHash = context.transcript.current()
        }
        let verifyData = schedule.finishedVerifyData(baseKey: context.clientHandshakeTrafficSecret,
                                                     transcriptHash: clientFinishedHash)
        try wire.write(.handshake, HandshakeHeader.encode(.finished, body: verifyData))

        wire.records.writeProtection = try RecordProtection(schedule: schedule, algorithm: context.aead,
                                                       secret: clientApplicationSecret, sealing: true)
        wire.records.readProtection = try RecordProtection(schedule: schedule, algorithm: context.aead,
                                                      secret: serverApplicationSecret, sealing: false)
        wire.records.acceptsCompatibilityCCS = false
        wire.records.acceptsUnprotectedAlerts = false
        let parameters = context.parameters
        negotiated = parameters
        state = .connected(ClientEstablished(schedule: schedule, aead: context.aead,
                                             clientTrafficSecret: clientApplicationSecret,
                                             serverTrafficSecret: serverApplicationSecret))
        events.append(.handshakeCompleted(parameters))
    }
}
