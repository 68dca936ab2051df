// Parsed requests: the head (request line plus header section) and the
// complete request with its content.

/// The framing that delimits the request's content (RFC 9112 §6.3).
public enum BodyFraming: Hashable, Sendable {
    /// No Content-Length and no Transfer-Encoding: no content.
    case none
    case contentLength(Int)
    case chunked

    /// Whether the request announces content (for `Expect: 100-continue`).
    public var announcesContent: Bool {
        switch self {
        case .none: false
        case .contentLength(let n): n > 0
        case .chunked: true
        }
    }
}

/// The request line and header section, validated.
public struct HTTPRequestHead: Hashable, Sendable, CustomStringConvertible {
    public var method: HTTPMethod
    public var target: RequestTarget
    /// The request-target exactly as it appeared on the request line.
    public var rawTarget: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var framing: BodyFraming
    /// Whether the client allows the connection to persist after this
    /// exchange (RFC 9112 §9.3): HTTP/1.1 unless `Connection: close`;
    /// HTTP/1.0 only with `Connection: keep-alive`.
    public var keepAlive: Bool
    /// `Expect: 100-continue` on an HTTP/1.1 request (ignored for HTTP/1.0,
    /// RFC 9110 §10.1.1).
    public var expectsContinue: Bool

    public init(method: HTTPMethod, target: RequestTarget, rawTarget: String,
                version: HTTPVersion, headers: HTTPHeaders, framing: BodyFraming = .none,
                keepAlive: Bool = true, expectsContinue: Bool = false)
    {
        self.method = method
        self.target = target
        self.rawTarget = rawTarget
        self.version = version
        self.headers = headers
        self.framing = framing
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
    }

    /// The Host header value (nil when absent, possible for HTTP/1.0).
    public var host: String? { headers["Host"] }

    public var description: String { "\(method) \(rawTarget) \(version)" }
}

/// A complete request: head, content and (for chunked requests) trailers.
public struct HTTPRequest: Hashable, Sendable, CustomStringConvertible {
    public var head: HTTPRequestHead
    public var body: [UInt8]
    public var trailers: HTTPHeaders

    public init(head: HTTPRequestHead, body: [UInt8] = [], trailers: HTTPHeaders = HTTPHeaders()) {
        self.head = head
        self.body = body
        self.trailers = trailers
    }

    public var method: HTTPMethod { head.method }
    public var target: RequestTarget { head.target }
    public var version: HTTPVersion { head.version }
    public var headers: HTTPHeaders { head.headers }
    /// The raw (percent-encoded) path, nil for authority and asterisk forms.
    public var path: String? { head.target.path }
    /// The raw (percent-encoded) query, without "?".
    public var query: String? { head.target.query }

    public var description: String { head.description + " (\(body.count) bytes)" }
}
