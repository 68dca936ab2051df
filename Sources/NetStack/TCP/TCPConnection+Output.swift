import CapnetBase

/// Timers and segment transmission: RFC 9293 §3.8, RFC 6298, RFC 5681,
/// RFC 6675, RFC 7323.
extension TCPConnection {
    /// Segments one `transmit` call sends at most, so a huge window cannot
    /// monopolise a loop turn; the next poll continues.
    static let maximumSegmentsPerTransmit = 256

    /// Runs due timers, then sends what the state, windows and timers allow.
    mutating func poll<Sink: TCPSegmentSink>(now: Instant, environment: inout TCPEnvironment, sink: inout Sink) {
        runTimers(now: now, environment: &environment)
        transmit(now: now, environment: &environment, sink: &sink)
    }

    // MARK: Timers

    mutating func runTimers(now: Instant, environment: inout TCPEnvironment) {
        if let deadline = retransmitDeadline, deadline <= now {
            retransmitDeadline = nil
            onRetransmitTimeout(now: now, environment: &environment)
        }
        if let deadline = tailLossProbeDeadline, deadline <= now {
            tailLossProbeDeadline = nil
            tailLossProbePending = true
        }
        if let deadline = persistDeadline, deadline <= now {
            // RFC 9293 §3.8.6.1: probe the zero window; the interval backs off.
            probePending = true
            persistBackoff += 1
            persistDeadline = now + persistInterval
        }
        if let deadline = delayedAckDeadline, deadline <= now {
            delayedAckDeadline = nil
            ackNow = true
        }
        if let deadline = timeWaitDeadline, deadline <= now {
            enterClosed(error: nil)
        }
        if let deadline = finWait2Deadline, deadline <= now {
            enterClosed(error: nil)
        }
        if let deadline = keepaliveDeadline, deadline <= now {
            // RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6.
            if keepaliveProbesSent >= settings.keepaliveProbes {
                environment.counters.connectionsReset += 1
                enterClosed(error: .timedOut)
            } else {
                keepaliveProbesSent += 1
                keepaliveProbePending = true
                keepaliveDeadline = now + settings.keepaliveInterval
            }
        }
    }

    /// RFC 6298 §5.4–5.7 with the RFC 5681 §3.1 loss window, going back to SND.UNA.
    mutating func onRetransmitTimeout(now: Instant, environment: inout TCPEnvironment) {
        retransmitCount += 1
        rtt.backOff()
        rttTiming = nil
        switch state {
        case .synSent, .synReceived:
            guard retransmitCount <= settings.synRetries else {
                environment.counters.connectionsReset += 1
                enterClosed(error: .timedOut)
                return
            }
            synPending = true
        case .closed, .listen, .timeWait:
            return
        default:
            guard retransmitCount <= settings.dataRetries else {
                environment.counters.connectionsReset += 1
                enterClosed(error: .timedOut)
                return
            }
            environment.counters.retransmissionTimeouts += 1
            tailLossProbeDeadline = nil
            tailLossProbePending = false
            tailLossProbeOutstanding = false
            congestion.onRetransmitTimeout(flightSize: flightSize)
            inRecovery = false
            recoveryPoint = sendMax
            duplicateAcks = 0
            retransmitFirstUnacknowledged = false
            // RFC 6675 §5.1 / RFC 2018 §8: the receiver may renege, so SACK state is discarded.
            scoreboard.reset()
            sendNext = sendUnacknowledged
        }
    }

    // MARK: Transmission

    mutating func transmit<Sink: TCPSegmentSink>(now: Instant, environment: inout TCPEnvironment, sink: inout Sink) {
        if let reason = resetPending {
            resetPending = nil
            let header = TCPHeaderRepr(sourcePort: local.port, destinationPort: remote.port, sequenceNumber: sendMax,
                                       acknowledgmentNumber: receiveNext, flags: [.rst, .ack], window: 0)
            emit(header, environment: &environment, sink: &sink)
            environment.counters.count(reason)
            enterClosed(error: nil)
            return
        }

        switch state {
        case .closed, .listen:
            return
        case .synSent:
            if synPending { sendSyn(now: now, environment: &environment, sink: &sink) }
            return
        case .synReceived:
            if synPending { sendSyn(now: now, environment: &environment, sink: &sink) }
            if ackNow { sendPendingAck(now: now, environment: &environment, sink: &sink) }
            return
        case .established, .finWait1, .closeWait, .closing, .lastAck:
            sendData(now: now, environment: &environment, sink: &sink)
        case .finWait2, .timeWait:
            break
        }

        if keepaliveProbePending {
            keepaliveProbePending = false
            // RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT - 1 provokes an ACK.
            let header = makeHeader(flags: .ack, sequence: sendUnacknowledged - 1, now: now, environment: &environment)
            emit(header, environment: &environment, sink: &sink)
        }
        sendPendingAck(now: now, environment: &environment, sink: &sink)
    }

