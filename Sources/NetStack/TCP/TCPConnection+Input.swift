import CapnetBase

/// Segment arrival, RFC 9293 §3.10.7.3 (SYN-SENT) and §3.10.7.4 (other states).
extension TCPConnection {
    /// Processes one segment for this connection. Replies (ACKs, challenge
    /// ACKs, RSTs) are sent through `sink` at once; data waits for `poll`.
    mutating func process<Sink: TCPSegmentSink>(_ segment: TCPHeaderRepr, payload: UnsafeRawBufferPointer,
                                                now: Instant, environment: inout TCPEnvironment, sink: inout Sink) {
        lastReceiveTime = now
        keepaliveProbesSent = 0
        if keepaliveEnabled { keepaliveDeadline = now + settings.keepaliveIdle }

        switch state {
        case .closed, .listen:
            environment.counters.count(.ignoredInState)
        case .synSent:
            processInSynSent(segment, payload: payload, now: now, environment: &environment, sink: &sink)
        default:
            processSynchronized(segment, payload: payload, now: now, environment: &environment, sink: &sink)
        }
    }

    // MARK: SYN-SENT (RFC 9293 §3.10.7.3)

    private mutating func processInSynSent<Sink: TCPSegmentSink>(_ segment: TCPHeaderRepr, payload: UnsafeRawBufferPointer,
                                                                 now: Instant, environment: inout TCPEnvironment,
                                                                 sink: inout Sink) {
        let flags = segment.flags

        // First: check the ACK bit. SND.UNA < SEG.ACK =< SND.NXT is acceptable.
        var ackAcceptable = false
        if flags.contains(.ack) {
            let ack = segment.acknowledgmentNumber
            if ack <= initialSendSequence || ack > sendMax {
                if !flags.contains(.rst) {
                    sendReset(sequence: ack, reason: .synSentBadAck, environment: &environment, sink: &sink)
                }
                environment.counters.count(.unacceptableAck)
                return
            }
            ackAcceptable = true
        }

        // Second: a RST is honoured only with an acceptable ACK (RFC 5961 §3.2 for SYN-SENT).
        if flags.contains(.rst) {
            if ackAcceptable {
                environment.counters.connectionsReset += 1
                enterClosed(error: .connectionRefused)
            } else {
                environment.counters.count(.ignoredInState)
            }
            return
        }

        // Fourth: the SYN.
        guard flags.contains(.syn) else {
            environment.counters.count(.ignoredInState)
            return
        }
        acceptSyn(segment, now: now)
        if ackAcceptable {
            // Our SYN is acknowledged: ESTABLISHED. The SYN-ACK's window is unscaled.
            sendUnacknowledged = segment.acknowledgmentNumber
            sendWindowUpdateAck = segment.acknowledgmentNumber
            synPending = false
            retransmitDeadline = nil
            takeRTTSample(segment, now: now)
            rtt.finishHandshake(synTimedOut: retransmitCount > 0)
            retransmitCount = 0
            state = .established
            ackNow = true
            let text = segment.sequenceNumber + Self.controlSequenceLength
            if payload.count > 0 { receiveText(sequence: text, payload: payload, now: now, environment: &environment) }
            if segment.flags.contains(.fin) { receiveFin(at: text + payload.count, now: now) }
        } else {
            // Simultaneous open (RFC 9293 §3.5 Figure 8): SYN-RECEIVED, resend our SYN with an ACK.
            state = .synReceived
            synPending = true
        }
    }

    // MARK: Synchronized states and SYN-RECEIVED (RFC 9293 §3.10.7.4)

