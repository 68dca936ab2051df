// An incremental HTTP/1.1 request parser (RFC 9112). Bytes go in through
// `append`, events come out of `next()`; any split of the same bytes gives
// the same events. Every check that can fail on a partial line is a pure
// size check on a prefix, made with the same limit the complete line is
// measured against, so the outcome never depends on where the bytes broke.

/// Size bounds on what one request may use. Each has a named status when
/// exceeded. Sizes of lines include their CRLF.
public struct HTTPParserLimits: Hashable, Sendable {
    /// Longest request line, CRLF included. Longer gives 414 URI Too Long
    /// when the request-target is the long part, 501 when the method is,
    /// else 400.
    public var maxRequestLineLength: Int
    /// Longest method token; longer gives 501 Not Implemented (RFC 9112 §3).
    public var maxMethodLength: Int
    /// Largest header section: every field line with its CRLF plus the
    /// empty line ending the section. Larger gives 431.
    public var maxHeaderSectionSize: Int
    /// Most field lines in the header section (and in the trailer section).
    /// More gives 431.
    public var maxHeaderCount: Int
    /// Largest request content (after removing chunked framing). Larger
    /// gives 413 Content Too Large, decided from Content-Length before any
    /// content is read, or as soon as a chunk size would exceed it.
    public var maxBodySize: Int
    /// Longest chunk-size line, chunk extensions and CRLF included. Longer
    /// gives 400.
    public var maxChunkLineLength: Int
    /// Largest trailer section (field lines and final CRLF). Larger gives 431.
    public var maxTrailerSectionSize: Int
    /// Empty lines (CRLF) ignored before a request line (RFC 9112 §2.2).
    /// More gives 400.
    public var maxLeadingEmptyLines: Int

    public init(maxRequestLineLength: Int = 8 * 1024, maxMethodLength: Int = 32,
                maxHeaderSectionSize: Int = 16 * 1024, maxHeaderCount: Int = 100,
                maxBodySize: Int = 1024 * 1024, maxChunkLineLength: Int = 1024,
                maxTrailerSectionSize: Int = 4 * 1024, maxLeadingEmptyLines: Int = 4)
    {
        self.maxRequestLineLength = maxRequestLineLength
        self.maxMethodLength = maxMethodLength
        self.maxHeaderSectionSize = maxHeaderSectionSize
        self.maxHeaderCount = maxHeaderCount
        self.maxBodySize = maxBodySize
        self.maxChunkLineLength = maxChunkLineLength
        self.maxTrailerSectionSize = maxTrailerSectionSize
        self.maxLeadingEmptyLines = maxLeadingEmptyLines
    }
}

/// Why a request was rejected, and with which status. After an error the
/// connection cannot find the next message boundary, so it always closes.
public struct HTTPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: String, Hashable, Sendable {
        // 400
        case bareLineFeed, bareCarriageReturn, tooManyEmptyLines
        case malformedRequestLine, invalidMethod, invalidVersion, invalidTarget
        case obsoleteLineFolding, missingColon, invalidFieldName, whitespaceBeforeColon
        case invalidFieldValue
        case missingHost, multipleHost, invalidHost
        case invalidContentLength, multipleContentLength
        case transferEncodingWithContentLength, transferEncodingInHTTP10, invalidTransferEncoding
        case invalidChunkSize, chunkLineTooLong, invalidChunkExtension, missingChunkTerminator
        // 413
        case contentTooLarge
        // 414
        case uriTooLong
        // 417
        case unsupportedExpectation
        // 431
        case headerSectionTooLarge, tooManyHeaderFields, trailerSectionTooLarge
        // 501
        case methodTooLong, unsupportedTransferCoding
        // 505
        case unsupportedVersion
    }

    public let reason: Reason

    public init(_ reason: Reason) { self.reason = reason }

    public var status: HTTPStatus {
        switch reason {
        case .contentTooLarge: .contentTooLarge
        case .uriTooLong: .uriTooLong
        case .unsupportedExpectation: .expectationFailed
        case .headerSectionTooLarge, .tooManyHeaderFields, .trailerSectionTooLarge:
            .requestHeaderFieldsTooLarge
        case .methodTooLong, .unsupportedTransferCoding: .notImplemented
        case .unsupportedVersion: .httpVersionNotSupported
        default: .badRequest
        }
    }

    public var description: String { "\(status.code) \(reason.rawValue)" }
}

