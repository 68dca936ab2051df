/// Reads one HTTP/1.1 response (RFC 9112) from bytes as they arrive and
/// reports when it is complete. It keeps the header block, bounded by
/// `maximumHeaderBytes`, and only counts body bytes.
///
/// The body length comes from Content-Length (RFC 9112 section 6.3 rule 5)
/// or, without one, from the end of the stream (rule 8), as with
/// `openssl s_server -www`.
/// NOTE: chunked transfer coding and 1xx interim responses are not handled;
/// such responses are counted as errors of kind `other`.
struct HTTPResponseReader {
    /// Largest status line plus header fields accepted.
    static let maximumHeaderBytes = 16 * 1024
    private static let headerTerminator: [UInt8] = Array("\r\n\r\n".utf8)

    private enum State {
        case header
        /// Body bytes still expected, or nil when the body ends with the stream.
        case body(remaining: Int?)
        case complete
    }

    private var state = State.header
    private var headerBytes: [UInt8] = []
    private(set) var statusCode: Int?
    private(set) var bodyBytesRead = 0

    var isComplete: Bool {
        if case .complete = state { return true }
        return false
    }

    /// Consumes bytes read from the connection. Returns true once the whole
    /// response has arrived; bytes after it are ignored.
    mutating func consume(_ bytes: UnsafeRawBufferPointer) throws(LoadFailure) -> Bool {
        switch state {
        case .complete:
            return true
        case .body:
            consumeBody(count: bytes.count)
        case .header:
            let searchStart = max(0, headerBytes.count - (Self.headerTerminator.count - 1))
            headerBytes.append(contentsOf: bytes)
            guard let end = Self.find(Self.headerTerminator, in: headerBytes, from: searchStart) else {
                if headerBytes.count > Self.maximumHeaderBytes {
                    throw LoadFailure(.other, "HTTP response header larger than \(Self.maximumHeaderBytes) bytes")
                }
                return false
            }
            let bodyStart = end + Self.headerTerminator.count
            let bodyCount = headerBytes.count - bodyStart
            headerBytes.removeSubrange(bodyStart...)
            try parseHeader()
            consumeBody(count: bodyCount)
        }
        return isComplete
    }

    /// Handles the end of the stream: complete when the body was delimited by
    /// it, an error when the response was cut short.
    mutating func finishAtEndOfStream() throws(LoadFailure) {
        switch state {
        case .complete:
            return
        case .body(remaining: nil):
            state = .complete
        case .body(let remaining?):
            throw LoadFailure(.other, "server closed the connection with \(remaining) body bytes missing")
        case .header:
            throw LoadFailure(.other, "server closed the connection before a complete HTTP response header")
        }
    }

    private mutating func consumeBody(count: Int) {
        guard case .body(let remaining) = state else { return }
        guard let remaining else {
            bodyBytesRead += count
            return
        }
        let taken = min(count, remaining)
        bodyBytesRead += taken
        state = taken == remaining ? .complete : .body(remaining: remaining - taken)
    }

    private mutating func parseHeader() throws(LoadFailure) {
        let text = String(decoding: headerBytes, as: UTF8.self)
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)
        guard let statusLine = lines.first else {
            throw LoadFailure(.other, "empty HTTP response header")
        }

        // status-line = HTTP-version SP status-code SP [ reason-phrase ]
        let fields = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/1."), fields[1].count == 3,
              let code = Int(fields[1]) else {
            throw LoadFailure(.other, "invalid HTTP status line '\(statusLine.prefix(80))'")
        }
        statusCode = code
        if code < 200 {
            throw LoadFailure(.other, "HTTP interim status \(code) is not supported")
        }
        if code >= 400 {
            throw LoadFailure(.other, "HTTP status \(code)")
        }

        var contentLength: Int?
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else {
                throw LoadFailure(.other, "invalid HTTP header field '\(line.prefix(80))'")
            }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
            if name == "transfer-encoding" {
                throw LoadFailure(.other, "HTTP Transfer-Encoding '\(value)' is not supported")
            }
            if name == "content-length" {
                guard !value.isEmpty, value.allSatisfy(\.isASCII), let length = Int(value), length >= 0 else {
                    throw LoadFailure(.other, "invalid HTTP Content-Length '\(value)'")
                }
                if let contentLength, contentLength != length {
                    throw LoadFailure(.other, "conflicting HTTP Content-Length values")
                }
                contentLength = length
            }
        }

        // 204 and 304 responses have no body (RFC 9112 section 6.3 rule 1).
        if code == 204 || code == 304 || contentLength == 0 {
            state = .complete
        } else {
            state = .body(remaining: contentLength)
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for index in start...(haystack.count - needle.count)
        where haystack[index..<(index + needle.count)].elementsEqual(needle) {
            return index
        }
        return nil
    }
}

extension Substring {
    /// Drops leading and trailing characters that are in `characters`.
    func trimmingCharacters(in characters: String) -> String {
        var slice = self[...]
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