    private mutating func processSynchronized<Sink: TCPSegmentSink>(_ segment: TCPHeaderRepr,
                                                                    payload: UnsafeRawBufferPointer, now: Instant,
                                                                    environment: inout TCPEnvironment,
                                                                    sink: inout Sink) {
        var segment = segment
        // Simultaneous open (RFC 9293 §3.5 Figure 8, line 6): the peer's SYN-ACK
        // repeats the SYN already taken; its ACK completes the handshake.
        if state == .synReceived && segment.flags.contains([.syn, .ack]) && segment.sequenceNumber == initialReceiveSequence
            && segment.acknowledgmentNumber == sendMax {
            segment.flags.remove(.syn)
            segment.sequenceNumber = segment.sequenceNumber + Self.controlSequenceLength
        }
        let flags = segment.flags
        let sequence = segment.sequenceNumber
        var segmentLength = payload.count + (flags.contains(.syn) ? 1 : 0) + (flags.contains(.fin) ? 1 : 0)

        // RFC 7323 §3.2: once negotiated, a non-RST segment without timestamps is dropped.
        if timestampsEnabled && segment.options.timestamps == nil && !flags.contains(.rst) {
            environment.counters.count(.missingTimestamp)
            return
        }

        // RFC 7323 §5.3 PAWS, before the sequence number check.
        if timestampsEnabled, let timestamps = segment.options.timestamps, !flags.contains(.rst) {
            let older = Int32(bitPattern: timestamps.value &- timestampRecent) < 0
            if older && now - timestampRecentTime <= Self.pawsIdleLimit {
                environment.counters.count(.pawsRejected)
                ackNow = true
                sendPendingAck(now: now, environment: &environment, sink: &sink)
                return
            }
        }

        let window = max(receiveAdvertisedEdge - receiveNext, 0)

        // Second check first for RSTs, as RFC 5961 §3.2 words it: exact match
        // resets, in-window gets a challenge ACK, outside is ignored.
        if flags.contains(.rst) {
            if sequence == receiveNext {
                resetByPeer(environment: &environment)
            } else if sequence.isIn(receiveNext, receiveNext + max(window, 1)) {
                environment.counters.count(.resetChallenged)
                sendChallengeAck(now: now, environment: &environment, sink: &sink)
            } else {
                environment.counters.count(.resetOutsideWindow)
            }
            return
        }

        // SYN-RECEIVED: a retransmitted SYN means our SYN-ACK was lost; send it again.
        if state == .synReceived && flags.contains(.syn) && !flags.contains(.ack) && sequence == initialReceiveSequence {
            environment.counters.count(.duplicateSyn)
            synPending = true
            return
        }

        // Fourth check (RFC 5961 §4.2): a SYN in a synchronized state gets a challenge ACK.
        if flags.contains(.syn) {
            environment.counters.count(.synChallenged)
            sendChallengeAck(now: now, environment: &environment, sink: &sink)
            return
        }

        // First check: sequence number acceptability (RFC 9293 §3.10.7.4 table).
        var acceptable: Bool
        if segmentLength == 0 {
            acceptable = window == 0 ? sequence == receiveNext : sequence.isIn(receiveNext, receiveNext + window)
        } else if window == 0 {
            acceptable = false
        } else {
            acceptable = sequence.isIn(receiveNext, receiveNext + window)
                || (sequence + segmentLength - 1).isIn(receiveNext, receiveNext + window)
        }
        // A zero window still takes ACKs: treat data at RCV.NXT as acceptable and trim it all.
        var zeroWindowData = false
        if !acceptable && window == 0 && sequence == receiveNext {
            acceptable = true
            zeroWindowData = true
        }
        if !acceptable {
            if state == .timeWait && flags.contains(.fin) {
                // RFC 9293 §3.10.7.4: a retransmitted FIN restarts the 2 MSL timeout.
                timeWaitDeadline = now + settings.timeWaitDuration
            }
            environment.counters.count(.outsideWindow)
            ackNow = true
            sendPendingAck(now: now, environment: &environment, sink: &sink)
            return
        }

        // RFC 7323 §4.3: update TS.Recent when the segment covers Last.ACK.sent.
        if timestampsEnabled, let timestamps = segment.options.timestamps, sequence <= lastAckSent {
            if Int32(bitPattern: timestamps.value &- timestampRecent) >= 0 || now - timestampRecentTime > Self.pawsIdleLimit {
                timestampRecent = timestamps.value
                timestampRecentTime = now
            }
        }

        // Fifth check: the ACK field.
        guard flags.contains(.ack) else {
            environment.counters.count(.missingAck)
            return
        }
        guard processAck(segment, payloadLength: payload.count, now: now, environment: &environment, sink: &sink) else {
            return
        }
        if state == .closed { return }

        // Sixth: the URG bit.
        // NOTE: urgent data is not supported; the urgent pointer is ignored and
        // urgent bytes are delivered in line with the rest of the stream.

        // Seventh: segment text, trimmed to the window.
        var textSequence = sequence
        var text = payload
        var hasFin = flags.contains(.fin)
        if zeroWindowData {
            text = UnsafeRawBufferPointer(start: nil, count: 0)
            hasFin = false
            if payload.count > 0 || flags.contains(.fin) {
                environment.counters.count(.beyondWindow)
                ackNow = true
            }
        }
        if textSequence < receiveNext {
            let skip = min(receiveNext - textSequence, text.count)
            text = UnsafeRawBufferPointer(rebasing: text[skip...])
            textSequence = textSequence + skip
        }
        let windowEdge = receiveNext + receiveBuffer.freeSpace
        if text.count > 0 && textSequence + text.count > windowEdge {
            let keep = max(windowEdge - textSequence, 0)
            text = UnsafeRawBufferPointer(rebasing: text[0..<keep])
            hasFin = false
            environment.counters.count(.beyondWindow)
        }
        segmentLength = text.count

        if text.count > 0 {
            if state.acceptsData {
                if socketClosed {
                    // The owner closed the socket and cannot read this data, so the
                    // connection is aborted (RFC 9293 §3.10.4).
                    abort(reason: .dataAfterClose)
                    return
                }
                receiveText(sequence: textSequence, payload: text, now: now, environment: &environment)
            } else {
                // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer already sent its FIN.
                environment.counters.count(.ignoredInState)
            }
        }

        // Eighth: the FIN bit.
        if hasFin {
            receiveFin(at: textSequence + text.count, now: now)
        }
    }