    /// Sends a pure ACK if one is owed.
    mutating func sendPendingAck<Sink: TCPSegmentSink>(now: Instant, environment: inout TCPEnvironment, sink: inout Sink) {
        guard ackNow, state != .closed, state != .synSent else { return }
        // SND.MAX, not SND.NXT: after an RTO SND.NXT falls back, and an ACK carrying
        // that old number would fail the peer's sequence check (so its ACK field would
        // be ignored), which can deadlock two sides that both went back.
        let header = makeHeader(flags: .ack, sequence: sendMax, now: now, environment: &environment)
        emit(header, environment: &environment, sink: &sink)
    }

    /// RFC 5961 §7: an ACK <SEQ=SND.NXT><ACK=RCV.NXT>, rate-limited across the layer.
    mutating func sendChallengeAck<Sink: TCPSegmentSink>(now: Instant, environment: inout TCPEnvironment, sink: inout Sink) {
        guard environment.allowChallengeAck(now: now) else {
            environment.counters.count(.challengeAckRateLimited)
            return
        }
        environment.counters.challengeAcksSent += 1
        ackNow = true
        sendPendingAck(now: now, environment: &environment, sink: &sink)
    }

    /// A bare RST <SEQ=sequence><CTL=RST> (RFC 9293 §3.10.7.3 and §3.10.7.4).
    mutating func sendReset<Sink: TCPSegmentSink>(sequence: TCPSeq, reason: TCPResetReason,
                                                  environment: inout TCPEnvironment, sink: inout Sink) {
        let header = TCPHeaderRepr(sourcePort: local.port, destinationPort: remote.port, sequenceNumber: sequence,
                                   flags: .rst, window: 0)
        emit(header, environment: &environment, sink: &sink)
        environment.counters.count(reason)
    }

    /// SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED), first or retransmitted.
    private mutating func sendSyn<Sink: TCPSegmentSink>(now: Instant, environment: inout TCPEnvironment, sink: inout Sink) {
        synPending = false
        let isRetransmission = sendMax != initialSendSequence
        var options = TCPOptions(maximumSegmentSize: UInt16(clamping: settings.announcedMSS))
        var flags: TCPFlags = .syn
        var ack = TCPSeq(0)
        if state == .synSent {
            if settings.enableWindowScaling { options.windowScale = settings.receiveShift }
            options.sackPermitted = settings.enableSack
            if settings.enableTimestamps { options.timestamps = TCPTimestamps(value: timestampValue(now: now), echoReply: 0) }
        } else {
            flags.insert(.ack)
            ack = receiveNext
            // RFC 7323 §1.3 and RFC 2018 §2: options only when the peer's SYN offered them.
            if windowScalingEnabled { options.windowScale = receiveShift }
            options.sackPermitted = sackEnabled
            if timestampsEnabled {
                options.timestamps = TCPTimestamps(value: timestampValue(now: now), echoReply: timestampRecent)
            }
        }
        // RFC 7323 §2.2: the window in a SYN is not scaled.
        let window = UInt16(clamping: advertisableWindow(environment: &environment))
        let header = TCPHeaderRepr(sourcePort: local.port, destinationPort: remote.port,
                                   sequenceNumber: initialSendSequence, acknowledgmentNumber: ack,
                                   flags: flags, window: window, options: options)
        receiveAdvertisedEdge = TCPSeq.max(receiveAdvertisedEdge, receiveNext + Int(window))
        emit(header, environment: &environment, sink: &sink)
        if isRetransmission {
            environment.counters.retransmittedSegments += 1
            segmentsRetransmitted += 1
        } else if !timestampsEnabled && !(state == .synSent && settings.enableTimestamps) {
            rttTiming = (initialSendSequence, now)
        }
        sendNext = initialSendSequence + Self.controlSequenceLength
        sendMax = TCPSeq.max(sendMax, sendNext)
        if retransmitDeadline == nil { retransmitDeadline = now + rtt.rto }
    }

