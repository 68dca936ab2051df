import CapnetBase

/// The destination of the segments a connection builds. The TCP layer wraps
/// an `IPv4Output`, and tests collect segments in an array.
protocol TCPSegmentSink {
    /// Sends `header` followed by `first` then `second` (pieces of the send
    /// buffer). Returns false when the datagram was dropped locally.
    mutating func send(_ header: TCPHeaderRepr, first: UnsafeRawBufferPointer,
                       second: UnsafeRawBufferPointer) -> Bool
}

/// State shared by all connections of a layer: counters, the memory budget
/// and the RFC 5961 §7 challenge ACK limit.
struct TCPEnvironment {
    var counters = TCPCounters()
    var budget: TCPMemoryBudget
    let challengeAckLimit: Int
    private var challengeWindowStart = Instant.zero
    private var challengeAcksInWindow = 0

    /// RFC 5961 §7: the limit is per second.
    static let challengeAckInterval = Nanoseconds.seconds(1)

    init(budget: TCPMemoryBudget, challengeAckLimit: Int) {
        self.budget = budget
        self.challengeAckLimit = challengeAckLimit
    }

    /// Takes one challenge ACK from this second's allowance.
    mutating func allowChallengeAck(now: Instant) -> Bool {
        if now - challengeWindowStart >= Self.challengeAckInterval {
            challengeWindowStart = now
            challengeAcksInWindow = 0
        }
        guard challengeAcksInWindow < challengeAckLimit else { return false }
        challengeAcksInWindow += 1
        return true
    }
}

/// Parameters fixed when a connection is created.
struct TCPConnectionSettings {
    var announcedMSS: Int
    var receiveBufferSize: Int
    var sendBufferSize: Int
    var maximumOutOfOrderRanges: Int
    var receiveShift: UInt8
    var enableWindowScaling: Bool
    var enableTimestamps: Bool
    var enableSack: Bool
    var enableTailLossProbe: Bool
    var congestionControl: TCPCongestionControlAlgorithm
    var timeWaitDuration: Nanoseconds
    var synRetries: Int
    var dataRetries: Int
    var delayedAckTimeout: Nanoseconds
    var keepaliveIdle: Nanoseconds
    var keepaliveInterval: Nanoseconds
    var keepaliveProbes: Int
    var finWait2Timeout: Nanoseconds
    var initialRTO: Nanoseconds
    var maximumRTO: Nanoseconds

    static let maximumDelayedAck = Nanoseconds.milliseconds(500)

    init(_ configuration: TCPConfiguration) {
        announcedMSS = configuration.announcedMSS
        receiveBufferSize = configuration.receiveBufferSize
        sendBufferSize = configuration.sendBufferSize
        maximumOutOfOrderRanges = configuration.maximumOutOfOrderRanges
        receiveShift = configuration.receiveWindowShift
        enableWindowScaling = configuration.enableWindowScaling
        enableTimestamps = configuration.enableTimestamps
        enableSack = configuration.enableSack
        enableTailLossProbe = configuration.enableTailLossProbe
        congestionControl = configuration.congestionControl
        timeWaitDuration = configuration.maximumSegmentLifetime * 2
        synRetries = configuration.synRetries
        dataRetries = configuration.dataRetries
        // RFC 9293 §3.8.6.3: an ACK MUST NOT be delayed by more than 0.5 s.
        delayedAckTimeout = min(configuration.delayedAckTimeout, Self.maximumDelayedAck)
        keepaliveIdle = configuration.keepaliveIdle
        keepaliveInterval = configuration.keepaliveInterval
        keepaliveProbes = configuration.keepaliveProbes
        finWait2Timeout = configuration.finWait2Timeout
        initialRTO = configuration.initialRTO
        maximumRTO = configuration.maximumRTO
    }
}

/// One TCP connection as a sans-IO state machine (RFC 9293 §3.10).
///
/// Events come in as `process` (a segment), `poll` (time passed) and the
/// socket calls; segments go out through a `TCPSegmentSink`. The LISTEN
/// state lives in the layer, which creates a connection in SYN-RECEIVED.
struct TCPConnection {
    let local: IPv4Endpoint
    let remote: IPv4Endpoint
    let settings: TCPConnectionSettings
    var state: TCPState
    /// Set when the connection ended abnormally; reported to the socket.
    var error: TCPError?
    /// True for connections created by `connect` (RFC 9293 "active OPEN").
    let isActiveOpen: Bool