    /// RFC 9293 §3.10.7.4 second check, RST at RCV.NXT.
    private mutating func resetByPeer(environment: inout TCPEnvironment) {
        environment.counters.connectionsReset += 1
        switch state {
        case .synReceived:
            // A passive open's embryonic connection is dropped and its listener stays
            // (RFC 9293 "return to LISTEN"); an active open reports the refusal.
            enterClosed(error: .connectionRefused)
        case .closing, .lastAck, .timeWait:
            enterClosed(error: nil)
        default:
            enterClosed(error: .connectionReset)
        }
    }

    /// RFC 5961 §5.2 and RFC 9293 §3.10.7.4 fifth check. Returns false when
    /// processing of the segment stops.
    private mutating func processAck<Sink: TCPSegmentSink>(_ segment: TCPHeaderRepr, payloadLength: Int, now: Instant,
                                                           environment: inout TCPEnvironment, sink: inout Sink) -> Bool {
        let ack = segment.acknowledgmentNumber

        if state == .synReceived {
            guard ack > sendUnacknowledged && ack <= sendMax else {
                sendReset(sequence: ack, reason: .synReceivedBadAck, environment: &environment, sink: &sink)
                environment.counters.count(.unacceptableAck)
                return false
            }
            state = finQueued ? .finWait1 : .established
            synPending = false
            // The RTT sample, if any, comes with the ACK processing below and replaces this.
            rtt.finishHandshake(synTimedOut: retransmitCount > 0)
            retransmitCount = 0
            sendWindow = Int(segment.window) << Int(sendShift)
            maximumSendWindow = max(maximumSendWindow, sendWindow)
            sendWindowUpdateSequence = segment.sequenceNumber
            sendWindowUpdateAck = ack
        }

        // RFC 5961 §5.2: SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.MAX, else ACK and drop.
        let oldestAcceptable = sendUnacknowledged - max(maximumSendWindow, 1)
        if ack > sendMax || ack < oldestAcceptable {
            environment.counters.count(.unacceptableAck)
            sendChallengeAck(now: now, environment: &environment, sink: &sink)
            return false
        }

        let scaledWindow = Int(segment.window) << Int(sendShift)
        let windowChanged = scaledWindow != sendWindow
        let previousUnacknowledged = sendUnacknowledged

        var sacksNewData = false
        if sackEnabled && !segment.options.sackBlocks.isEmpty {
            sacksNewData = scoreboard.update(blocks: segment.options.sackBlocks, sendUnacknowledged: sendUnacknowledged,
                                             sendMax: sendMax)
        }

        if ack > sendUnacknowledged {
            acknowledge(upTo: ack, segment: segment, now: now, environment: &environment)
            // Holes may remain above the new SND.UNA.
            if sacksNewData && flightSize > 0 { onDuplicateAck(now: now, environment: &environment) }
        } else if ack == sendUnacknowledged && payloadLength == 0 && !segment.flags.contains(.fin)
                    && flightSize > 0 && !windowChanged && scaledWindow > 0 && persistDeadline == nil {
            // RFC 5681 §2 duplicate ACK. ACKs that reply to zero-window probes do not count.
            onDuplicateAck(now: now, environment: &environment)
        } else if ack == sendUnacknowledged && sacksNewData && flightSize > 0 {
            // RFC 6675 §2: with SACK, an ACK that SACKs new data counts as a duplicate
            // even when it carries data or a new window, as a peer that sends too does.
            onDuplicateAck(now: now, environment: &environment)
        }

        // RFC 9293 §3.10.7.4: update the send window from the newest segment.
        if sendUnacknowledged <= ack
            && (sendWindowUpdateSequence < segment.sequenceNumber
                || (sendWindowUpdateSequence == segment.sequenceNumber && sendWindowUpdateAck <= ack)) {
            sendWindow = scaledWindow
            sendWindowUpdateSequence = segment.sequenceNumber
            sendWindowUpdateAck = ack
            maximumSendWindow = max(maximumSendWindow, sendWindow)
        }
        updatePersistTimer(now: now)

        // State changes when our FIN is acknowledged.
        if finAcknowledged {
            switch state {
            case .finWait1:
                state = .finWait2
                armFinWait2Timer(now: now)
            case .closing:
                enterTimeWait(now: now)
            case .lastAck:
                enterClosed(error: nil)
                return false
            default:
                break
            }
        }
        if state == .timeWait && previousUnacknowledged == ack && segment.flags.contains(.fin) {
            // A retransmitted FIN: ACK it and restart the 2 MSL timer (RFC 9293 §3.10.7.4).
            timeWaitDeadline = now + settings.timeWaitDuration
        }
        return true
    }

