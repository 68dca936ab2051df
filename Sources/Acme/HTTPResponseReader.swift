import Foundation

/// Incremental reader of one HTTP/1.1 response (RFC 9112), for the ACME
/// transport on the userspace stack. Bytes arrive in any split; `receive`
/// reports when the response is complete. The body is framed by
/// Transfer-Encoding: chunked, Content-Length or the end of the stream, in
/// that order of precedence (RFC 9112 §6.3). Interim 1xx responses are
/// skipped.
struct HTTPResponseReader {
    /// Bounds on what one response may hold.
    struct Limits {
        /// The status line and every header field together.
        var maximumHeaderBytes = 32 * 1024
        var maximumHeaderFields = 100
        /// The decoded body.
        var maximumBodyBytes = ACMEClient.maxResponseBodyBytes
    }

    enum Failure: Error, Equatable, CustomStringConvertible {
        case malformedStatusLine(String)
        case malformedField(String)
        case headerTooLarge(limit: Int)
        case tooManyFields(limit: Int)
        case bodyTooLarge(limit: Int)
        case invalidContentLength(String)
        case malformedChunk(String)
        case truncated(String)

        var description: String {
            switch self {
            case .malformedStatusLine(let line): "malformed HTTP status line \"\(line)\""
            case .malformedField(let line): "malformed HTTP header field \"\(line)\""
            case .headerTooLarge(let limit): "HTTP response header exceeds \(limit) bytes"
            case .tooManyFields(let limit): "HTTP response has more than \(limit) header fields"
            case .bodyTooLarge(let limit): "HTTP response body exceeds \(limit) bytes"
            case .invalidContentLength(let value): "invalid Content-Length \"\(value)\""
            case .malformedChunk(let detail): "malformed chunked body: \(detail)"
            case .truncated(let detail): "connection closed before the response was complete: \(detail)"
            }
        }
    }

    private enum Phase {
        case statusLine
        case fields
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case complete
    }

    let limits: Limits
    /// HEAD responses carry header fields but never a body (RFC 9110 §9.3.2).
    let isHeadRequest: Bool
    private var phase = Phase.statusLine
    private var buffer: [UInt8] = []
    private var headerBytes = 0
    private(set) var status = 0
    private(set) var headers: [(name: String, value: String)] = []
    private(set) var body: [UInt8] = []

    init(isHeadRequest: Bool, limits: Limits = Limits()) {
        self.isHeadRequest = isHeadRequest
        self.limits = limits
    }

    var isComplete: Bool {
        if case .complete = phase { return true }
        return false
    }

    /// The parsed response; valid once `isComplete`.
    var response: ACMEHTTPResponse { ACMEHTTPResponse(status: status, headers: headers, body: body) }

    /// Consumes `bytes` and returns whether the response is complete. Bytes
    /// after the end of the response are ignored (the transport sends
    /// `Connection: close`).
    mutating func receive(_ bytes: [UInt8]) throws(Failure) -> Bool {
        buffer.append(contentsOf: bytes)
        var offset = 0
        defer { buffer.removeFirst(offset) }
        while true {
            switch phase {
            case .complete:
                return true
            case .statusLine, .fields, .chunkSize, .chunkDataEnd, .trailers:
                guard let lineEnd = Self.lineEnd(in: buffer, from: offset) else {
                    try checkPendingLine(length: buffer.count - offset)
                    return false
                }
                let line = buffer[offset..<lineEnd]
                offset = lineEnd + 2
                try handleLine(line)
            case .fixedBody(let remaining):
                let count = min(remaining, buffer.count - offset)
                try appendBody(buffer[offset..<(offset + count)])
                offset += count
                if remaining == count {
                    phase = .complete
                } else {
                    phase = .fixedBody(remaining: remaining - count)
                    return false
                }
            case .chunkData(let remaining):
                let count = min(remaining, buffer.count - offset)
                try appendBody(buffer[offset..<(offset + count)])
                offset += count
                if remaining == count {
                    phase = .chunkDataEnd
                } else {
                    phase = .chunkData(remaining: remaining - count)
                    return false
                }
            case .untilClose:
                try appendBody(buffer[offset...])
                offset = buffer.count
                return false
            }
        }
    }

    /// Reports the end of the stream: completes a close-delimited body,
    /// and fails for any other unfinished response.
    mutating func receiveEndOfStream() throws(Failure) {
        switch phase {
        case .complete:
            return
        case .untilClose:
            phase = .complete
        case .statusLine:
            throw .truncated("no status line received")
        default:
            throw .truncated("status \(status), \(body.count) body bytes so far")
        }
    }