/// What the parser produced.
public enum HTTPParserEvent: Hashable, Sendable {
    /// A request's head is complete and valid; its content (if any) follows.
    /// Always followed by `.request` or `.error` for the same request.
    case head(HTTPRequestHead)
    /// A complete request.
    case request(HTTPRequest)
    /// The request is invalid; the parser produces nothing more.
    case error(HTTPParseError)
}

public struct HTTPRequestParser: Sendable {
    public let limits: HTTPParserLimits

    private enum State: Sendable {
        case requestLine
        case headerFields
        case fixedBody(remaining: Int)
        case chunkSizeLine
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailerFields
        case complete
        case failed
    }

    private var buffer: [UInt8] = []
    /// Index of the first unconsumed byte in `buffer`.
    private var position = 0
    /// Where the search for the current line's LF resumes.
    private var scanFrom = 0
    private var state: State = .requestLine

    // The message in progress.
    private var emptyLines = 0
    private var method = HTTPMethod.GET
    private var target = RequestTarget.asterisk
    private var rawTarget = ""
    private var version = HTTPVersion.http1_1
    private var fields: [HTTPField] = []
    private var sectionBytes = 0
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var trailers: [HTTPField] = []

    public init(limits: HTTPParserLimits = HTTPParserLimits()) {
        self.limits = limits
    }

