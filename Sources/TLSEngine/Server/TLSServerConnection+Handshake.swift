/// The server handshake (RFC 8446 §2, §4): ClientHello in, the server flight
/// out, then the client Finished.
extension TLSServerConnection {
    /// The choices made from one ClientHello.
    struct Selection {
        var hello: ClientHello
        var cipherSuite: CipherSuite
        var group: NamedGroup
        /// The client's share for `group`, or `nil` when a HelloRetryRequest is needed.
        var clientShare: KeyShareEntry?
        var certifiedKey: CertifiedKey
        var signatureScheme: SignatureScheme
        var serverName: String?
        var applicationProtocol: String?
        var clientRecordSizeLimit: Int?
        var offersEarlyData: Bool
        /// Whether the client offers psk_dhe_ke (RFC 8446 §4.2.9), the only mode this server resumes with.
        var offersPSKWithDHE: Bool
        /// The accepted ticket and its index among the offered identities.
        var resumption: (index: Int, ticket: TicketState)?
    }

    func processClientHello(_ message: HandshakeReassembler.Message, retry: RetryContext?) throws {
        var selection = try select(ClientHello(body: message.body), retry: retry)
        wire.records.acceptsCompatibilityCCS = true

        guard let clientShare = selection.clientShare else {
            try sendHelloRetryRequest(selection, clientHello: message.encoded)
            return
        }
        selection.resumption = try acceptTicket(selection, clientHello: message.encoded, retry: retry)
        try sendServerFlight(selection, clientHello: message.encoded, clientShare: clientShare, retry: retry)
    }

    // MARK: Negotiation

    /// Applies RFC 8446 §4.1.1 negotiation to a ClientHello.
    private func select(_ hello: ClientHello, retry: RetryContext?) throws -> Selection {
        let extensions = hello.extensions

        // A client without supported_versions, or without 0x0304 in it, speaks TLS 1.2 or older.
        guard let versions = try extensions.clientSupportedVersions(), versions.contains(.tls13) else {
            throw TLSError(.protocolVersion, "client does not offer TLS 1.3")
        }
        guard hello.legacyCompressionMethods == [0] else {
            throw TLSError(.illegalParameter, "legacy_compression_methods is not exactly [null]")
        }

        guard let suite = configuration.cipherSuites.first(where: hello.cipherSuites.contains) else {
            throw TLSError(.handshakeFailure, "no common cipher suite among \(hello.cipherSuites.count) offered")
        }

        // RFC 8446 §9.2: a ClientHello without PSK must carry these three.
        guard let clientGroups = try extensions.supportedGroups() else {
            throw TLSError(.missingExtension, "ClientHello without supported_groups")
        }
        guard let shares = try extensions.clientKeyShares() else {
            throw TLSError(.missingExtension, "ClientHello without key_share")
        }
        guard let schemes = try extensions.signatureAlgorithms() else {
            throw TLSError(.missingExtension, "ClientHello without signature_algorithms")
        }
        var sharedGroups = Set<NamedGroup>()
        for share in shares {
            // RFC 8446 §4.2.8: one share per group, each for a group the client supports.
            guard sharedGroups.insert(share.group).inserted else {
                throw TLSError(.illegalParameter, "key_share repeats group \(share.group)")
            }
            guard clientGroups.contains(share.group) else {
                throw TLSError(.illegalParameter, "key_share for \(share.group), which supported_groups lacks")
            }
        }
        guard let group = configuration.groups.first(where: {
            clientGroups.contains($0) && KeyExchangePrivateKey.supportedGroups.contains($0)
        }) else {
            throw TLSError(.handshakeFailure, "no common group among \(clientGroups.count) offered")
        }
        let clientShare = shares.first { $0.group == group }

        if let retry {
            // RFC 8446 §4.1.2, §4.1.4: the second ClientHello must follow the HelloRetryRequest.
            guard suite == retry.cipherSuite else {
                throw TLSError(.illegalParameter, "second ClientHello changes the cipher suite choice")
            }
            guard shares.count == 1, shares[0].group == retry.group else {
                throw TLSError(.illegalParameter, "second ClientHello lacks exactly one share for \(retry.group)")
            }
            guard hello.legacySessionID == retry.legacySessionID else {
                throw TLSError(.illegalParameter, "second ClientHello changes legacy_session_id")
            }
            guard !extensions.contains(.earlyData) else {
                throw TLSError(.illegalParameter, "second ClientHello offers early_data")
            }
        }

        let serverName = try extensions.serverName()
        guard let certifiedKey = configuration.certificates.snapshot.select(serverName: serverName) else {
            throw TLSError(.unrecognizedName, "no certificate for server name \(serverName ?? "(none)") and no default")
        }
        guard let scheme = certifiedKey.key.algorithm.signatureSchemes.first(where: schemes.contains) else {
            throw TLSError(.handshakeFailure, "client accepts no signature scheme of a \(certifiedKey.key.algorithm) key")
        }

        var applicationProtocol: String?
        if let offered = try extensions.applicationProtocols(), !configuration.applicationProtocols.isEmpty {
            guard let chosen = configuration.applicationProtocols.first(where: { offered.contains(Array($0.utf8)) }) else {
                throw TLSError(.noApplicationProtocol, "client offers \(offered.count) ALPN protocols, none configured")
            }
            applicationProtocol = chosen
        }

        let recordSizeLimit = try extensions.recordSizeLimit()
        if let recordSizeLimit, recordSizeLimit < RecordLayer.minimumRecordSizeLimit {
            throw TLSError(.illegalParameter, "record_size_limit \(recordSizeLimit) below 64")
        }

        let modes = try extensions.pskKeyExchangeModes() ?? []
        return Selection(hello: hello, cipherSuite: suite, group: group, clientShare: clientShare,
                         certifiedKey: certifiedKey, signatureScheme: scheme, serverName: serverName,
                         applicationProtocol: applicationProtocol, clientRecordSizeLimit: recordSizeLimit,
                         offersEarlyData: extensions.contains(.earlyData),
                         offersPSKWithDHE: modes.contains(.pskDHEKE), resumption: nil)
    }