    private mutating func handleLine(_ line: ArraySlice<UInt8>) throws(Failure) {
        switch phase {
        case .statusLine:
            headerBytes += line.count + 2
            try parseStatusLine(line)
            phase = .fields
        case .fields:
            headerBytes += line.count + 2
            guard headerBytes <= limits.maximumHeaderBytes else { throw .headerTooLarge(limit: limits.maximumHeaderBytes) }
            if line.isEmpty {
                try finishHeader()
            } else {
                try parseField(line)
            }
        case .chunkSize:
            phase = try Self.chunkSize(line).map { .chunkData(remaining: $0) } ?? .trailers
            if case .chunkData(let size) = phase {
                guard body.count + size <= limits.maximumBodyBytes else { throw .bodyTooLarge(limit: limits.maximumBodyBytes) }
            }
        case .chunkDataEnd:
            guard line.isEmpty else { throw .malformedChunk("chunk data not followed by CRLF") }
            phase = .chunkSize
        case .trailers:
            // Trailer fields are read and dropped (RFC 9112 §7.1.2).
            headerBytes += line.count + 2
            guard headerBytes <= limits.maximumHeaderBytes else { throw .headerTooLarge(limit: limits.maximumHeaderBytes) }
            if line.isEmpty { phase = .complete }
        default:
            break
        }
    }

    private mutating func parseStatusLine(_ line: ArraySlice<UInt8>) throws(Failure) {
        // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4)
        let text = String(decoding: line, as: UTF8.self)
        let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "HTTP/1.1" || parts[0] == "HTTP/1.0",
              parts[1].count == 3, let code = Int(parts[1]), (100...599).contains(code) else {
            throw .malformedStatusLine(String(text.prefix(80)))
        }
        status = code
    }

    private mutating func parseField(_ line: ArraySlice<UInt8>) throws(Failure) {
        // field-line = field-name ":" OWS field-value OWS (RFC 9112 §5); no
        // whitespace before the colon, and no obsolete line folding.
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
              line.first != UInt8(ascii: " "), line.first != UInt8(ascii: "\t"),
              line[line.startIndex..<colon].allSatisfy(Self.isTokenByte) else {
            throw .malformedField(String(decoding: line.prefix(80), as: UTF8.self))
        }
        guard headers.count < limits.maximumHeaderFields else { throw .tooManyFields(limit: limits.maximumHeaderFields) }
        let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self)
        let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingOptionalWhitespace()
        headers.append((name: name, value: value))
    }

    private mutating func finishHeader() throws(Failure) {
        if (100..<200).contains(status) {
            // An interim response; the final one follows (RFC 9110 §15.2).
            headers.removeAll()
            phase = .statusLine
            return
        }
        if isHeadRequest || status == 204 || status == 304 {
            phase = .complete
            return
        }
        let codings = response.headerValues("Transfer-Encoding").flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if !codings.isEmpty {
            guard codings.last == "chunked" else {
                // RFC 9112 §6.3 rule 4: a response whose final coding is not
                // chunked runs to the end of the stream.
                phase = .untilClose
                return
            }
            phase = .chunkSize
            return
        }
        let lengths = Set(response.headerValues("Content-Length").flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) })
        if let text = lengths.first {
            guard lengths.count == 1, let length = Int(text), length >= 0, text.allSatisfy(\.isASCII) else {
                throw .invalidContentLength(lengths.sorted().joined(separator: ","))
            }
            guard length <= limits.maximumBodyBytes else { throw .bodyTooLarge(limit: limits.maximumBodyBytes) }
            phase = length == 0 ? .complete : .fixedBody(remaining: length)
            return
        }
        phase = .untilClose
    }

    private mutating func appendBody(_ bytes: ArraySlice<UInt8>) throws(Failure) {
        guard body.count + bytes.count <= limits.maximumBodyBytes else { throw .bodyTooLarge(limit: limits.maximumBodyBytes) }
        body.append(contentsOf: bytes)
    }

    /// A line still waiting for its CRLF must stay within the header bound.
    private func checkPendingLine(length: Int) throws(Failure) {
        guard headerBytes + length <= limits.maximumHeaderBytes else {
            throw .headerTooLarge(limit: limits.maximumHeaderBytes)
        }
    }

    /// chunk-size [ chunk-ext ] (RFC 9112 §7.1); nil for the last chunk.
    private static func chunkSize(_ line: ArraySlice<UInt8>) throws(Failure) -> Int? {
        let digits = line.prefix { $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }
        guard !digits.isEmpty, digits.count <= 8,
              let size = Int(String(decoding: digits, as: UTF8.self), radix: 16) else {
            throw .malformedChunk("chunk size \"\(String(decoding: line.prefix(20), as: UTF8.self))\"")
        }
        return size == 0 ? nil : size
    }

    private static func lineEnd(in bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index + 1 < bytes.count {
            if bytes[index] == 0x0D && bytes[index + 1] == 0x0A { return index }
            index += 1
        }
        return nil
    }

    /// tchar of RFC 9110 §5.6.2.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}

extension String {
    /// Drops leading and trailing spaces and tabs (OWS, RFC 9110 §5.6.3).
    func trimmingOptionalWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