    /// Adds received bytes. Nothing is parsed until `next()`.
    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if position > 0 && (position == buffer.count || position >= 4096) {
            buffer.removeSubrange(0..<position)
            scanFrom = max(0, scanFrom - position)
            position = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received and not yet consumed by the parser.
    public var bufferedByteCount: Int { buffer.count - position }

    /// Whether part of a request has been received: buffered bytes, or a
    /// request started and not yet complete. False between messages.
    public var hasPartialRequest: Bool {
        switch state {
        case .requestLine: return position < buffer.count
        case .failed: return false
        default: return true
        }
    }

    /// Whether the parser stopped at an error.
    public var hasFailed: Bool {
        if case .failed = state { return true }
        return false
    }

    /// Drops every buffered byte (used when the connection stops reading).
    public mutating func discardBufferedInput() {
        buffer.removeAll()
        position = 0
        scanFrom = 0
    }

    /// Parses as far as the buffered bytes allow and returns the next event,
    /// or nil when more bytes are needed (or after an error).
    public mutating func next() -> HTTPParserEvent? {
        while true {
            switch state {
            case .failed:
                return nil

            case .complete:
                let request = HTTPRequest(head: head!, body: body, trailers: HTTPHeaders(trailers))
                resetMessage()
                state = .requestLine
                return .request(request)

            case .requestLine:
                switch readLine(limit: limits.maxRequestLineLength) {
                case .needMore:
                    return nil
                case .tooLong:
                    return fail(classifyLongRequestLine())
                case .line(let range):
                    guard let content = lineContent(range) else { return fail(lineError(range)) }
                    if content.isEmpty {
                        emptyLines += 1
                        if emptyLines > limits.maxLeadingEmptyLines { return fail(.tooManyEmptyLines) }
                        continue
                    }
                    if let error = parseRequestLine(content) { return fail(error) }
                    state = .headerFields
                    sectionBytes = 0
                }

            case .headerFields:
                switch readLine(limit: limits.maxHeaderSectionSize - sectionBytes) {
                case .needMore:
                    return nil
                case .tooLong:
                    return fail(.headerSectionTooLarge)
                case .line(let range):
                    sectionBytes += range.count + 1
                    guard let content = lineContent(range) else { return fail(lineError(range)) }
                    if content.isEmpty {
                        switch validateHead() {
                        case .failure(let error):
                            return fail(error.reason)
                        case .success(let validated):
                            head = validated
                            switch validated.framing {
                            case .none, .contentLength(0): state = .complete
                            case .contentLength(let n):
                                body.reserveCapacity(n)
                                state = .fixedBody(remaining: n)
                            case .chunked: state = .chunkSizeLine
                            }
                            return .head(validated)
                        }
                    }
                    if fields.count >= limits.maxHeaderCount { return fail(.tooManyHeaderFields) }
                    switch parseFieldLine(content) {
                    case .failure(let error): return fail(error.reason)
                    case .success(let field): fields.append(field)
                    }
                }

            case .fixedBody(let remaining):
                let n = min(remaining, buffer.count - position)
                if n == 0 { return nil }
                body.append(contentsOf: buffer[position..<(position + n)])
                position += n
                state = remaining == n ? .complete : .fixedBody(remaining: remaining - n)

            case .chunkSizeLine:
                switch readLine(limit: limits.maxChunkLineLength) {
                case .needMore:
                    return nil
                case .tooLong:
                    return fail(.chunkLineTooLong)
                case .line(let range):
                    guard let content = lineContent(range) else { return fail(lineError(range)) }
                    switch parseChunkSizeLine(content) {
                    case .failure(let error):
                        return fail(error.reason)
                    case .success(let size):
                        if size == 0 {
                            state = .trailerFields
                            sectionBytes = 0
                        } else if size > limits.maxBodySize - body.count {
                            return fail(.contentTooLarge)
                        } else {
                            state = .chunkData(remaining: size)
                        }
                    }
                }

            case .chunkData(let remaining):
                let n = min(remaining, buffer.count - position)
                if n == 0 { return nil }
                body.append(contentsOf: buffer[position..<(position + n)])
                position += n
                state = remaining == n ? .chunkDataEnd : .chunkData(remaining: remaining - n)

            case .chunkDataEnd:
                if buffer.count - position < 2 { return nil }
                guard buffer[position] == ASCII.cr, buffer[position + 1] == ASCII.lf else {
                    return fail(.missingChunkTerminator)
                }
                position += 2
                scanFrom = position
                state = .chunkSizeLine

            case .trailerFields:
                switch readLine(limit: limits.maxTrailerSectionSize - sectionBytes) {
                case .needMore:
                    return nil
                case .tooLong:
                    return fail(.trailerSectionTooLarge)
                case .line(let range):
                    sectionBytes += range.count + 1
                    guard let content = lineContent(range) else { return fail(lineError(range)) }
                    if content.isEmpty {
                        state = .complete
                        continue
                    }
                    if trailers.count >= limits.maxHeaderCount { return fail(.tooManyHeaderFields) }
                    switch parseFieldLine(content) {
                    case .failure(let error): return fail(error.reason)
                    case .success(let field): trailers.append(field)
                    }
                }
            }
        }
    }

    // MARK: - Lines

    private enum LineResult {
        /// The line's bytes up to (not including) its LF.
        case line(Range<Int>)
        case needMore
        /// No LF within `limit` bytes: the line, LF included, is longer.
        case tooLong
    }

    /// Finds the next line if it ends within `limit` bytes (LF included).
    /// The outcome depends only on the first `limit` bytes of the line, so it
    /// is the same however they arrived.
    private mutating func readLine(limit: Int) -> LineResult {
        let available = buffer.count - position
        let searchEnd = position + min(available, max(limit, 0))
        var i = max(scanFrom, position)
        while i < searchEnd {
            if buffer[i] == ASCII.lf {
                let range = position..<i
                position = i + 1
                scanFrom = position
                return .line(range)
            }
            i += 1
        }
        scanFrom = i
        return available >= limit ? .tooLong : .needMore
    }

    /// The line without its CR, or nil when it does not end in CRLF or holds
    /// a bare CR. RFC 9112 §2.2 lets a recipient accept a bare LF; this
    /// parser does not, so that every peer sees the same message boundaries.
    private func lineContent(_ range: Range<Int>) -> ArraySlice<UInt8>? {
        guard let last = range.last, buffer[last] == ASCII.cr else { return nil }
        let content = buffer[range.lowerBound..<last]
        if content.contains(ASCII.cr) { return nil }
        return content
    }

    private func lineError(_ range: Range<Int>) -> HTTPParseError.Reason {
        if let last = range.last, buffer[last] == ASCII.cr { return .bareCarriageReturn }
        return .bareLineFeed
    }

    // MARK: - Request line

    /// Picks the status for a request line longer than the limit, from its
    /// first `maxRequestLineLength` bytes only.
    private func classifyLongRequestLine() -> HTTPParseError.Reason {
        let prefix = buffer[position..<(position + limits.maxRequestLineLength)]
        let methodWindow = prefix.prefix(limits.maxMethodLength + 1)
        guard let sp1 = methodWindow.firstIndex(of: ASCII.sp) else {
            return methodWindow.allSatisfy(ASCII.isTchar) ? .methodTooLong : .invalidMethod
        }
        let methodBytes = prefix[prefix.startIndex..<sp1]
        guard !methodBytes.isEmpty, methodBytes.allSatisfy(ASCII.isTchar) else { return .invalidMethod }
        guard let sp2 = prefix[(sp1 + 1)...].firstIndex(of: ASCII.sp) else { return .uriTooLong }
        // The target ended inside the limit: the URI is still what made the
        // line too long if all that follows is the start of "HTTP/d.d" CR.
        let after = prefix[(sp2 + 1)...]
        let pattern: [UInt8?] = Array("HTTP/".utf8) + [nil, UInt8(ascii: "."), nil, ASCII.cr]
        guard after.count <= pattern.count else { return .malformedRequestLine }
        for (b, expected) in zip(after, pattern) {
            if let expected { if b != expected { return .malformedRequestLine } }
            else if !ASCII.isDigit(b) { return .malformedRequestLine }
        }
        return .uriTooLong
    }

    /// request-line = method SP request-target SP HTTP-version (RFC 9112 §3),
    /// single spaces only.
    private mutating func parseRequestLine(_ line: ArraySlice<UInt8>) -> HTTPParseError.Reason? {
        guard let sp1 = line.firstIndex(of: ASCII.sp) else { return .malformedRequestLine }
        let methodBytes = line[line.startIndex..<sp1]
        guard !methodBytes.isEmpty, methodBytes.allSatisfy(ASCII.isTchar) else { return .invalidMethod }
        if methodBytes.count > limits.maxMethodLength { return .methodTooLong }
        let rest = line[(sp1 + 1)...]
        guard let sp2 = rest.firstIndex(of: ASCII.sp) else { return .malformedRequestLine }
        let targetBytes = rest[rest.startIndex..<sp2]
        let versionBytes = rest[(sp2 + 1)...]
        guard !targetBytes.isEmpty else { return .malformedRequestLine }
        switch Self.parseVersion(versionBytes) {
        case .failure(let error): return error.reason
        case .success(let v): version = v
        }
        method = HTTPMethod(String(decoding: methodBytes, as: UTF8.self))
        guard let parsed = TargetSyntax.parse(targetBytes, method: method) else { return .invalidTarget }
        target = parsed
        rawTarget = String(decoding: targetBytes, as: UTF8.self)
        return nil
    }

    /// HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3). Major version
    /// 1 is served (minor versions above 1 as 1.1, RFC 9110 §6.2); any other
    /// major gives 505.
    static func parseVersion(_ bytes: ArraySlice<UInt8>) -> Result<HTTPVersion, HTTPParseError> {
        let b = Array(bytes)
        guard b.count == 8, b[0..<5].elementsEqual("HTTP/".utf8), ASCII.isDigit(b[5]),
              b[6] == UInt8(ascii: "."), ASCII.isDigit(b[7])
        else { return .failure(HTTPParseError(.invalidVersion)) }
        let version = HTTPVersion(major: Int(b[5] - 0x30), minor: Int(b[7] - 0x30))
        guard version.major == 1 else { return .failure(HTTPParseError(.unsupportedVersion)) }
        return .success(version)
    }

    // MARK: - Fields

    /// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5).
    private func parseFieldLine(_ line: ArraySlice<UInt8>) -> Result<HTTPField, HTTPParseError> {
        // A line starting with whitespace is obs-fold, or whitespace before
        // the first field (RFC 9112 §2.2, §5.2): rejected either way.
        if let first = line.first, ASCII.isWhitespace(first) {
            return .failure(HTTPParseError(.obsoleteLineFolding))
        }
        guard let colon = line.firstIndex(of: ASCII.colon) else {
            return .failure(HTTPParseError(.missingColon))
        }
        let name = line[line.startIndex..<colon]
        guard let last = name.last else { return .failure(HTTPParseError(.invalidFieldName)) }
        if ASCII.isWhitespace(last) { return .failure(HTTPParseError(.whitespaceBeforeColon)) }
        guard name.allSatisfy(ASCII.isTchar) else { return .failure(HTTPParseError(.invalidFieldName)) }
        var start = colon + 1, end = line.endIndex
        while start < end, ASCII.isWhitespace(line[start]) { start += 1 }
        while end > start, ASCII.isWhitespace(line[end - 1]) { end -= 1 }
        let value = line[start..<end]
        // field-vchar = VCHAR / obs-text, with SP and HTAB between
        // (RFC 9110 §5.5). CR, LF, NUL and other controls are rejected.
        for b in value where !(b == ASCII.sp || b == ASCII.htab || (b >= 0x21 && b != 0x7F)) {
            return .failure(HTTPParseError(.invalidFieldValue))
        }
        return .success(HTTPField(name: String(decoding: name, as: UTF8.self), value: ASCII.string(value)))
    }

    /// Checks the head as a whole: Host, framing, expectations, persistence.
    private func validateHead() -> Result<HTTPRequestHead, HTTPParseError> {
        let headers = HTTPHeaders(fields)

        // Host (RFC 9112 §3.2): required in HTTP/1.1, never more than one,
        // and syntactically valid.
        let hosts = headers.values(for: "Host")
        if hosts.count > 1 { return .failure(HTTPParseError(.multipleHost)) }
        if let host = hosts.first {
            guard TargetSyntax.isAuthority(ArraySlice(host.utf8), requirePort: false) else {
                return .failure(HTTPParseError(.invalidHost))
            }
        } else if version >= .http1_1 {
            return .failure(HTTPParseError(.missingHost))
        }

        // Framing (RFC 9112 §6.1, §6.3).
        let transferEncodings = headers.values(for: "Transfer-Encoding")
        let contentLengths = headers.values(for: "Content-Length")
        var framing = BodyFraming.none
        if !transferEncodings.isEmpty {
            if !contentLengths.isEmpty { return .failure(HTTPParseError(.transferEncodingWithContentLength)) }
            if version < .http1_1 { return .failure(HTTPParseError(.transferEncodingInHTTP10)) }
            switch Self.parseTransferCodings(transferEncodings) {
            case .failure(let error): return .failure(error)
            case .success: framing = .chunked
            }
        } else if !contentLengths.isEmpty {
            // RFC 9110 §8.6 lets a recipient accept repeated identical values;
            // this server rejects any repetition or list.
            if contentLengths.count > 1 { return .failure(HTTPParseError(.multipleContentLength)) }
            let value = contentLengths[0].utf8
            if value.contains(UInt8(ascii: ",")) { return .failure(HTTPParseError(.multipleContentLength)) }
            guard !value.isEmpty, value.allSatisfy(ASCII.isDigit) else {
                return .failure(HTTPParseError(.invalidContentLength))
            }
            var length = 0
            for digit in value {
                length = length * 10 + Int(digit - 0x30)
                if length > limits.maxBodySize { return .failure(HTTPParseError(.contentTooLarge)) }
            }
            framing = .contentLength(length)
        }

        // Expect (RFC 9110 §10.1.1): only 100-continue is known; HTTP/1.0
        // requests have their expectation ignored.
        var expectsContinue = false
        let expectations = headers.listValues(for: "Expect")
        if version >= .http1_1 && !headers.values(for: "Expect").isEmpty {
            guard !expectations.isEmpty,
                  expectations.allSatisfy({ ASCII.caseInsensitiveEquals($0, "100-continue") })
            else { return .failure(HTTPParseError(.unsupportedExpectation)) }
            expectsContinue = framing.announcesContent
        }

        // Persistence (RFC 9112 §9.3).
        let keepAlive: Bool
        if headers.containsToken("close", in: "Connection") {
            keepAlive = false
        } else if version >= .http1_1 {
            keepAlive = true
        } else {
            keepAlive = headers.containsToken("keep-alive", in: "Connection")
        }

        return .success(HTTPRequestHead(method: method, target: target, rawTarget: rawTarget,
                                        version: version, headers: headers, framing: framing,
                                        keepAlive: keepAlive, expectsContinue: expectsContinue))
    }

    /// Transfer-Encoding (RFC 9112 §6.1): a list of transfer codings whose
    /// last is chunked. Only chunked is implemented; any other coding gives
    /// 501, chunked twice or not last gives 400.
    static func parseTransferCodings(_ values: [String]) -> Result<Void, HTTPParseError> {
        var codings: [String] = []
        for value in values {
            for element in value.split(separator: ",", omittingEmptySubsequences: false) {
                let item = ASCII.trimmingOWS(element)
                if item.isEmpty { continue }
                // transfer-coding = token *( OWS ";" OWS transfer-parameter )
                let name = ASCII.trimmingOWS(item.split(separator: ";", maxSplits: 1,
                                                        omittingEmptySubsequences: false)[0])
                guard !name.isEmpty, name.utf8.allSatisfy(ASCII.isTchar) else {
                    return .failure(HTTPParseError(.invalidTransferEncoding))
                }
                codings.append(name.lowercased())
            }
        }
        guard !codings.isEmpty else { return .failure(HTTPParseError(.invalidTransferEncoding)) }
        if codings.contains(where: { $0 != "chunked" }) {
            return .failure(HTTPParseError(.unsupportedTransferCoding))
        }
        guard codings.count == 1 else { return .failure(HTTPParseError(.invalidTransferEncoding)) }
        return .success(())
    }

    // MARK: - Chunked

    /// chunk-size [ chunk-ext ] (RFC 9112 §7.1): hex digits, then
    /// `*( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )`. Extensions are
    /// checked and ignored. A size above the body limit gives 413.
    private func parseChunkSizeLine(_ line: ArraySlice<UInt8>) -> Result<Int, HTTPParseError> {
        var i = line.startIndex
        var size = 0
        var tooLarge = false
        while i < line.endIndex, let digit = ASCII.hexValue(line[i]) {
            if !tooLarge {
                size = size * 16 + Int(digit)
                if size > limits.maxBodySize { tooLarge = true }
            }
            i += 1
        }
        guard i > line.startIndex else { return .failure(HTTPParseError(.invalidChunkSize)) }
        func skipWhitespace() { while i < line.endIndex, ASCII.isWhitespace(line[i]) { i += 1 } }
        while true {
            let beforeWhitespace = i
            skipWhitespace()
            if i == line.endIndex {
                // BWS is only allowed before ";", not at the end of the line.
                if i > beforeWhitespace { return .failure(HTTPParseError(.invalidChunkExtension)) }
                break
            }
            guard line[i] == UInt8(ascii: ";") else { return .failure(HTTPParseError(.invalidChunkExtension)) }
            i += 1
            skipWhitespace()
            let nameStart = i
            while i < line.endIndex, ASCII.isTchar(line[i]) { i += 1 }
            guard i > nameStart else { return .failure(HTTPParseError(.invalidChunkExtension)) }
            let afterName = i
            skipWhitespace()
            if i < line.endIndex, line[i] == UInt8(ascii: "=") {
                i += 1
                skipWhitespace()
                guard let end = Self.scanExtensionValue(line, from: i) else {
                    return .failure(HTTPParseError(.invalidChunkExtension))
                }
                i = end
            } else {
                i = afterName
            }
        }
        return tooLarge ? .failure(HTTPParseError(.contentTooLarge)) : .success(size)
    }

    /// ext-val = token / quoted-string; returns the index after it.
    private static func scanExtensionValue(_ line: ArraySlice<UInt8>, from start: Int) -> Int? {
        var i = start
        guard i < line.endIndex else { return nil }
        if line[i] != UInt8(ascii: "\"") {
            while i < line.endIndex, ASCII.isTchar(line[i]) { i += 1 }
            return i > start ? i : nil
        }
        i += 1
        while i < line.endIndex {
            let b = line[i]
            if b == UInt8(ascii: "\"") { return i + 1 }
            if b == UInt8(ascii: "\\") {
                guard i + 1 < line.endIndex else { return nil }
                let q = line[i + 1]
                guard q == ASCII.htab || q == ASCII.sp || (q >= 0x21 && q != 0x7F) else { return nil }
                i += 2
                continue
            }
            guard b == ASCII.htab || b == ASCII.sp || (b >= 0x21 && b != 0x7F) else { return nil }
            i += 1
        }
        return nil
    }

    // MARK: - State

    private mutating func fail(_ reason: HTTPParseError.Reason) -> HTTPParserEvent {
        state = .failed
        return .error(HTTPParseError(reason))
    }

    private mutating func resetMessage() {
        emptyLines = 0
        fields = []
        sectionBytes = 0
        head = nil
        body = []
        trailers = []
    }
}
