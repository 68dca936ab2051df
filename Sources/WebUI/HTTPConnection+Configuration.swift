// The bounds and timeouts of one HTTP connection.
import CapnetBase

extension HTTPConnection {
    public struct Configuration: Sendable {
        /// Size bounds on each request.
        public var limits: HTTPParserLimits
        /// Maximum time from the first byte of a request to its last. When it
        /// passes, the connection sends 408 Request Timeout and closes
        /// (RFC 9110 §15.5.9).
        public var requestTimeout: Nanoseconds
        /// Maximum time a persistent connection stays open with no request
        /// in progress and no response owed. When it passes, the connection
        /// closes without a response (RFC 9112 §9.8).
        public var idleTimeout: Nanoseconds
        /// Maximum requests received (or being received) and not yet responded to.
        /// At this bound the connection stops parsing pipelined requests
        /// until a response goes out, and `wantsInput` turns false.
        public var maxPipelinedRequests: Int
        /// Maximum unparsed bytes kept while parsing is paused at
        /// `maxPipelinedRequests`. Beyond it the connection stops reading,
        /// responds to the requests it has, and closes. The client retries
        /// the rest on a new connection (RFC 9112 §9.3.2).
        public var maxBufferedInput: Int
        /// The Server field value; nil sends none.
        public var serverName: String?
        /// Wall-clock mapping for the Date field. An origin server with a
        /// clock must send Date (RFC 9110 §6.6.1); nil sends none.
        public var dateClock: HTTPDateClock?
        /// Called with each request head before its content is read. A
        /// response returned here is sent in place of calling the owner and
        /// in place of `100 Continue`. When the request announces content,
        /// the connection then closes, because it has not read the content.
        public var screenHead: (@Sendable (HTTPRequestHead) -> HTTPResponse?)?

        public init(limits: HTTPParserLimits = HTTPParserLimits(),
                    requestTimeout: Nanoseconds = .seconds(30),
                    idleTimeout: Nanoseconds = .seconds(60),
                    maxPipelinedRequests: Int = 16,
                    maxBufferedInput: Int = 64 * 1024,
                    serverName: String? = "capnet",
                    dateClock: HTTPDateClock? = nil,
                    screenHead: (@Sendable (HTTPRequestHead) -> HTTPResponse?)? = nil)
        {
            self.limits = limits
            self.requestTimeout = requestTimeout
            self.idleTimeout = idleTimeout
            self.maxPipelinedRequests = maxPipelinedRequests
            self.maxBufferedInput = maxBufferedInput
            self.serverName = serverName
            self.dateClock = dateClock
            self.screenHead = screenHead
        }
    }

    /// Counters for metrics.
    public struct Statistics: Hashable, Sendable {
        /// Complete requests handed to the owner.
        public var requestsReceived = 0
        /// Final responses serialized, including the connection's own errors.
        public var responsesSent = 0
        /// Requests rejected by the parser (400, 413, 414, 417, 431, 501, 505).
        public var requestsRejected = 0
        /// Requests that timed out and got 408.
        public var requestTimeouts = 0
        /// Connections closed by the idle timeout.
        public var idleTimeouts = 0
        /// Times the connection stopped reading because pipelined input
        /// exceeded `maxBufferedInput`.
        public var inputOverflows = 0

        public init() {}
    }
}