    /// Handles an ACK of new data: frees the send buffer, samples the RTT,
    /// restarts the timer and grows the window or advances recovery.
    private mutating func acknowledge(upTo ack: TCPSeq, segment: TCPHeaderRepr, now: Instant,
                                      environment: inout TCPEnvironment) {
        // The SYN's sequence number is not data and does not grow the window.
        let synAcknowledged = sendUnacknowledged == initialSendSequence ? Self.controlSequenceLength : 0
        let ackedBytes = ack - sendUnacknowledged - synAcknowledged
        sendUnacknowledged = ack
        if sendNext < ack { sendNext = ack }
        let dataAcked = min(max(ack - sendBufferSequence, 0), sendBuffer.count)
        sendBuffer.consume(dataAcked)
        sendBufferSequence = sendBufferSequence + dataAcked
        bytesSent += UInt64(dataAcked)
        scoreboard.prune(below: ack)

        takeRTTSample(segment, now: now)

        // RFC 6298 §5.2 and §5.3.
        retransmitCount = 0
        tailLossProbeOutstanding = false
        if sendUnacknowledged == sendMax {
            retransmitDeadline = nil
            tailLossProbeDeadline = nil
        } else {
            retransmitDeadline = now + rtt.rto
            armTailLossProbe(now: now)
        }

        if inRecovery {
            if ack >= recoveryPoint {
                // Full ACK (RFC 6582 §3.2 step 6).
                inRecovery = false
                duplicateAcks = 0
                scoreboard.highRetransmitted = nil
                congestion.exitRecovery(flightSize: flightSize)
            } else if !sackEnabled {
                // Partial ACK (RFC 6582 §3.2 step 5): retransmit the next hole, deflate.
                retransmitFirstUnacknowledged = true
                congestion.deflate(by: ackedBytes)
                congestion.inflate(by: sendMSS)
            }
        } else {
            duplicateAcks = 0
            congestion.onAck(ackedBytes: ackedBytes, now: now, smoothedRTT: rtt.smoothedRTT)
        }
    }

    /// RFC 5681 §3.2 fast retransmit, RFC 6675 §5 entry with SACK.
    private mutating func onDuplicateAck(now: Instant, environment: inout TCPEnvironment) {
        duplicateAcks += 1
        if inRecovery {
            if !sackEnabled { congestion.inflate(by: sendMSS) }  // RFC 6582 §3.2 step 4
            return
        }
        let sackLoss = sackEnabled && scoreboard.lossBoundary(mss: sendMSS) != nil
        guard duplicateAcks >= TCPSackScoreboard.duplicateThreshold || sackLoss else { return }

        // RFC 6582 §3.2 step 2: no second reduction for losses from the
        // window that an earlier recovery or RTO already handled.
        guard sendUnacknowledged >= recoveryPoint else { return }
        environment.counters.fastRetransmits += 1
        inRecovery = true
        tailLossProbeDeadline = nil
        recoveryPoint = sendMax
        congestion.onCongestionEvent(flightSize: flightSize)
        if !sackEnabled {
            congestion.inflate(by: TCPSackScoreboard.duplicateThreshold * sendMSS)
        }
        retransmitFirstUnacknowledged = true
        rttTiming = nil
    }