    /// The data-sending loop: recovery retransmissions, probes, then new data
    /// under Nagle and sender SWS avoidance (RFC 9293 §3.7.4, §3.8.6.2.1).
    private mutating func sendData<Sink: TCPSegmentSink>(now: Instant, environment: inout TCPEnvironment, sink: inout Sink) {
        let payloadLimit = max(sendMSS - sackOptionLength, TCPConnection.minimumPayload)

        if retransmitFirstUnacknowledged {
            retransmitFirstUnacknowledged = false
            let length = min(payloadLimit, dataEnd - sendUnacknowledged)
            sendSegment(at: sendUnacknowledged, length: max(length, 0), now: now, environment: &environment, sink: &sink)
            if sackEnabled {
                scoreboard.highRetransmitted = TCPSeq.max(scoreboard.highRetransmitted ?? sendUnacknowledged,
                                                          sendUnacknowledged + max(length, 1))
            }
        }

        if probePending {
            probePending = false
            sendProbe(now: now, environment: &environment, sink: &sink)
        }

        if tailLossProbePending {
            tailLossProbePending = false
            sendTailLossProbe(payloadLimit: payloadLimit, now: now, environment: &environment, sink: &sink)
        }

        var sent = 0
        var sentNewData = false
        while sent < Self.maximumSegmentsPerTransmit {
            let usable: Int
            if inRecovery && sackEnabled {
                // RFC 6675 §5 step (C): send while cwnd - pipe >= 1 SMSS.
                let pipe = scoreboard.pipe(sendUnacknowledged: sendUnacknowledged, sendMax: sendMax, mss: sendMSS)
                guard congestion.congestionWindow - pipe >= sendMSS else { break }
                if let (sequence, length) = scoreboard.nextLostSegment(sendUnacknowledged: sendUnacknowledged,
                                                                         mss: payloadLimit) {
                    sendSegment(at: sequence, length: min(length, dataEnd - sequence), now: now,
                                environment: &environment, sink: &sink)
                    scoreboard.highRetransmitted = sequence + max(length, 1)
                    sent += 1
                    continue
                }
                usable = min(congestion.congestionWindow - pipe, sendUnacknowledged + sendWindow - sendNext)
            } else {
                let inFlight = sendNext - sendUnacknowledged
                usable = min(sendWindow, congestion.congestionWindow) - inFlight
            }

            let available = max(dataEnd - sendNext, 0)
            let length = max(min(available, payloadLimit, usable), 0)
            // The FIN (at sequence dataEnd) goes with the segment that ends the data.
            let finNow = finQueued && sendNext <= dataEnd && sendNext + length == dataEnd
            if length == 0 && !finNow { break }

            // Nagle and SWS avoidance apply to new data only. Data sent before (going
            // back after an RTO) leaves at once, or a lost window update would stall it.
            if length > 0 && length < payloadLimit && sendNext >= sendMax {
                let windowLimited = length < available
                if windowLimited && length < maximumSendWindow / 2 {
                    // Sender SWS avoidance: wait for more window; the persist timer overrides.
                    armSmallWindowProbe(now: now)
                    break
                }
                let unacknowledged = sendNext > sendUnacknowledged
                if !windowLimited && !noDelay && unacknowledged && !finNow {
                    break  // Nagle (RFC 9293 §3.7.4): one small segment in flight at a time.
                }
            }
            let isNewData = sendNext >= sendMax
            sendSegment(at: sendNext, length: length, now: now, environment: &environment, sink: &sink)
            sent += 1
            if isNewData { sentNewData = true }
        }
        updatePersistTimer(now: now)
        // RFC 8985 §7.2: new data restarts the probe timer.
        if sentNewData { armTailLossProbe(now: now) }
    }

