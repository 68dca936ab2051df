#if canImport(Glibc)
import Glibc
#endif
import CapnetBase
import Synchronization

/// Set by SIGINT: workers stop starting connections and finish the run.
let interruptRequested = Atomic<Bool>(false)

/// One thread's share of the run: its own event loop and sockets, driving
/// many connections at once.
final class LoadWorker {
    /// This worker's part of the run's limits.
    struct Share {
        var pacing: LoadOptions.Pacing
        /// Connections to start, or nil for no count limit.
        var count: Int?
    }

    /// Bytes read from TLS per call; responses are counted, not kept.
    static let readBufferSize = 16 * 1024
    /// Full handshakes tried to obtain a session ticket before giving up.
    static let primingAttempts = 3
    /// Maximum sleep in `epoll_wait`, so deadlines and the stop time are
    /// checked at least this often.
    static let pollIntervalMilliseconds: Int32 = 10

    private static let log = Logger(.tls)

    private let plan: ConnectionPlan
    private let share: Share
    private let duration: Nanoseconds
    private let resumes: Bool
    private let clock: any TimeSource
    let progress = LoadProgress()
    private(set) var statistics = LoadStatistics()

    private var loop: EventLoop
    /// Open connections by slot; a token carries the slot and a generation
    /// so that an event for a closed and reused slot is ignored.
    private var slots: [LoadConnection?] = []
    private var generations: [UInt32] = []
    private var freeSlots: [Int] = []
    private var openCount = 0
    /// The session every resumed connection of this thread offers.
    /// NOTE: one ticket is offered again and again, which servers with
    /// single-use tickets reject (RFC 8446 appendix C.4 recommends single
    /// use to clients); such runs show fewer sessions reused than handshakes.
    private var session: (any LoadTLSSession)?
    private let readBuffer: UnsafeMutableRawBufferPointer