    // MARK: HelloRetryRequest

    private func sendHelloRetryRequest(_ selection: Selection, clientHello: [UInt8]) throws {
        // Safe: `select` returns only suites that have algorithms.
        let hash = selection.cipherSuite.algorithms!.hash
        let provider = configuration.provider

        // RFC 8446 §4.4.1: ClientHello1 enters the transcript as message_hash.
        let transcript = provider.makeTranscriptHash(hash)
        let messageHash = HandshakeHeader.encode(.messageHash, body: provider.hash(hash, clientHello))
        transcript.update(messageHash)

        var extensions = ExtensionList()
        extensions.append(.supportedVersions, [0x03, 0x04])
        extensions.append(.keyShare, [UInt8(selection.group.rawValue >> 8), UInt8(selection.group.rawValue & 0xFF)])
        let retry = ServerHello(random: ServerHello.helloRetryRequestRandom,
                                legacySessionIDEcho: selection.hello.legacySessionID,
                                cipherSuite: selection.cipherSuite, extensions: extensions)
        let encoded = HandshakeHeader.encode(.serverHello, body: retry.encodeBody())
        transcript.update(encoded)
        try wire.write(.handshake, encoded)

        // RFC 8446 §D.4: in compatibility mode the server sends one CCS after its first handshake message.
        let sendsCCS = !selection.hello.legacySessionID.isEmpty
        if sendsCCS { try wire.write(.changeCipherSpec, [0x01]) }

        // RFC 8446 §4.2.10: 0-RTT records sent before the retry are skipped.
        if selection.offersEarlyData {
            wire.records.skipsUnprotectedEarlyData = true
            wire.records.earlyDataSkipBudget = configuration.maxEarlyDataSkipped
        }
        Self.log.debug("sent HelloRetryRequest", "group=\(selection.group) suite=\(selection.cipherSuite)")
        state = .expectRetriedClientHello(RetryContext(transcript: transcript, transcriptPrefix: messageHash + encoded,
                                                       cipherSuite: selection.cipherSuite,
                                                       group: selection.group, sentCompatibilityCCS: sendsCCS,
                                                       legacySessionID: selection.hello.legacySessionID))
    }

    // MARK: Server flight

