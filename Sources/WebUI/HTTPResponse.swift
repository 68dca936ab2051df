// The response a handler returns: status, header fields and content. The
// connection adds the framing fields (Content-Length, Connection) and Date
// and Server when it serializes it.

public struct HTTPResponse: Hashable, Sendable, CustomStringConvertible {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Creates a response with a UTF-8 text body and its Content-Type.
    public static func text(_ text: String, status: HTTPStatus = .ok,
                            contentType: String = "text/plain; charset=utf-8") -> HTTPResponse
    {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: Array(text.utf8))
    }

    /// Creates the response the server sends for its own errors, with the
    /// reason phrase as a short plain-text body.
    public static func error(_ status: HTTPStatus) -> HTTPResponse {
        .text(status.reasonPhrase + "\n", status: status)
    }

    /// Whether the response carries the "close" connection option
    /// (RFC 9112 §9.6).
    public var requestsClose: Bool { headers.containsToken("close", in: "Connection") }

    public var description: String { "\(status) (\(body.count) bytes)" }
}
