// Writes a response as HTTP/1.1 bytes (RFC 9112 §4 and §6): status line,
// fields, framing and content.
import CapnetBase

public enum HTTPResponseSerializer {
    /// The Connection field the serializer writes (RFC 9112 §9.3, §9.6).
    public enum Persistence: Hashable, Sendable {
        /// HTTP/1.1 persistence: no Connection field.
        case implicit
        /// `Connection: keep-alive`, which an HTTP/1.0 client needs to keep
        /// the connection open.
        case keepAlive
        /// `Connection: close`: the server closes after this response.
        case close
    }

    /// Fields that describe the connection or the message framing. The
    /// serializer writes them itself and drops a handler's copies.
    static let connectionFields = ["Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive"]

    private static let log = Logger(.http)

    /// Appends `response` to `output`.
    ///
    /// - `isHEAD`: the request was HEAD, so the content is left out. The
    ///   Content-Length still gives the size a GET would have sent
    ///   (RFC 9110 §9.3.2). A handler may set Content-Length itself on an
    ///   empty HEAD response.
    /// - `date` and `server` are added unless the response has its own.
    /// - 1xx, 204 and 304 responses get no content and no Content-Length
    ///   (RFC 9110 §8.6, §15.4.5).
    public static func serialize(_ response: HTTPResponse, isHEAD: Bool, persistence: Persistence,
                                 date: HTTPDate?, server: String?, into output: inout [UInt8])
    {
        let code = response.status.code
        output.append(contentsOf: "HTTP/1.1 \(code) ".utf8)
        output.append(contentsOf: response.status.reasonPhrase.utf8.filter(isFieldValueByte))
        output.append(contentsOf: crlf)

        if let date, !response.headers.contains("Date") {
            appendField("Date", date.imfFixdate, to: &output)
        }
        if let server, !response.headers.contains("Server") {
            appendField("Server", server, to: &output)
        }

        var dropped = 0
        for field in response.headers {
            if connectionFields.contains(where: { ASCII.caseInsensitiveEquals($0, field.name) }) { continue }
            guard isValidField(field) else {
                dropped += 1
                continue
            }
            appendField(field.name, field.value, to: &output)
        }
        if dropped > 0 {
            log.warning("dropped invalid response fields", "count=\(dropped) status=\(code)")
        }

        let hasContent = !(code < 200 || code == HTTPStatus.noContent.code || code == HTTPStatus.notModified.code)
        if hasContent {
            var length = response.body.count
            if isHEAD, response.body.isEmpty, let declared = response.headers["Content-Length"],
               !declared.isEmpty, declared.utf8.allSatisfy(ASCII.isDigit), let value = Int(declared)
            {
                length = value
            }
            appendField("Content-Length", String(length), to: &output)
        }

        switch persistence {
        case .implicit: break
        case .keepAlive: appendField("Connection", "keep-alive", to: &output)
        case .close: appendField("Connection", "close", to: &output)
        }
        output.append(contentsOf: crlf)

        if hasContent && !isHEAD { output.append(contentsOf: response.body) }
    }

    /// `HTTP/1.1 100 Continue` and an empty field section (RFC 9110 §15.2.1).
    public static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private static let crlf: [UInt8] = [ASCII.cr, ASCII.lf]

    private static func appendField(_ name: String, _ value: String, to output: inout [UInt8]) {
        output.append(contentsOf: name.utf8)
        output.append(contentsOf: ": ".utf8)
        output.append(contentsOf: value.utf8)
        output.append(contentsOf: crlf)
    }

    /// A token name and a value of visible characters, SP and HTAB only, so
    /// that no handler string can end a line early (response splitting).
    static func isValidField(_ field: HTTPField) -> Bool {
        !field.name.isEmpty && field.name.utf8.allSatisfy(ASCII.isTchar)
            && field.value.utf8.allSatisfy(isFieldValueByte)
    }

    private static func isFieldValueByte(_ b: UInt8) -> Bool {
        b == ASCII.sp || b == ASCII.htab || (b >= 0x21 && b != 0x7F)
    }
}
