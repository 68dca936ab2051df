// The pipeline of one connection: requests move from the parser into
// slots, and responses leave the slots strictly in request order.
import CapnetBase

extension HTTPConnection {
    /// Whether `100 Continue` is still owed to a request (RFC 9110 §10.1.1).
    enum ContinueState: Sendable {
        case notExpected
        /// Sent when the request reaches the front of the pipeline, so the
        /// interim response never overtakes an earlier final response. It is
        /// sent even when the content has already arrived (RFC 9110 §10.1.1
        /// allows omitting it then), so the bytes out do not depend on how
        /// the input was split into reads.
        case pending
        case sent
    }

    /// One request, from its head to its response.
    struct Slot: Sendable {
        let id: RequestID
        let isHEAD: Bool
        let isHTTP10: Bool
        /// The client allows the connection to persist (RFC 9112 §9.3).
        let clientKeepAlive: Bool
        var continueState: ContinueState
        /// The request's content has been read completely.
        var isComplete: Bool
        var response: HTTPResponse?
        /// The server closes after this response: set for its own errors.
        var closesConnection = false
    }

    /// Parsing pauses when a new request would exceed the pipeline bound; a
    /// request already in progress is always read to its end.
    var isPaused: Bool {
        guard isReading else { return false }
        let inProgress = slots.last.map { !$0.isComplete } ?? false
        return !inProgress && slots.count >= configuration.maxPipelinedRequests
    }

    /// Parses, flushes and updates timers until nothing more can happen.
    mutating func advance(now: Instant) {
        var progressed = true
        while progressed && !isClosed {
            progressed = parseAvailable()
            if flush(now: now) { progressed = true }
        }
        if !isClosed && !isReading && slots.isEmpty { close() }
        updateTimers(now: now)
    }

    /// Turns parser events into slots and ready requests. Returns whether
    /// any event was handled.
    private mutating func parseAvailable() -> Bool {
        var progressed = false
        while isReading && !isPaused, let event = parser.next() {
            progressed = true
            handle(event)
        }
        if isReading && !isPaused && inputEnded {
            // The parser needs bytes that will never come.
            if let last = slots.last, !last.isComplete { slots.removeLast() }
            Self.log.debug("peer ended input", "partial=\(parser.hasPartialRequest) pending=\(slots.count)")
            stopReading()
            progressed = true
        }
        return progressed
    }

    private mutating func handle(_ event: HTTPParserEvent) {
        switch event {
        case .head(let head):
            var slot = Slot(id: RequestID(rawValue: nextID), isHEAD: head.method == .HEAD,
                            isHTTP10: head.version < .http1_1, clientKeepAlive: head.keepAlive,
                            continueState: head.expectsContinue ? .pending : .notExpected,
                            isComplete: false)
            nextID += 1
            if let screen = configuration.screenHead, let response = screen(head) {
                slot.response = response
                slot.continueState = .notExpected
                if head.framing.announcesContent {
                    // The content was not read, so the next message boundary is unknown.
                    slot.closesConnection = true
                    slot.isComplete = true
                    slots.append(slot)
                    stopReading()
                    return
                }
            }
            slots.append(slot)

        case .request(let request):
            // Safe: every .request follows the .head that appended this slot.
            let index = slots.count - 1
            slots[index].isComplete = true
            requestStartedAt = nil
            if slots[index].response == nil {
                ready.append(IncomingRequest(id: slots[index].id, request: request))
                statistics.requestsReceived += 1
            }
            // RFC 9112 §9.6: process no further requests after "close".
            if !request.head.keepAlive { stopReading() }

        case .error(let error):
            Self.log.debug("rejected request", "status=\(error.status.code) reason=\(error.reason.rawValue)")
            statistics.requestsRejected += 1
            reject(with: .error(error.status))
        }
    }

    /// Responds to the request in progress with `response` (to a new one
    /// when no head has arrived yet), then stops reading and closes after it.
    mutating func reject(with response: HTTPResponse) {
        if let index = slots.indices.last, !slots[index].isComplete {
            slots[index].response = response
            slots[index].continueState = .notExpected
            slots[index].closesConnection = true
            slots[index].isComplete = true
        } else {
            var slot = Slot(id: RequestID(rawValue: nextID), isHEAD: false, isHTTP10: false,
                            clientKeepAlive: false, continueState: .notExpected, isComplete: true)
            nextID += 1
            slot.response = response
            slot.closesConnection = true
            slots.append(slot)
        }
        stopReading()
    }

    /// Serializes the responses at the front of the pipeline. Returns
    /// whether any slot left it.
    private mutating func flush(now: Instant) -> Bool {
        var removed = false
        while let first = slots.first {
            guard let response = first.response else {
                if first.continueState == .pending {
                    output.append(contentsOf: HTTPResponseSerializer.continueResponse)
                    slots[0].continueState = .sent
                }
                break
            }
            let closeAfter = first.closesConnection || !first.clientKeepAlive || response.requestsClose
                || (!isReading && slots.count == 1)
            let persistence: HTTPResponseSerializer.Persistence =
                closeAfter ? .close : (first.isHTTP10 ? .keepAlive : .implicit)
            HTTPResponseSerializer.serialize(response, isHEAD: first.isHEAD, persistence: persistence,
                                             date: configuration.dateClock?.date(at: now),
                                             server: configuration.serverName, into: &output)
            statistics.responsesSent += 1
            slots.removeFirst()
            removed = true
            if closeAfter {
                close()
                break
            }
        }
        return removed
    }

    mutating func stopReading() {
        isReading = false
        parser.discardBufferedInput()
    }

    mutating func close() {
        isClosed = true
        isReading = false
        parser.discardBufferedInput()
        slots.removeAll()
        ready.removeAll()
        requestStartedAt = nil
        idleSince = nil
    }

    /// Starts or stops the request and idle timers to match the state.
    private mutating func updateTimers(now: Instant) {
        guard !isClosed else { return }
        // While a 100 Continue waits behind earlier responses, the client is
        // waiting for the server, so the request timer does not run.
        let awaitingContinue = slots.last.map { !$0.isComplete && $0.continueState == .pending } ?? false
        let receiving = isReading && !isPaused && parser.hasPartialRequest && !awaitingContinue
        if !receiving {
            requestStartedAt = nil
        } else if requestStartedAt == nil {
            requestStartedAt = now
        }
        let idle = isReading && slots.isEmpty && !parser.hasPartialRequest
        if !idle {
            idleSince = nil
        } else if idleSince == nil {
            idleSince = now
        }
    }
}