    // MARK: Send sequence space (RFC 9293 §3.3.1)

    let initialSendSequence: TCPSeq
    var sendUnacknowledged: TCPSeq
    var sendNext: TCPSeq
    /// The highest sequence number sent plus one; SND.NXT falls back below it after an RTO.
    var sendMax: TCPSeq
    /// SND.WND in bytes, already scaled.
    var sendWindow = 0
    var sendWindowUpdateSequence = TCPSeq(0)
    var sendWindowUpdateAck = TCPSeq(0)
    /// The largest window the peer offered (RFC 5961 §5.2 MAX.SND.WND, RFC 9293 §3.8.6.2.1).
    var maximumSendWindow = 0
    var sendBuffer: TCPRingBuffer
    /// The sequence number of the first byte in `sendBuffer`.
    var sendBufferSequence: TCPSeq
    /// The socket owner asked for a FIN after the queued data.
    var finQueued = false

    // MARK: Receive sequence space

    var initialReceiveSequence = TCPSeq(0)
    var receiveNext = TCPSeq(0)
    var receiveBuffer: TCPRingBuffer
    var assembler: TCPAssembler
    /// RCV.NXT + the window last advertised: the right edge promised to the peer.
    var receiveAdvertisedEdge = TCPSeq(0)
    /// A FIN seen beyond a hole (RFC 9293 §3.10.7.4 eighth check waits for the data before it).
    var pendingFinSequence: TCPSeq?
    var finReceived = false
    /// The ACK value of the last segment sent (RFC 7323 §4.3 Last.ACK.sent).
    var lastAckSent = TCPSeq(0)

    // MARK: Negotiated options

    /// The peer's MSS option, or 536 (RFC 9293 §3.7.1).
    var peerMSS = TCPConfiguration.defaultMSS
    /// Payload bytes per segment: min(peer MSS, our MTU's MSS) minus fixed options.
    var sendMSS = TCPConfiguration.defaultMSS
    var sendShift: UInt8 = 0
    var receiveShift: UInt8 = 0
    /// Both SYNs carried the window scale option (RFC 7323 §2.2).
    var windowScalingEnabled = false
    var timestampsEnabled = false
    /// RFC 7323 §4.3 TS.Recent and when it was set (for the 24-day PAWS rule of §5.5).
    var timestampRecent: UInt32 = 0
    var timestampRecentTime = Instant.zero
    /// RFC 7323 §5.4: a per-connection offset added to the TSval clock.
    let timestampOffset: UInt32
    var sackEnabled = false

    // MARK: Timers and recovery

    var rtt: TCPRTTEstimator
    /// Karn's rule (RFC 6298 §3): one segment timed at a time, never a retransmitted one.
    var rttTiming: (sequence: TCPSeq, sent: Instant)?
    var retransmitDeadline: Instant?
    var retransmitCount = 0
    var persistDeadline: Instant?
    /// RFC 8985 §7: when the tail loss probe is due, whether it is to be sent
    /// on the next transmit, and whether a probe waits for its ACK.
    var tailLossProbeDeadline: Instant?
    var tailLossProbePending = false
    var tailLossProbeOutstanding = false
    var persistBackoff = 0
    var delayedAckDeadline: Instant?
    var timeWaitDeadline: Instant?
    var finWait2Deadline: Instant?
    var keepaliveEnabled = false
    var keepaliveDeadline: Instant?
    var keepaliveProbesSent = 0
    var lastReceiveTime: Instant

    var congestion: TCPCongestionControl
    var duplicateAcks = 0
    var inRecovery = false
    /// RFC 6582 "recover": SND.MAX when recovery began.
    var recoveryPoint = TCPSeq(0)
    var scoreboard = TCPSackScoreboard()
    /// NewReno without SACK: retransmit SND.UNA on the next send.
    var retransmitFirstUnacknowledged = false

    // MARK: Pending output