    private func sendServerFlight(_ selection: Selection, clientHello: [UInt8], clientShare: KeyShareEntry,
                                  retry: RetryContext?) throws {
        let (aead, hash) = selection.cipherSuite.algorithms!
        let provider = configuration.provider
        let schedule = KeySchedule(hash: hash, provider: provider)
        let clientRandom = selection.hello.random

        let transcript = retry?.transcript ?? provider.makeTranscriptHash(hash)
        transcript.update(clientHello)

        // Key exchange: a rejected peer value is illegal_parameter (RFC 8446 §4.2.8.1).
        let keyShare: KeyExchangePrivateKey
        do {
            keyShare = try KeyExchangePrivateKey(group: selection.group)
        } catch {
            throw TLSError(.internalError, "key share generation for \(selection.group) failed: \(error)")
        }
        let sharedSecret: [UInt8]
        do {
            sharedSecret = try keyShare.sharedSecret(peerPublicKey: clientShare.keyExchange)
        } catch {
            throw TLSError(.illegalParameter, "client key share for \(selection.group) rejected: \(error)")
        }

        // ServerHello, unprotected.
        var helloExtensions = ExtensionList()
        helloExtensions.append(.supportedVersions, [0x03, 0x04])
        var shareWriter = ByteWriter()
        KeyShareEntry(group: selection.group, keyExchange: keyShare.publicKeyBytes).write(to: &shareWriter)
        helloExtensions.append(.keyShare, shareWriter.bytes)
        if let resumption = selection.resumption {
            // RFC 8446 §4.2.11: selected_identity.
            helloExtensions.append(.preSharedKey, [UInt8(resumption.index >> 8), UInt8(resumption.index & 0xFF)])
        }
        let serverHello = ServerHello(random: provider.randomBytes(ClientHello.randomLength),
                                      legacySessionIDEcho: selection.hello.legacySessionID,
                                      cipherSuite: selection.cipherSuite, extensions: helloExtensions)
        let serverHelloBytes = HandshakeHeader.encode(.serverHello, body: serverHello.encodeBody())
        transcript.update(serverHelloBytes)
        try wire.write(.handshake, serverHelloBytes)
        if !selection.hello.legacySessionID.isEmpty && retry?.sentCompatibilityCCS != true {
            try wire.write(.changeCipherSpec, [0x01])
        }

        // Handshake secrets and keys (RFC 8446 §7.1).
        let earlySecret = schedule.earlySecret(preSharedKey: selection.resumption?.ticket.resumptionPSK)
        let handshakeSecret = schedule.handshakeSecret(earlySecret: earlySecret, sharedSecret: sharedSecret)
        let helloHash = transcript.current()
        let clientHandshakeSecret = schedule.deriveSecret(handshakeSecret, label: "c hs traffic", transcriptHash: helloHash)
        let serverHandshakeSecret = schedule.deriveSecret(handshakeSecret, label: "s hs traffic", transcriptHash: helloHash)
        logSecret("CLIENT_HANDSHAKE_TRAFFIC_SECRET", clientRandom: clientRandom, secret: clientHandshakeSecret)
        logSecret("SERVER_HANDSHAKE_TRAFFIC_SECRET", clientRandom: clientRandom, secret: serverHandshakeSecret)
        wire.records.writeProtection = try RecordProtection(schedule: schedule, algorithm: aead,
                                                       secret: serverHandshakeSecret, sealing: true)
        wire.records.readProtection = try RecordProtection(schedule: schedule, algorithm: aead,
                                                      secret: clientHandshakeSecret, sealing: false)
        wire.records.skipsUnprotectedEarlyData = false
        if selection.offersEarlyData && retry == nil {
            wire.records.earlyDataSkipBudget = configuration.maxEarlyDataSkipped
        }
        if let limit = selection.clientRecordSizeLimit {
            // RFC 8449 §4: the limit counts the inner content type byte in TLS 1.3.
            wire.records.sendInnerPlaintextLimit = min(limit, RecordLayer.maxPlaintextLength + 1)
            wire.records.receiveInnerPlaintextLimit = announcedRecordSizeLimit
        }

        // EncryptedExtensions, Certificate, CertificateVerify, Finished: one flight.
        var flight: [UInt8] = []
        func add(_ type: HandshakeType, _ body: [UInt8]) {
            let message = HandshakeHeader.encode(type, body: body)
            transcript.update(message)
            flight.append(contentsOf: message)
        }
        add(.encryptedExtensions, EncryptedExtensions(extensions: encryptedExtensions(selection)).encodeBody())
        // A resumed handshake authenticates through the PSK: no Certificate or CertificateVerify (RFC 8446 §2.2).
        if selection.resumption == nil {
            add(.certificate, CertificateMessage(chain: selection.certifiedKey.chain.certificates).encodeBody())
            let signedContent = CertificateVerify.signedContent(transcriptHash: transcript.current(), server: true)
            let signature: [UInt8]
            do {
                signature = try selection.certifiedKey.key.sign(selection.signatureScheme, message: signedContent,
                                                                purpose: .tlsServer, provider: provider)
            } catch {
                throw TLSError(.internalError, "signing CertificateVerify with \(selection.signatureScheme) failed: \(error)")
            }
            add(.certificateVerify, CertificateVerify(algorithm: selection.signatureScheme, signature: signature).encodeBody())
        }
        add(.finished, schedule.finishedVerifyData(baseKey: serverHandshakeSecret, transcriptHash: transcript.current()))
        try wire.write(.handshake, flight)

        // Application secrets come from the transcript through the server Finished.
        let masterSecret = schedule.masterSecret(handshakeSecret: handshakeSecret)
        let serverFinishedHash = transcript.current()
        let clientApplicationSecret = schedule.deriveSecret(masterSecret, label: "c ap traffic", transcriptHash: serverFinishedHash)
        let serverApplicationSecret = schedule.deriveSecret(masterSecret, label: "s ap traffic", transcriptHash: serverFinishedHash)
        let exporterSecret = schedule.deriveSecret(masterSecret, label: "exp master", transcriptHash: serverFinishedHash)
        logSecret("CLIENT_TRAFFIC_SECRET_0", clientRandom: clientRandom, secret: clientApplicationSecret)
        logSecret("SERVER_TRAFFIC_SECRET_0", clientRandom: clientRandom, secret: serverApplicationSecret)
        logSecret("EXPORTER_SECRET", clientRandom: clientRandom, secret: exporterSecret)
        wire.records.writeProtection = try RecordProtection(schedule: schedule, algorithm: aead,
                                                       secret: serverApplicationSecret, sealing: true)

        let parameters = NegotiatedParameters(cipherSuite: selection.cipherSuite, group: selection.group,
                                              signatureScheme: selection.resumption == nil ? selection.signatureScheme : nil,
                                              serverName: selection.serverName,
                                              applicationProtocol: selection.applicationProtocol,
                                              usedHelloRetryRequest: retry != nil, resumed: selection.resumption != nil)
        state = .expectFinished(AwaitingFinished(schedule: schedule, aead: aead, transcript: transcript,
                                                 clientHandshakeTrafficSecret: clientHandshakeSecret,
                                                 clientApplicationTrafficSecret: clientApplicationSecret,
                                                 serverApplicationTrafficSecret: serverApplicationSecret,
                                                 masterSecret: masterSecret, parameters: parameters,
                                                 clientAcceptsTickets: selection.offersPSKWithDHE))
    }

