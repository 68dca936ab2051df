import CapnetBase

/// LISTEN processing (RFC 9293 §3.10.7.2) with a bounded SYN queue and
/// SYN cookies (RFC 4987 §3.6) once the queue is full.
extension TCPLayer {
    /// The MSS values a cookie can carry in 3 bits; the largest not above the
    /// peer's MSS is used (common Ethernet, tunnel and jumbo values).
    static let cookieMSSTable: [UInt16] = [536, 1200, 1360, 1400, 1440, 1452, 1460, 8960]
    /// A cookie's 5-bit time slot counter ticks every 64 s.
    static let cookieSlotNanoseconds: Int64 = 64 * 1_000_000_000
    static let cookieSlotCount: UInt32 = 32
    /// A cookie is valid in its slot and the next one: 64 to 128 s.
    static let cookieMaximumAge: UInt32 = 1
    /// Cookie layout: slot (5 bits) | MSS index (3 bits) | keyed hash (24 bits).
    static let cookieSlotShift: UInt32 = 27
    static let cookieMSSShift: UInt32 = 24
    static let cookieHashMask: UInt32 = 0x00FF_FFFF
    static let cookieMSSMask: UInt32 = 0x7
    /// Low TSval bits that carry the peer's options in a cookie SYN-ACK:
    /// window scale (4 bits, 15 = none) and SACK-permitted (1 bit).
    static let cookieTimestampMask: UInt32 = 0x1F
    static let cookieNoWindowScale: UInt32 = 0xF
    static let cookieSackBit: UInt32 = 0x10
    /// The window of a cookie SYN-ACK: what a new connection's first buffer holds.
    static let cookieWindow = TCPRingBuffer.initialCapacity
    /// A quiet time after which the next cookie starts a new burst, so the
    /// notice that cookies are in use is logged once per burst, not per SYN.
    static let cookieBurstGap = Nanoseconds.seconds(10)

    func listenerReceive<Sink: TCPSegmentSink>(_ header: TCPHeaderRepr, payload: UnsafeRawBufferPointer,
                                               tuple: TCPFourTuple, now: Instant, sink: inout Sink) {
        let port = tuple.local.port
        guard let listener = listeners[port] else { return }
        let flags = header.flags

        // First: a RST to a listener is ignored.
        if flags.contains(.rst) {
            environment.counters.count(.listenerUnexpected)
            return
        }

        // Second: an ACK is either the last step of a cookie handshake or gets a RST.
        if flags.contains(.ack) {
            if !flags.contains(.syn), acceptCookie(header, payload: payload, tuple: tuple, now: now, sink: &sink) {
                return
            }
            environment.counters.count(.listenerUnexpected)
            sendStateless(TCPHeaderRepr(sourcePort: port, destinationPort: tuple.remote.port,
                                        sequenceNumber: header.acknowledgmentNumber, flags: .rst, window: 0),
                          sink: &sink)
            environment.counters.count(.listenerAck)
            return
        }

        // Third: a SYN.
        guard flags.contains(.syn) else {
            environment.counters.count(.listenerUnexpected)
            return
        }
        if listener.synQueueCount >= listener.synQueueLimit {
            if configuration.enableSynCookies {
                sendCookieSynAck(header, tuple: tuple, now: now, sink: &sink)
            } else {
                environment.counters.count(.synQueueFull)
            }
            return
        }
        guard entries.count < configuration.maximumConnections else {
            environment.counters.count(.connectionLimit)
            return
        }
        guard let connection = TCPConnection.passiveOpen(
            local: tuple.local, remote: tuple.remote, syn: header, configuration: configuration,
            initialSendSequence: initialSequenceNumber(tuple: tuple, now: now),
            timestampOffset: timestampOffset(tuple: tuple), now: now, budget: &environment.budget) else {
            environment.counters.count(.memoryLimit)
            return
        }
        environment.counters.passiveOpens += 1
        let id = insertConnection(connection, listenerPort: port, socketOwned: false, inSynQueue: true)
        entries[id]?.connection.transmit(now: now, environment: &environment, sink: &sink)
        afterEvent(id)
    }

    // MARK: SYN cookies

    func cookieSlot(now: Instant) -> UInt32 {
        UInt32(truncatingIfNeeded: now.nanoseconds / Self.cookieSlotNanoseconds) % Self.cookieSlotCount
    }

    func cookieHash(tuple: TCPFourTuple, slot: UInt32, peerSequence: TCPSeq) -> UInt32 {
        UInt32(truncatingIfNeeded: keyedHash(.synCookie, tuple: tuple, extra: peerSequence.rawValue, extra2: slot))
            & Self.cookieHashMask
    }