    /// Send an ACK on the next `poll`.
    var ackNow = false
    /// Bytes received since the last ACK, for "ACK every second full segment".
    var unacknowledgedBytes = 0
    /// SYN or SYN-ACK waiting to be (re)sent.
    var synPending = false
    /// Send a zero-window probe or an SWS override segment on the next send.
    var probePending = false
    var keepaliveProbePending = false
    /// A RST to send once (abort), then the connection is CLOSED.
    var resetPending: TCPResetReason?

    // MARK: Socket-facing

    var noDelay = false
    /// `close` was called: received data is no longer wanted.
    var socketClosed = false
    var bytesReceived: UInt64 = 0
    /// `bytesReceived` when the receive buffer last grew.
    var bytesReceivedAtGrowth: UInt64 = 0
    var bytesSent: UInt64 = 0
    var segmentsRetransmitted: UInt64 = 0

    /// RFC 7323 §5.5: TS.Recent older than 24 days is no longer trusted.
    static let pawsIdleLimit = Nanoseconds.seconds(24 * 24 * 3600)
    /// Bytes a FIN or SYN occupies in sequence space.
    static let controlSequenceLength = 1
    /// RFC 9293 §3.8.6.1: persist interval doubles up to this.
    static let maximumPersistInterval = Nanoseconds.seconds(60)

    private init(local: IPv4Endpoint, remote: IPv4Endpoint, settings: TCPConnectionSettings, state: TCPState,
                 isActiveOpen: Bool, initialSendSequence: TCPSeq, timestampOffset: UInt32, now: Instant,
                 configuration: TCPConfiguration) {
        self.local = local
        self.remote = remote
        self.settings = settings
        self.state = state
        self.isActiveOpen = isActiveOpen
        self.initialSendSequence = initialSendSequence
        sendUnacknowledged = initialSendSequence
        sendNext = initialSendSequence
        sendMax = initialSendSequence
        sendBufferSequence = initialSendSequence + Self.controlSequenceLength
        sendBuffer = TCPRingBuffer(maximumCapacity: settings.sendBufferSize)
        receiveBuffer = TCPRingBuffer(maximumCapacity: settings.receiveBufferSize)
        assembler = TCPAssembler(maximumRanges: settings.maximumOutOfOrderRanges)
        self.timestampOffset = timestampOffset
        rtt = TCPRTTEstimator(configuration: configuration)
        congestion = TCPCongestionControl(algorithm: settings.congestionControl, mss: TCPConfiguration.defaultMSS)
        lastReceiveTime = now
        recoveryPoint = initialSendSequence
        synPending = true
    }

    /// RFC 9293 §3.10.1 active OPEN: the connection starts in SYN-SENT.
    static func activeOpen(local: IPv4Endpoint, remote: IPv4Endpoint, configuration: TCPConfiguration,
                           initialSendSequence: TCPSeq, timestampOffset: UInt32, now: Instant,
                           budget: inout TCPMemoryBudget) -> TCPConnection? {
        var connection = TCPConnection(local: local, remote: remote, settings: TCPConnectionSettings(configuration),
                                       state: .synSent, isActiveOpen: true, initialSendSequence: initialSendSequence,
                                       timestampOffset: timestampOffset, now: now, configuration: configuration)
        guard connection.receiveBuffer.grow(toAtLeast: TCPRingBuffer.initialCapacity, budget: &budget) else { return nil }
        connection.receiveShift = connection.settings.enableWindowScaling ? connection.settings.receiveShift : 0
        return connection
    }

    /// RFC 9293 §3.10.7.2: a SYN to a listener creates a connection in SYN-RECEIVED.
    static func passiveOpen(local: IPv4Endpoint, remote: IPv4Endpoint, syn: TCPHeaderRepr,
                            configuration: TCPConfiguration, initialSendSequence: TCPSeq, timestampOffset: UInt32,
                            now: Instant, budget: inout TCPMemoryBudget) -> TCPConnection? {
        var connection = TCPConnection(local: local, remote: remote, settings: TCPConnectionSettings(configuration),
                                       state: .synReceived, isActiveOpen: false,
                                       initialSendSequence: initialSendSequence,
                                       timestampOffset: timestampOffset, now: now, configuration: configuration)
        guard connection.receiveBuffer.grow(toAtLeast: TCPRingBuffer.initialCapacity, budget: &budget) else { return nil }
        connection.acceptSyn(syn, now: now)
        return connection
    }