    /// The configured record_size_limit, kept within 64...2^14+1 as RFC 8449 §4 requires for TLS 1.3.
    var announcedRecordSizeLimit: Int {
        min(max(configuration.recordSizeLimit, RecordLayer.minimumRecordSizeLimit), RecordLayer.maxPlaintextLength + 1)
    }

    private func encryptedExtensions(_ selection: Selection) -> ExtensionList {
        var extensions = ExtensionList()
        if let protocolName = selection.applicationProtocol {
            var writer = ByteWriter()
            writer.writeNested(prefixBytes: 2) { $0.writeOpaque(prefixBytes: 1, Array(protocolName.utf8)) }
            extensions.append(.applicationLayerProtocolNegotiation, writer.bytes)
        }
        if selection.clientRecordSizeLimit != nil {
            let limit = UInt16(announcedRecordSizeLimit)
            extensions.append(.recordSizeLimit, [UInt8(limit >> 8), UInt8(limit & 0xFF)])
        }
        if selection.serverName != nil {
            // RFC 6066 §3: an empty server_name acknowledges that the name was used.
            extensions.append(.serverName, [])
        }
        return extensions
    }

    // MARK: Client Finished

    func processFinished(_ message: HandshakeReassembler.Message, awaiting: AwaitingFinished) throws {
        let finished = try Finished(body: message.body, hashLength: awaiting.schedule.hash.outputLength)
        let expected = awaiting.schedule.finishedVerifyData(baseKey: awaiting.clientHandshakeTrafficSecret,
                                                            transcriptHash: awaiting.transcript.current())
        guard constantTimeEqual(finished.verifyData, expected) else {
            throw TLSError(.decryptError, "client Finished verify_data does not match")
        }
        awaiting.transcript.update(message.encoded)
        let resumptionMasterSecret = awaiting.schedule.deriveSecret(awaiting.masterSecret, label: "res master",
                                                                    transcriptHash: awaiting.transcript.current())

        wire.records.readProtection = try RecordProtection(schedule: awaiting.schedule, algorithm: awaiting.aead,
                                                      secret: awaiting.clientApplicationTrafficSecret, sealing: false)
        wire.records.acceptsCompatibilityCCS = false
        wire.records.acceptsUnprotectedAlerts = false
        wire.records.earlyDataSkipBudget = 0
        state = .connected(Established(schedule: awaiting.schedule, aead: awaiting.aead,
                                       clientTrafficSecret: awaiting.clientApplicationTrafficSecret,
                                       serverTrafficSecret: awaiting.serverApplicationTrafficSecret,
                                       resumptionMasterSecret: resumptionMasterSecret))
        if awaiting.clientAcceptsTickets, let keys = configuration.sessionTickets {
            try sendSessionTicket(keys: keys, awaiting: awaiting, resumptionMasterSecret: resumptionMasterSecret)
        }
        Self.log.debug("handshake completed",
                       "suite=\(awaiting.parameters.cipherSuite) group=\(awaiting.parameters.group.map { "\($0)" } ?? "none") hrr=\(awaiting.parameters.usedHelloRetryRequest)")
        complete(awaiting.parameters)
    }
}
