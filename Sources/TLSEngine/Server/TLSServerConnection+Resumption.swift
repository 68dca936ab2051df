import CapnetBase

/// Session tickets and PSK resumption with (EC)DHE (RFC 8446 §2.2, §4.2.11, §4.6.1).
extension TLSServerConnection {
    /// The ticket nonce of the single ticket sent per connection.
    static let ticketNonce: [UInt8] = [0]

    /// Picks the first offered ticket that opens, is unexpired and matches the
    /// suite, and checks its binder. Returns `nil` for a full handshake.
    ///
    /// - Throws: `decrypt_error` when the chosen ticket's binder does not verify (RFC 8446 §4.2.11).
    func acceptTicket(_ selection: Selection, clientHello: [UInt8], retry: RetryContext?) throws
        -> (index: Int, ticket: TicketState)? {
        guard let keys = configuration.sessionTickets, selection.offersPSKWithDHE,
              let offered = try selection.hello.extensions.offeredPSKs() else { return nil }
        let now = keys.now
        for (index, identity) in offered.identities.enumerated() {
            guard let ticket = keys.open(identity.identity) else { continue }
            guard ticket.cipherSuite == selection.cipherSuite else { continue }
            let age = now - ticket.issuedAt
            guard age >= .zero, age < .seconds(Int64(ticket.lifetimeSeconds)) else { continue }

            let hash = selection.cipherSuite.algorithms!.hash
            let schedule = KeySchedule(hash: hash, provider: configuration.provider)
            let binderKey = schedule.binderKey(earlySecret: schedule.earlySecret(preSharedKey: ticket.resumptionPSK),
                                               external: false)
            // The binder covers the ClientHello up to, not including, the binders list.
            let truncated = Array(clientHello.dropLast(offered.bindersLength))
            let binderHash = configuration.provider.hash(hash, (retry?.transcriptPrefix ?? []) + truncated)
            let expected = schedule.finishedVerifyData(baseKey: binderKey, transcriptHash: binderHash)
            guard constantTimeEqual(expected, offered.binders[index]) else {
                throw TLSError(.decryptError, "PSK binder of identity \(index) does not verify")
            }
            Self.log.debug("resuming from a session ticket", "identity=\(index)")
            return (index, ticket)
        }
        return nil
    }

    /// Sends one NewSessionTicket after the handshake (RFC 8446 §4.6.1).
    func sendSessionTicket(keys: SessionTicketKeys, awaiting: AwaitingFinished, resumptionMasterSecret: [UInt8]) throws {
        let provider = configuration.provider
        let ageAddBytes = provider.randomBytes(4)
        let state = TicketState(
            cipherSuite: awaiting.parameters.cipherSuite,
            resumptionPSK: awaiting.schedule.resumptionPSK(resumptionMasterSecret: resumptionMasterSecret,
                                                           ticketNonce: Self.ticketNonce),
            ticketAgeAdd: ageAddBytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) },
            issuedAt: keys.now, lifetimeSeconds: keys.ticketLifetimeSeconds,
            applicationProtocol: awaiting.parameters.applicationProtocol)
        let ticket: [UInt8]
        do {
            ticket = try keys.seal(state)
        } catch {
            throw TLSError(.internalError, "sealing a session ticket failed: \(error)")
        }
        let message = NewSessionTicket(ticketLifetime: state.lifetimeSeconds, ticketAgeAdd: state.ticketAgeAdd,
                                       ticketNonce: Self.ticketNonce, ticket: ticket)
        try wire.write(.handshake, HandshakeHeader.encode(.newSessionTicket, body: message.encodeBody()))
    }
}