    /// Records the peer's SYN: IRS, RCV.NXT and the options it offered (RFC 9293 §3.10.7.2–3).
    mutating func acceptSyn(_ syn: TCPHeaderRepr, now: Instant) {
        initialReceiveSequence = syn.sequenceNumber
        receiveNext = syn.sequenceNumber + Self.controlSequenceLength
        receiveAdvertisedEdge = receiveNext
        lastAckSent = receiveNext
        negotiateOptions(syn.options, now: now)
        // RFC 7323 §2.2: the window field of a SYN is never scaled.
        sendWindow = Int(syn.window)
        maximumSendWindow = sendWindow
        sendWindowUpdateSequence = syn.sequenceNumber
    }

    /// Applies the options of the peer's SYN or SYN-ACK.
    mutating func negotiateOptions(_ options: TCPOptions, now: Instant) {
        peerMSS = Int(options.maximumSegmentSize ?? UInt16(TCPConfiguration.defaultMSS))
        if settings.enableWindowScaling, let shift = options.windowScale {
            sendShift = min(shift, TCPWindow.maximumShift)
            receiveShift = settings.receiveShift
            windowScalingEnabled = true
        } else {
            windowScalingEnabled = false
            sendShift = 0
            receiveShift = 0
        }
        if settings.enableTimestamps, let timestamps = options.timestamps {
            timestampsEnabled = true
            timestampRecent = timestamps.value
            timestampRecentTime = now
        } else {
            timestampsEnabled = false
        }
        sackEnabled = settings.enableSack && options.sackPermitted
        // RFC 9293 §3.7.1: Eff.snd.MSS = min(SendMSS + 20, MMS_S) - TCPhdrsize,
        // where the header includes the timestamps option sent on every segment.
        sendMSS = min(peerMSS, settings.announcedMSS) - (timestampsEnabled ? Self.timestampOptionLength : 0)
        sendMSS = max(sendMSS, Self.minimumPayload)
        congestion = TCPCongestionControl(algorithm: settings.congestionControl, mss: sendMSS)
    }

    /// NOP NOP TS as sent on every segment (RFC 7323 Appendix A).
    static let timestampOptionLength = 12
    /// A floor for the MSS so a hostile MSS option of 0 cannot stall sending.
    static let minimumPayload = 64

    // MARK: Queries

    /// Bytes queued by the socket owner and not yet sent.
    var unsentBytes: Int { sendBuffer.count - (sendNext - sendBufferSequence) }
    /// Bytes in flight: sent and not acknowledged.
    var flightSize: Int { sendMax - sendUnacknowledged }
    /// Our FIN's sequence number, once it is queued.
    var finSequence: TCPSeq? { finQueued ? sendBufferSequence + sendBuffer.count : nil }
    var finSent: Bool {
        guard let fin = finSequence else { return false }
        return sendMax > fin
    }
    var finAcknowledged: Bool {
        guard let fin = finSequence else { return false }
        return sendUnacknowledged > fin
    }

    /// Our MSS less the timestamps option, for "full-sized segment" decisions.
    var receiveMSS: Int { settings.announcedMSS - (timestampsEnabled ? Self.timestampOptionLength : 0) }

    /// The earliest timer.
    var nextDeadline: Instant? {
        if ackNow || synPending || probePending || tailLossProbePending || resetPending != nil
            || keepaliveProbePending { return .zero }
        var earliest = Self.earlier(retransmitDeadline, persistDeadline)
        earliest = Self.earlier(earliest, tailLossProbeDeadline)
        earliest = Self.earlier(earliest, delayedAckDeadline)
        earliest = Self.earlier(earliest, timeWaitDeadline)
        earliest = Self.earlier(earliest, finWait2Deadline)
        return Self.earlier(earliest, keepaliveDeadline)
    }

    private static func earlier(_ a: Instant?, _ b: Instant?) -> Instant? {
        guard let a else { return b }
        guard let b else { return a }
        return min(a, b)
    }

    /// Returns the TSval clock: milliseconds (RFC 7323 §5.4 allows 1 ms to 1 s per tick) plus the offset.
    func timestampValue(now: Instant) -> UInt32 {
        UInt32(truncatingIfNeeded: now.nanoseconds / 1_000_000) &+ timestampOffset
    }