    /// Replies to a SYN without keeping state. The ISN encodes the time slot, the
    /// MSS and a keyed hash, and the TSval's low bits encode window scale and SACK.
    func sendCookieSynAck<Sink: TCPSegmentSink>(_ syn: TCPHeaderRepr, tuple: TCPFourTuple, now: Instant, sink: inout Sink) {
        let peerMSS = syn.options.maximumSegmentSize ?? UInt16(TCPConfiguration.defaultMSS)
        let mss = min(Int(peerMSS), configuration.announcedMSS)
        let mssIndex = Self.cookieMSSTable.lastIndex { Int($0) <= mss } ?? 0
        let slot = cookieSlot(now: now)
        let cookie = slot << Self.cookieSlotShift | UInt32(mssIndex) << Self.cookieMSSShift
            | cookieHash(tuple: tuple, slot: slot, peerSequence: syn.sequenceNumber)

        var options = TCPOptions(maximumSegmentSize: UInt16(clamping: configuration.announcedMSS))
        if configuration.enableTimestamps, let timestamps = syn.options.timestamps {
            var encoded = Self.cookieNoWindowScale
            if configuration.enableWindowScaling, let shift = syn.options.windowScale {
                encoded = UInt32(min(shift, TCPWindow.maximumShift))
                options.windowScale = configuration.receiveWindowShift
            }
            if configuration.enableSack && syn.options.sackPermitted {
                encoded |= Self.cookieSackBit
                options.sackPermitted = true
            }
            let clock = UInt32(truncatingIfNeeded: now.nanoseconds / 1_000_000) &+ timestampOffset(tuple: tuple)
            options.timestamps = TCPTimestamps(value: clock & ~Self.cookieTimestampMask | encoded,
                                               echoReply: timestamps.value)
        }
        let reply = TCPHeaderRepr(sourcePort: tuple.local.port, destinationPort: tuple.remote.port,
                                  sequenceNumber: TCPSeq(cookie), acknowledgmentNumber: syn.sequenceNumber + 1,
                                  flags: [.syn, .ack], window: UInt16(Self.cookieWindow), options: options)
        sendStateless(reply, sink: &sink)
        environment.counters.synCookiesSent += 1
        if let last = listeners[tuple.local.port]?.lastCookieSent, now - last < Self.cookieBurstGap {
            // Still the same burst: logged at its first cookie.
        } else {
            TCPCounters.log.notice("SYN queue full, answering SYNs with cookies",
                                   "port=\(tuple.local.port) syn_queue_limit=\(listeners[tuple.local.port]?.synQueueLimit ?? 0)")
        }
        listeners[tuple.local.port]?.lastCookieSent = now
    }

    /// Validates the ACK that completes a cookie handshake and creates the
    /// connection. Returns false when the ACK is not a valid cookie.
    func acceptCookie<Sink: TCPSegmentSink>(_ header: TCPHeaderRepr, payload: UnsafeRawBufferPointer,
                                            tuple: TCPFourTuple, now: Instant, sink: inout Sink) -> Bool {
        guard configuration.enableSynCookies, let lastSent = listeners[tuple.local.port]?.lastCookieSent,
              now - lastSent <= Nanoseconds(Self.cookieSlotNanoseconds * 2) else { return false }
        let cookie = (header.acknowledgmentNumber - 1).rawValue
        let slot = cookie >> Self.cookieSlotShift
        let age = (cookieSlot(now: now) &- slot) % Self.cookieSlotCount
        let peerSequence = header.sequenceNumber - 1
        guard age <= Self.cookieMaximumAge,
              cookie & Self.cookieHashMask == cookieHash(tuple: tuple, slot: slot, peerSequence: peerSequence) else {
            environment.counters.count(.invalidCookie)
            return false
        }
        guard entries.count < configuration.maximumConnections else {
            environment.counters.count(.connectionLimit)
            return true
        }
        // Rebuild the SYN the peer sent from what the cookie kept.
        let mssIndex = Int(cookie >> Self.cookieMSSShift & Self.cookieMSSMask)
        var options = TCPOptions(maximumSegmentSize: Self.cookieMSSTable[mssIndex])
        if let timestamps = header.options.timestamps, configuration.enableTimestamps {
            let encoded = timestamps.echoReply & Self.cookieTimestampMask
            let shift = encoded & Self.cookieNoWindowScale
            if shift != Self.cookieNoWindowScale { options.windowScale = UInt8(shift) }
            options.sackPermitted = encoded & Self.cookieSackBit != 0
            options.timestamps = TCPTimestamps(value: timestamps.value, echoReply: 0)
        }
        let syn = TCPHeaderRepr(sourcePort: header.sourcePort, destinationPort: header.destinationPort,
                                sequenceNumber: peerSequence, flags: .syn, window: header.window, options: options)
        guard var connection = TCPConnection.passiveOpen(
            local: tuple.local, remote: tuple.remote, syn: syn, configuration: configuration,
            initialSendSequence: TCPSeq(cookie), timestampOffset: timestampOffset(tuple: tuple), now: now,
            budget: &environment.budget) else {
            environment.counters.count(.memoryLimit)
            return true
        }
        connection.markSynAckSent(window: Self.cookieWindow)
        environment.counters.synCookiesValidated += 1
        environment.counters.passiveOpens += 1
        if isAcceptQueueFull(port: tuple.local.port) {
            // The cookie validates only while the peer's sequence number is its
            // ISN + 1, and its next segments move past that. So the connection
            // is kept in SYN-RECEIVED with this ACK dropped, as for a queued SYN:
            // the peer's retransmissions, or its ACK to our retransmitted
            // SYN-ACK, complete it once `accept` has made room.
            connection.retransmitDeadline = now + connection.rtt.rto
            _ = insertConnection(connection, listenerPort: tuple.local.port, socketOwned: false, inSynQueue: true)
            environment.counters.count(.acceptBacklogFull)
            return true
        }
        let id = insertConnection(connection, listenerPort: tuple.local.port, socketOwned: false, inSynQueue: true)
        entries[id]?.connection.process(header, payload: payload, now: now, environment: &environment, sink: &sink)
        entries[id]?.connection.transmit(now: now, environment: &environment, sink: &sink)
        afterEvent(id)
        return true
    }
}

extension TCPConnection {
    /// For a cookie connection: the SYN-ACK went out statelessly with `window`.
    mutating func markSynAckSent(window: Int) {
        synPending = false
        sendNext = initialSendSequence + Self.controlSequenceLength
        sendMax = sendNext
        receiveAdvertisedEdge = receiveNext + window
    }
}