    /// RFC 8985 §7.2: schedules a tail loss probe at two smoothed RTTs (plus
    /// a worst-case delayed ACK when one segment is in flight), while data is
    /// in flight with SACK, outside recovery and with no probe unanswered.
    /// A probe that would come after the RTO is not scheduled.
    mutating func armTailLossProbe(now: Instant) {
        tailLossProbeDeadline = nil
        // Not while going back after an RTO (SND.NXT below SND.MAX): a probe
        // of the tail would skip the data being sent again.
        guard settings.enableTailLossProbe, sackEnabled, !tailLossProbeOutstanding, !inRecovery,
              retransmitCount == 0, persistDeadline == nil, sendMax > sendUnacknowledged, sendNext == sendMax,
              let smoothed = rtt.smoothedRTT, let retransmit = retransmitDeadline else { return }
        var timeout = Nanoseconds(max(2 * smoothed.value, TCPRTTEstimator.granularity.value))
        if flightSize <= sendMSS { timeout = timeout + Self.worstCaseDelayedAck }
        let deadline = now + timeout
        if deadline < retransmit { tailLossProbeDeadline = deadline }
    }

    /// WCDelAckT of RFC 8985 §7.2: the longest a receiver is expected to delay an ACK.
    static let worstCaseDelayedAck = Nanoseconds.milliseconds(200)

    /// RFC 8985 §7.3: one new segment if the peer's window takes it, else the
    /// last segment sent again. Either draws an ACK whose SACK blocks start
    /// fast recovery for a lost tail. The RTO restarts from the probe.
    // NOTE: §7.4's detection of a loss repaired by the probe alone (which
    // should reduce the congestion window) is not implemented.
    private mutating func sendTailLossProbe<Sink: TCPSegmentSink>(payloadLimit: Int, now: Instant,
                                                                  environment: inout TCPEnvironment,
                                                                  sink: inout Sink) {
        guard sendMax > sendUnacknowledged, sendNext == sendMax, !inRecovery else { return }
        let unsent = max(dataEnd - sendNext, 0)
        let length = min(unsent, payloadLimit)
        if length > 0 && sendWindow - (sendNext - sendUnacknowledged) >= length {
            sendSegment(at: sendNext, length: length, now: now, environment: &environment, sink: &sink)
        } else {
            // The last segment sent: data up to SND.MAX, with the FIN if it was sent.
            let end = TCPSeq.min(sendMax, dataEnd)
            let start = TCPSeq.max(sendUnacknowledged, end - payloadLimit)
            sendSegment(at: start, length: max(end - start, 0), now: now, environment: &environment, sink: &sink)
        }
        environment.counters.tailLossProbes += 1
        tailLossProbeOutstanding = true
        retransmitDeadline = now + rtt.rto
    }

    /// The sequence number just past the queued data.
    var dataEnd: TCPSeq { sendBufferSequence + sendBuffer.count }

    /// Option bytes the SACK blocks take on the next segment.
    var sackOptionLength: Int {
        guard sackEnabled, !assembler.isEmpty else { return 0 }
        let blocks = min(assembler.ranges.count, maximumSackBlocks)
        return 4 + 8 * blocks
    }

    /// RFC 2018 §3: 4 blocks fit in 40 option bytes, 3 alongside timestamps.
    var maximumSackBlocks: Int { timestampsEnabled ? 3 : 4 }

    /// Nothing in flight and the window too small to use: let the persist timer
    /// force a segment out (RFC 9293 §3.8.6.2.1 override timeout).
    private mutating func armSmallWindowProbe(now: Instant) {
        if sendNext == sendUnacknowledged && persistDeadline == nil {
            persistDeadline = now + persistInterval
        }
    }

    /// A zero-window probe: one byte at SND.UNA (RFC 9293 §3.8.6.1), or what a
    /// small window allows.
    private mutating func sendProbe<Sink: TCPSegmentSink>(now: Instant, environment: inout TCPEnvironment, sink: inout Sink) {
        let queued = dataEnd - sendUnacknowledged
        if queued > 0 {
            let length = max(min(queued, max(sendWindow, 1), sendMSS), 1)
            sendSegment(at: sendUnacknowledged, length: length, now: now, environment: &environment, sink: &sink,
                        isProbe: sendWindow == 0)
        } else if finQueued && !finAcknowledged {
            sendSegment(at: sendUnacknowledged, length: 0, now: now, environment: &environment, sink: &sink, isProbe: true)
        }
    }