    // MARK: Socket operations

    /// Queues bytes for sending; returns how many fit (back-pressure).
    mutating func write(_ bytes: UnsafeRawBufferPointer, budget: inout TCPMemoryBudget) throws(TCPError) -> Int {
        if let error { throw error }
        if finQueued { throw .writeAfterShutdown }
        guard state.acceptsWrites else { throw .invalidState(state) }
        return sendBuffer.append(bytes, budget: &budget)
    }

    /// Space `write` would accept without growing past the send buffer size.
    var writableSpace: Int { settings.sendBufferSize - sendBuffer.count }

    var readableBytes: Int { receiveBuffer.count }

    /// Copies received bytes out; may open the window.
    mutating func read(into destination: UnsafeMutableRawBufferPointer) -> Int {
        let n = receiveBuffer.read(into: destination)
        if n > 0 { noteWindowOpened() }
        return n
    }

    /// Lends the readable bytes as one or two pieces; `body` returns how many it consumed.
    mutating func withReadableBytes(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Int) -> Int {
        let consumed = receiveBuffer.withBytes(offset: 0, length: receiveBuffer.count, body)
        let n = min(max(consumed, 0), receiveBuffer.count)
        receiveBuffer.consume(n)
        if n > 0 { noteWindowOpened() }
        return n
    }

    /// Sends a window update when reading opened the window by enough to
    /// matter (RFC 9293 §3.8.6.2.2: at least min(buffer / 2, MSS)).
    mutating func noteWindowOpened() {
        let potentialEdge = receiveNext + receiveBuffer.freeSpace
        let threshold = min(receiveBuffer.maximumCapacity / 2, receiveMSS)
        if state.isSynchronized && potentialEdge - receiveAdvertisedEdge >= threshold { ackNow = true }
    }

    /// RFC 9293 §3.10.4 CLOSE for the sending direction: queue a FIN after the data.
    mutating func shutdownWrite() {
        guard !finQueued else { return }
        switch state {
        case .synSent:
            enterClosed(error: nil)
        case .synReceived, .established:
            finQueued = true
            state = .finWait1
        case .closeWait:
            finQueued = true
            state = .lastAck
        default:
            break
        }
    }

    /// CLOSE from the socket owner: FIN after the data, or RST when received
    /// data is left unread (RFC 9293 §3.10.4 and RFC 2525 §2.17).
    mutating func close() {
        socketClosed = true
        if receiveBuffer.count > 0 && state.isSynchronized && state != .timeWait {
            abort(reason: .closedWithUnreadData)
            return
        }
        shutdownWrite()
        if state == .finWait2 { armFinWait2Timer(now: lastReceiveTime) }
    }

    /// RFC 9293 §3.10.5 ABORT: RST in synchronized states, then CLOSED.
    mutating func abort(reason: TCPResetReason = .userAbort) {
        switch state {
        case .synReceived, .established, .finWait1, .finWait2, .closeWait:
            resetPending = reason
        default:
            enterClosed(error: nil)
        }
        if error == nil { error = .aborted }
    }

    mutating func armFinWait2Timer(now: Instant) {
        if socketClosed && state == .finWait2 && finWait2Deadline == nil {
            finWait2Deadline = now + settings.finWait2Timeout
        }
    }

    /// Enters CLOSED and stops every timer; the layer removes the connection.
    mutating func enterClosed(error: TCPError?) {
        if let error, self.error == nil { self.error = error }
        state = .closed
        retransmitDeadline = nil
        persistDeadline = nil
        delayedAckDeadline = nil
        timeWaitDeadline = nil
        finWait2Deadline = nil
        keepaliveDeadline = nil
        ackNow = false
        synPending = false
        probePending = false
        keepaliveProbePending = false
    }

    mutating func enterTimeWait(now: Instant) {
        state = .timeWait
        retransmitDeadline = nil
        persistDeadline = nil
        finWait2Deadline = nil
        keepaliveDeadline = nil
        timeWaitDeadline = now + settings.timeWaitDuration
    }

    /// Frees both buffers' memory.
    mutating func releaseBuffers(budget: inout TCPMemoryBudget) {
        sendBuffer.release(budget: &budget)
        receiveBuffer.release(budget: &budget)
        assembler.removeAll()
    }
}