    /// RTT from the timestamp echo (RFC 7323 §4.1) or from the one timed segment (Karn's rule).
    mutating func takeRTTSample(_ segment: TCPHeaderRepr, now: Instant) {
        if timestampsEnabled, let timestamps = segment.options.timestamps, timestamps.echoReply != 0 {
            let elapsed = Int64(Int32(bitPattern: timestampValue(now: now) &- timestamps.echoReply))
            if elapsed >= 0 {
                rtt.sample(.milliseconds(elapsed))
            }
            rttTiming = nil
            return
        }
        if let timing = rttTiming, segment.acknowledgmentNumber > timing.sequence {
            rtt.sample(now - timing.sent)
            rttTiming = nil
        }
    }

    /// RFC 9293 §3.8.6.1: arm the persist timer when data waits on a zero
    /// window (or a window too small to use) and nothing is in flight.
    mutating func updatePersistTimer(now: Instant) {
        let waiting = unsentBytes > 0 || (finQueued && !finSent)
        if waiting && sendWindow == 0 {
            retransmitDeadline = nil
            if persistDeadline == nil {
                persistDeadline = now + persistInterval
            }
        } else if sendWindow > 0 && persistDeadline != nil && (flightSize > 0 || !waiting) {
            // Data is moving again (or nothing waits): the persist timer ends. A small
            // window with nothing in flight keeps it as the SWS override timer.
            persistDeadline = nil
            persistBackoff = 0
            if sendMax > sendUnacknowledged && retransmitDeadline == nil { retransmitDeadline = now + rtt.rto }
        }
    }

    var persistInterval: Nanoseconds {
        let base = rtt.rto.value << Int64(min(persistBackoff, TCPRTTEstimator.maximumBackoff))
        return Nanoseconds(min(base, Self.maximumPersistInterval.value))
    }

    // MARK: Receiving text and FIN

    /// Stores in-window text (already trimmed to RCV.NXT..<edge) and decides when to ACK.
    mutating func receiveText(sequence: TCPSeq, payload: UnsafeRawBufferPointer, now: Instant,
                              environment: inout TCPEnvironment) {
        let offset = sequence - receiveNext
        if offset == 0 {
            receiveBuffer.write(payload, at: receiveBuffer.count)
            let hadHoles = !assembler.isEmpty
            let afterSegment = receiveNext + payload.count
            let newNext = assembler.advance(receiveNext: afterSegment)
            receiveBuffer.commit(newNext - receiveNext)
            bytesReceived += UInt64(newNext - receiveNext)
            receiveNext = newNext
            if let fin = pendingFinSequence, fin == receiveNext {
                pendingFinSequence = nil
                receiveFin(at: fin, now: now)
            }
            // RFC 5681 §4.2: ACK at once when a segment fills a hole; otherwise
            // ACK every second full-sized segment, or within the delayed-ACK timeout.
            unacknowledgedBytes += payload.count
            if hadHoles || unacknowledgedBytes >= 2 * receiveMSS {
                ackNow = true
            } else if delayedAckDeadline == nil {
                delayedAckDeadline = now + settings.delayedAckTimeout
            }
        } else {
            guard assembler.insert(left: sequence, right: sequence + payload.count) else {
                environment.counters.count(.outOfOrderLimit)
                ackNow = true
                return
            }
            receiveBuffer.write(payload, at: receiveBuffer.count + offset)
            // RFC 5681 §4.2: an out-of-order segment gets an immediate (duplicate) ACK with SACK blocks.
            ackNow = true
        }
    }

    /// RFC 9293 §3.10.7.4 eighth check. A FIN beyond a hole waits for the data before it.
    mutating func receiveFin(at sequence: TCPSeq, now: Instant) {
        guard sequence == receiveNext else {
            if sequence > receiveNext { pendingFinSequence = sequence }
            ackNow = true
            return
        }
        if !finReceived {
            finReceived = true
            receiveNext = receiveNext + Self.controlSequenceLength
        }
        ackNow = true
        switch state {
        case .synReceived, .established:
            state = .closeWait
        case .finWait1:
            if finAcknowledged { enterTimeWait(now: now) } else { state = .closing }
        case .finWait2:
            enterTimeWait(now: now)
        case .timeWait:
            timeWaitDeadline = now + settings.timeWaitDuration
        default:
            break
        }
    }
}