    /// Sends `length` bytes from the send buffer at `sequence`, with FIN when
    /// it ends at the queued FIN.
    private mutating func sendSegment<Sink: TCPSegmentSink>(at sequence: TCPSeq, length: Int, now: Instant,
                                                            environment: inout TCPEnvironment, sink: inout Sink,
                                                            isProbe: Bool = false) {
        var flags: TCPFlags = .ack
        let end = sequence + length
        let withFin = finQueued && end == dataEnd
        if withFin { flags.insert(.fin) }
        if length > 0 && end == dataEnd { flags.insert(.psh) }
        let header = makeHeader(flags: flags, sequence: sequence, now: now, environment: &environment)

        let offset = sequence - sendBufferSequence
        let isRetransmission = sequence < sendMax
        var delivered = false
        sendBuffer.withBytes(offset: offset, length: length) { first, second in
            delivered = sink.send(header, first: first, second: second)
        }
        noteSent(header)
        environment.counters.segmentsSent += 1

        if isRetransmission {
            environment.counters.retransmittedSegments += 1
            segmentsRetransmitted += 1
            rttTiming = nil  // Karn's rule (RFC 6298 §3).
        } else if rttTiming == nil && !timestampsEnabled && length > 0 && delivered {
            rttTiming = (end - 1, now)
        }
        let newNext = end + (withFin ? Self.controlSequenceLength : 0)
        if newNext > sendNext { sendNext = newNext }
        if newNext > sendMax { sendMax = newNext }
        if !isProbe && retransmitDeadline == nil && persistDeadline == nil {
            retransmitDeadline = now + rtt.rto  // RFC 6298 §5.1
        }
    }

    /// Builds a header with the current ACK, window and options.
    mutating func makeHeader(flags: TCPFlags, sequence: TCPSeq, now: Instant,
                             environment: inout TCPEnvironment) -> TCPHeaderRepr {
        let window = advertisableWindow(environment: &environment)
        let field = min(window >> Int(receiveShift), Int(UInt16.max))
        receiveAdvertisedEdge = TCPSeq.max(receiveAdvertisedEdge, receiveNext + (field << Int(receiveShift)))

        var options = TCPOptions()
        if timestampsEnabled {
            options.timestamps = TCPTimestamps(value: timestampValue(now: now), echoReply: timestampRecent)
        }
        if sackEnabled && !assembler.isEmpty {
            options.sackBlocks = assembler.sackBlocks(limit: maximumSackBlocks)
        }
        return TCPHeaderRepr(sourcePort: local.port, destinationPort: remote.port, sequenceNumber: sequence,
                             acknowledgmentNumber: receiveNext, flags: flags, window: UInt16(field), options: options)
    }

    /// Receive window to offer: free space in the receive buffer (grown first
    /// while the budget allows), held back by receiver SWS avoidance
    /// (RFC 9293 §3.8.6.2.2). Never more than memory that exists.
    ///
    /// The buffer doubles when it is more than half full, or when a whole
    /// buffer's worth of data arrived since it last grew. A bulk flow that the
    /// application drains every turn never fills the buffer, yet its window
    /// still limits the peer's rate to window / RTT.
    mutating func advertisableWindow(environment: inout TCPEnvironment) -> Int {
        if receiveBuffer.capacity < receiveBuffer.maximumCapacity {
            let filling = receiveBuffer.freeSpace < receiveBuffer.capacity / 2 + receiveMSS
            let streaming = bytesReceived - bytesReceivedAtGrowth >= UInt64(max(receiveBuffer.capacity, 1))
            if filling || streaming,
               receiveBuffer.grow(toAtLeast: receiveBuffer.capacity * 2, budget: &environment.budget) {
                bytesReceivedAtGrowth = bytesReceived
            }
        }
        let free = receiveBuffer.freeSpace
        let newEdge = receiveNext + free
        let promised = max(receiveAdvertisedEdge - receiveNext, 0)
        let threshold = min(receiveBuffer.maximumCapacity / 2, receiveMSS)
        if newEdge - receiveAdvertisedEdge >= threshold || promised == 0 && free >= threshold {
            return free
        }
        return min(promised, free)
    }

    /// Sends through the sink with no payload.
    private mutating func emit<Sink: TCPSegmentSink>(_ header: TCPHeaderRepr, environment: inout TCPEnvironment,
                                                     sink: inout Sink) {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        _ = sink.send(header, first: empty, second: empty)
        environment.counters.segmentsSent += 1
        noteSent(header)
    }

    /// Any segment with ACK settles the owed ACK.
    private mutating func noteSent(_ header: TCPHeaderRepr) {
        guard header.flags.contains(.ack) else { return }
        ackNow = false
        delayedAckDeadline = nil
        unacknowledgedBytes = 0
        lastAckSent = header.acknowledgmentNumber
    }
}