    init(plan: ConnectionPlan, share: Share, duration: Nanoseconds, resumes: Bool,
         clock: any TimeSource) throws(LoadFailure) {
        self.plan = plan
        self.share = share
        self.duration = duration
        self.resumes = resumes
        self.clock = clock
        loop = try EventLoop()
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 1)
    }

    deinit { readBuffer.deallocate() }

    /// Runs the worker's share to the end: priming first in the resumed
    /// modes, then the measured phase until the count is reached or the
    /// duration has passed and every open connection has finished.
    func run() {
        if resumes {
            prime()
            guard session != nil else { return }
        }
        runMeasuredPhase()
    }

    // MARK: Phases

    private func prime() {
        for _ in 0..<Self.primingAttempts where session == nil && !interruptRequested.load(ordering: .relaxed) {
            let start = clock.now()
            open(resuming: nil, isPriming: true, scheduledAt: start)
            while openCount > 0 {
                pollOnce(until: start + plan.timeout + plan.timeout)
            }
        }
        if session == nil {
            Self.log.warning("no session ticket after \(Self.primingAttempts) full handshakes; this thread starts no resumed connections",
                             "failures=\(statistics.failureCount)")
        }
    }

    private func runMeasuredPhase() {
        let start = clock.now()
        let stopStartingAt = start + duration
        var started = 0
        statistics.measuredStart = start
        defer { statistics.measuredEnd = clock.now() }

        while true {
            let now = clock.now()
            let mayStart = now < stopStartingAt && !interruptRequested.load(ordering: .relaxed)
                && started < (share.count ?? .max)
            if !mayStart && openCount == 0 { break }

            if mayStart {
                switch share.pacing {
                case .concurrency(let limit):
                    // At most `limit` starts per pass, so connections that
                    // fail at once (a refused connect) cannot keep this loop
                    // from checking the time.
                    let free = max(limit - openCount, 0)
                    for _ in 0..<free where started < (share.count ?? .max) {
                        open(resuming: session, isPriming: false, scheduledAt: clock.now())
                        started += 1
                    }
                case .rate(let perSecond, let maxInFlight):
                    // Connection k is due at start + k / rate (open loop).
                    let elapsed = (now - start).seconds
                    let due = min(Int(elapsed * perSecond) + 1, share.count ?? .max)
                    while started < due {
                        let scheduled = start + Self.interval(count: started, perSecond: perSecond)
                        if openCount < maxInFlight {
                            open(resuming: session, isPriming: false, scheduledAt: scheduled)
                        } else {
                            statistics.missedStarts += 1
                        }
                        started += 1
                    }
                }
            }
            // A connection can finish inside `open` (a refused connect, or a
            // handshake done before the call returned). Its place is then free
            // at once, so the next pass must not wait for readiness first.
            var wakeUp = nextWakeUp(start: start, started: started)
            if case .concurrency(let limit) = share.pacing, mayStart, openCount < limit,
               started < (share.count ?? .max) {
                wakeUp = clock.now()
            }
            pollOnce(until: wakeUp)
        }
    }

    /// Returns when the next open-loop start is due, or one poll interval from now.
    private func nextWakeUp(start: Instant, started: Int) -> Instant {
        let interval = clock.now() + .milliseconds(Int64(Self.pollIntervalMilliseconds))
        guard case .rate(let perSecond, _) = share.pacing else { return interval }
        let next = start + Self.interval(count: started, perSecond: perSecond)
        return min(next, interval)
    }

    /// Returns the time `count` connections take at `perSecond` connections per second.
    private static func interval(count: Int, perSecond: Double) -> Nanoseconds {
        let nanosecondsPerSecond = 1e9
        return Nanoseconds(Int64(Double(count) / perSecond * nanosecondsPerSecond))
    }

    // MARK: Connections

    private func open(resuming: (any LoadTLSSession)?, isPriming: Bool, scheduledAt: Instant) {
        if !isPriming { statistics.connectionsStarted += 1 }
        let connection: LoadConnection
        do {
            connection = try LoadConnection(plan: plan, resuming: resuming, isPriming: isPriming,
                                            startedAt: scheduledAt)
        } catch {
            record(LoadConnection.Outcome(failure: error), isPriming: isPriming)
            return
        }

        connection.reportsNegotiated = statistics.negotiated == nil
        let slot = freeSlots.popLast() ?? appendSlot()
        slots[slot] = connection
        openCount += 1
        do {
            try loop.register(socket: connection.socket, token: token(slot: slot))
        } catch {
            release(slot: slot)
            record(connection.abort(error), isPriming: isPriming)
            return
        }
        // The connect may already have finished; try once without waiting.
        drive(slot: slot)
    }

    private func appendSlot() -> Int {
        slots.append(nil)
        generations.append(0)
        return slots.count - 1
    }

    private func token(slot: Int) -> UInt64 {
        UInt64(generations[slot]) << 32 | UInt64(slot)
    }

    private func release(slot: Int) {
        slots[slot] = nil
        generations[slot] &+= 1
        freeSlots.append(slot)
        openCount -= 1
    }

    private func drive(slot: Int) {
        guard let connection = slots[slot] else { return }
        guard let outcome = connection.advance(buffer: readBuffer) else { return }
        release(slot: slot)
        record(outcome, isPriming: connection.isPriming)
    }

    /// Waits for readiness until `deadline` at the latest, drives every
    /// ready connection and expires those past their own deadline.
    private func pollOnce(until deadline: Instant) {
        let remaining = deadline - clock.now()
        let milliseconds = max(0, min(Int64(Self.pollIntervalMilliseconds), remaining.value / 1_000_000))
        loop.wait(timeoutMilliseconds: Int32(milliseconds)) { token in
            let slot = Int(token & 0xFFFF_FFFF)
            let generation = UInt32(token >> 32)
            guard slot < slots.count, generations[slot] == generation else { return }
            drive(slot: slot)
        }
        expireOverdue(now: clock.now())
    }

    private func expireOverdue(now: Instant) {
        for slot in slots.indices {
            guard let connection = slots[slot], connection.deadline <= now else { continue }
            release(slot: slot)
            record(connection.expire(), isPriming: connection.isPriming)
        }
    }

    // MARK: Results

    private func record(_ outcome: LoadConnection.Outcome, isPriming: Bool) {
        if let failure = outcome.failure {
            statistics.failures[failure, default: 0] += 1
            progress.failures.add(1, ordering: .relaxed)
            return
        }
        if statistics.negotiated == nil { statistics.negotiated = outcome.negotiated }
        if isPriming {
            statistics.primingHandshakes += 1
            session = outcome.session
            return
        }

        if let latency = outcome.handshakeLatency {
            statistics.handshakes += 1
            statistics.handshakeLatency.record(latency.value)
            progress.handshakes.add(1, ordering: .relaxed)
        }
        if outcome.sessionWasReused { statistics.sessionsReused += 1 }
        if let latency = outcome.requestLatency {
            statistics.requests += 1
            statistics.requestLatency.record(latency.value)
            progress.requests.add(1, ordering: .relaxed)
        }
    }
}
