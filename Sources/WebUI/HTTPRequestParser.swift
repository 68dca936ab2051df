// An incremental HTTP/1.1 request parser (RFC 9112). Bytes go in through
// `append`, events come out of `next()`; any split of the same bytes gives
// the same events. Every check that can fail on a partial line is a pure
// size check on a prefix, made with the same limit the complete line is
// measured against, so the outcome never depends on where the bytes broke.

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

    /// Consumed bytes are dropped from the front of the buffer once this many
    /// have accumulated, so a long pipelined stream does not grow it forever.
    private static let compactionThreshold = 4096

    private var buffer: [UInt8] = []
    /// Index of the first unconsumed byte in `buffer`.
    private var position = 0
    /// Index at which the search for the current line's LF resumes.
    private var scanFrom = 0
    private var state: State = .requestLine

    // The message in progress.
    private var emptyLines = 0
    private var requestLine: RequestLine?
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
        if position > 0 && (position == buffer.count || position >= Self.compactionThreshold) {
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
                // Safe: the state is complete only after the head validated.
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
                    switch Self.parseRequestLine(content, limits: limits) {
                    case .failure(let error): return fail(error.reason)
                    case .success(let line): requestLine = line
                    }
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
                        // Safe: the state is headerFields only after a request line parsed.
                        switch Self.validateHead(requestLine!, fields: fields, limits: limits) {
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
                    switch Self.parseFieldLine(content) {
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
                    switch Self.parseChunkSizeLine(content, maxBodySize: limits.maxBodySize) {
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
                    switch Self.parseFieldLine(content) {
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

    /// Returns the line without its CR, or nil when it does not end in CRLF
    /// or contains a bare CR. RFC 9112 §2.2 lets a recipient accept a bare
    /// LF. This parser does not, so that every peer sees the same message
    /// boundaries.
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

    // MARK: - State

    private mutating func fail(_ reason: HTTPParseError.Reason) -> HTTPParserEvent {
        state = .failed
        return .error(HTTPParseError(reason))
    }

    private mutating func resetMessage() {
        emptyLines = 0
        requestLine = nil
        fields = []
        sectionBytes = 0
        head = nil
        body = []
        trailers = []
    }
}
