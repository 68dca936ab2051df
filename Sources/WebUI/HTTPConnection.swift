// One HTTP/1.1 server connection as a sans-IO state machine. Received bytes
// and the current time go in. Complete requests, response bytes, a close
// decision and the next deadline come out. The owner moves the bytes over
// TCP or TLS and runs the handlers.
import CapnetBase

/// How the owner drives it:
/// 1. `receive(_:now:)` with each read, `receiveEndOfInput(now:)` at the
///    peer's FIN, and `handleTimeouts(now:)` when `nextDeadline` passes.
/// 2. Take requests with `nextRequest()`, in order, and supply each one
///    the response through `respond(to:with:now:)`, in any order.
/// 3. Send what `takeOutput()` returns. Responses come out strictly in
///    request order, each preceded by `100 Continue` when the request expects it.
/// 4. Once `isClosed` is true, send the remaining output and close the
///    transport. Stop reading while `wantsInput` is false.
public struct HTTPConnection: Sendable {
    /// Identifies a request on this connection; ids increase in request order.
    public struct RequestID: Hashable, Comparable, Sendable, CustomStringConvertible {
        public let rawValue: UInt64

        public static func < (lhs: RequestID, rhs: RequestID) -> Bool { lhs.rawValue < rhs.rawValue }
        public var description: String { "#\(rawValue)" }
    }

    /// A complete request waiting for the owner's response.
    public struct IncomingRequest: Sendable {
        public let id: RequestID
        public let request: HTTPRequest
    }

    public let configuration: Configuration
    public internal(set) var statistics = Statistics()
    /// True once nothing more will be produced: send the output, then close.
    public internal(set) var isClosed = false

    static let log = Logger(.http)

    var parser: HTTPRequestParser
    /// Requests received or being received and not yet responded to, in order.
    var slots: [Slot] = []
    var ready: [IncomingRequest] = []
    var output: [UInt8] = []
    var nextID: UInt64 = 0
    /// False once the connection stops parsing: after an error, a timeout,
    /// a request with `Connection: close`, or the end of input. It then
    /// closes as soon as every request it has received has its response sent.
    var isReading = true
    var inputEnded = false
    var requestStartedAt: Instant?
    var idleSince: Instant?

    public init(configuration: Configuration = Configuration(), now: Instant) {
        self.configuration = configuration
        parser = HTTPRequestParser(limits: configuration.limits)
        idleSince = now
    }

    // MARK: - Events in

    /// Feeds bytes read from the peer. Bytes arriving after the connection
    /// stopped reading are dropped.
    public mutating func receive<C: Collection>(_ bytes: C, now: Instant) where C.Element == UInt8 {
        handleTimeouts(now: now)
        guard !isClosed, isReading else { return }
        parser.append(bytes)
        if isPaused && parser.bufferedByteCount > configuration.maxBufferedInput {
            Self.log.debug("stopped reading: pipelined input over bound",
                           "buffered=\(parser.bufferedByteCount) max=\(configuration.maxBufferedInput)")
            statistics.inputOverflows += 1
            stopReading()
        }
        advance(now: now)
    }

    /// Records that the peer closed its sending side. Requests already
    /// received still get responses, but a partial request is dropped
    /// without one.
    public mutating func receiveEndOfInput(now: Instant) {
        inputEnded = true
        advance(now: now)
    }

    /// Supplies the response to request `id`. Responses may come in any
    /// order; each is sent once all earlier ones are. A status below 200 is a
    /// handler bug and is replaced by 500.
    public mutating func respond(to id: RequestID, with response: HTTPResponse, now: Instant) {
        guard let index = slots.firstIndex(where: { $0.id == id }), slots[index].response == nil else {
            Self.log.debug("ignored response: request not pending", "request=\(id)")
            return
        }
        var response = response
        if response.status.code < HTTPStatus.ok.code {
            Self.log.error("handler returned an interim status as final; sending 500",
                           "request=\(id) status=\(response.status.code)")
            response = .error(.internalServerError)
        }
        slots[index].response = response
        advance(now: now)
    }

    /// Takes every complete request and responds to it at once with
    /// `handler`, for owners whose handlers finish synchronously.
    public mutating func respondToRequests(now: Instant, with handler: (HTTPRequest) -> HTTPResponse) {
        while let incoming = nextRequest() {
            respond(to: incoming.id, with: handler(incoming.request), now: now)
        }
    }

    /// Runs the timer that is due at `now`: 408 and close for a request that
    /// took longer than `requestTimeout`, close for an idle connection.
    public mutating func handleTimeouts(now: Instant) {
        guard !isClosed else { return }
        if let start = requestStartedAt, now >= start + configuration.requestTimeout {
            Self.log.debug("request timed out; sending 408", "elapsed=\(now - start)")
            statistics.requestTimeouts += 1
            requestStartedAt = nil
            reject(with: .error(.requestTimeout))
            advance(now: now)
        } else if let since = idleSince, now >= since + configuration.idleTimeout {
            Self.log.debug("idle connection timed out; closing", "idle=\(now - since)")
            statistics.idleTimeouts += 1
            close()
        }
    }

    // MARK: - Actions out

    /// Returns the next complete request, in request order.
    public mutating func nextRequest() -> IncomingRequest? {
        ready.isEmpty ? nil : ready.removeFirst()
    }

    /// Takes the bytes to send, in order.
    public mutating func takeOutput() -> [UInt8] {
        defer { output = [] }
        return output
    }

    public var hasOutput: Bool { !output.isEmpty }

    /// Whether the owner should read more from the transport. False while
    /// pipelined requests are at `maxPipelinedRequests`, and once closing.
    public var wantsInput: Bool { !isClosed && isReading && !isPaused }

    /// When `handleTimeouts(now:)` must next run; nil when no timer is set.
    public var nextDeadline: Instant? {
        let request = requestStartedAt.map { $0 + configuration.requestTimeout }
        let idle = idleSince.map { $0 + configuration.idleTimeout }
        switch (request, idle) {
        case let (r?, i?): return min(r, i)
        case let (r?, nil): return r
        case let (nil, i?): return i
        case (nil, nil): return nil
        }
    }
}
