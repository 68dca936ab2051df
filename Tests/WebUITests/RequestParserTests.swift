// Request parser tests. Every input is fed whole, split at every byte
// boundary and byte by byte (parseEverySplit). Expected values come from
// RFC 9112 and RFC 9110, cited per case.
import Testing
@testable import WebUI

/// The single request in `input`, or a recorded failure.
private func onlyRequest(_ input: String, limits: HTTPParserLimits = HTTPParserLimits(),
                         sourceLocation: SourceLocation = #_sourceLocation) -> HTTPRequest?
{
    let events = parseEverySplit(input, limits: limits, sourceLocation: sourceLocation)
    let all = requests(events)
    #expect(all.count == 1, "events: \(events)", sourceLocation: sourceLocation)
    #expect(parseError(events) == nil, sourceLocation: sourceLocation)
    return all.first
}

/// The error `input` produces, checking its status code.
private func expectRejected(_ input: String, status: Int, _ reason: HTTPParseError.Reason? = nil,
                            limits: HTTPParserLimits = HTTPParserLimits(),
                            sourceLocation: SourceLocation = #_sourceLocation)
{
    let events = parseEverySplit(input, limits: limits, sourceLocation: sourceLocation)
    guard let error = parseError(events) else {
        Issue.record("accepted: \(events)", sourceLocation: sourceLocation)
        return
    }
    #expect(error.status.code == status, "\(error)", sourceLocation: sourceLocation)
    if let reason { #expect(error.reason == reason, sourceLocation: sourceLocation) }
    #expect(requests(events).isEmpty, sourceLocation: sourceLocation)
}

@Suite struct RequestLineTests {
    @Test func originForm() throws {
        let r = try #require(onlyRequest("GET /a/b?x=1&y HTTP/1.1\r\nHost: example.com\r\n\r\n"))
        #expect(r.method == .GET)
        #expect(r.target == .origin(path: "/a/b", query: "x=1&y"))
        #expect(r.head.rawTarget == "/a/b?x=1&y")
        #expect(r.version == .http1_1)
        #expect(r.headers["host"] == "example.com")
        #expect(r.head.framing == .none)
        #expect(r.head.keepAlive)
        #expect(r.body.isEmpty)
    }

    @Test func headEventPrecedesRequest() {
        let events = parseEverySplit("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(events.count == 2)
        if case .head(let head) = events.first { #expect(head.method == .GET) } else {
            Issue.record("first event is \(events.first as Any)")
        }
    }

    @Test func absoluteForm() throws {
        // RFC 9112 §3.2.2: a server MUST accept the absolute-form.
        let r = try #require(onlyRequest(
            "GET HTTP://Example.com:8080/p/q?k=v HTTP/1.1\r\nHost: other\r\n\r\n"))
        #expect(r.target == .absolute(scheme: "http", authority: "Example.com:8080", path: "/p/q", query: "k=v"))
        let empty = try #require(onlyRequest("GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n"))
        #expect(empty.target == .absolute(scheme: "https", authority: "example.com", path: "/", query: nil))
        let queryOnly = try #require(onlyRequest("GET http://example.com?x HTTP/1.1\r\nHost: example.com\r\n\r\n"))
        #expect(queryOnly.target.path == "/")
        #expect(queryOnly.target.query == "x")
    }

    @Test func absoluteFormRejects() {
        // userinfo is not allowed in http(s) URIs (RFC 9110 §4.2.4); an empty
        // host is invalid (§4.2.1); other schemes are not served.
        expectRejected("GET http://user@example.com/ HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, .invalidTarget)
        expectRejected("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, .invalidTarget)
        expectRejected("GET ftp://example.com/ HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, .invalidTarget)
        expectRejected("GET example.com/x HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, .invalidTarget)
    }

    @Test func asteriskForm() throws {
        // RFC 9112 §3.2.4: "*" only for OPTIONS.
        let r = try #require(onlyRequest("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(r.target == .asterisk)
        #expect(r.path == nil)
        expectRejected("GET * HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, .invalidTarget)
    }

    @Test func authorityFormOnlyForConnect() throws {
        let r = try #require(onlyRequest("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"))
        #expect(r.target == .authority("example.com:443"))
        expectRejected("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, .invalidTarget)
        expectRejected("CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, .invalidTarget)
    }

    @Test func invalidTargets() {
        for target in ["/a<b", "/a%zz", "/a%2", "/a#frag", "/a\"b", "/a\\b", "/caf\u{e9}", "/{x}"] {
            expectRejected("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, .invalidTarget)
        }
        // Percent-encoded octets are well formed here; decoding is the router's.
        #expect(onlyRequest("GET /a%2Fb%00?q=%41 HTTP/1.1\r\nHost: a\r\n\r\n")?.path == "/a%2Fb%00")
    }

    @Test func http10() throws {
        // Host is optional in HTTP/1.0; persistence needs keep-alive (RFC 9112 §9.3).
        let r = try #require(onlyRequest("GET / HTTP/1.0\r\n\r\n"))
        #expect(r.version == .http1_0)
        #expect(!r.head.keepAlive)
        let k = try #require(onlyRequest("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"))
        #expect(k.head.keepAlive)
        let c = try #require(onlyRequest("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n"))
        #expect(!c.head.keepAlive)
    }

    @Test func versions() throws {
        // RFC 9110 §6.2: a higher minor version is served as our 1.1;
        // another major version gets 505 (§15.6.6).
        let r = try #require(onlyRequest("GET / HTTP/1.2\r\nHost: a\r\n\r\n"))
        #expect(r.version == HTTPVersion(major: 1, minor: 2))
        expectRejected("GET / HTTP/2.0\r\nHost: a\r\n\r\n", status: 505)
        expectRejected("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 505)
        expectRejected("GET / HTTP/0.9\r\n\r\n", status: 505)
        // HTTP-version is case-sensitive, one digit each side (RFC 9112 §2.3).
        expectRejected("GET / http/1.1\r\nHost: a\r\n\r\n", status: 400, .invalidVersion)
        expectRejected("GET / HTTP/1.10\r\nHost: a\r\n\r\n", status: 400, .invalidVersion)
        expectRejected("GET / HTTP/1\r\nHost: a\r\n\r\n", status: 400, .invalidVersion)
    }

    @Test func requestLineSyntax() {
        expectRejected("GET /\r\n\r\n", status: 400, .malformedRequestLine)
        expectRejected("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, .malformedRequestLine)
        expectRejected("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", status: 400, .invalidVersion)
        expectRejected(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, .invalidMethod)
        expectRejected("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, .invalidMethod)
        expectRejected("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, .invalidVersion)
    }

    @Test func lineEndings() {
        // This parser requires CRLF (RFC 9112 §2.2 allows, does not require,
        // accepting a bare LF); a bare CR is invalid.
        expectRejected("GET / HTTP/1.1\nHost: a\n\n", status: 400, .bareLineFeed)
        expectRejected("GET / HTTP/1.1\r\nHost: a\n\r\n", status: 400, .bareLineFeed)
        expectRejected("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", status: 400, .bareCarriageReturn)
        expectRejected("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, .bareCarriageReturn)
    }

    @Test func leadingEmptyLinesIgnored() throws {
        // RFC 9112 §2.2: SHOULD ignore at least one empty line before the request line.
        let r = try #require(onlyRequest("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(r.method == .GET)
        let limits = HTTPParserLimits(maxLeadingEmptyLines: 2)
        expectRejected("\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, .tooManyEmptyLines,
                       limits: limits)
    }

    @Test func methodsAreCaseSensitiveTokens() throws {
        let r = try #require(onlyRequest("get / HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(r.method == HTTPMethod("get"))
        #expect(r.method != .GET)
    }
}

@Suite struct RequestLineLimitTests {
    // 64-byte request lines (CRLF included), 8-byte methods.
    let limits = HTTPParserLimits(maxRequestLineLength: 64, maxMethodLength: 8)

    @Test func exactLimitAccepted() throws {
        // "GET " + target + " HTTP/1.1\r\n" = 4 + t + 11 bytes = 64 when t = 49.
        let target = "/" + String(repeating: "a", count: 48)
        let r = try #require(onlyRequest("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits))
        #expect(r.path == target)
    }

    @Test func longTargetIs414() {
        // RFC 9110 §15.5.15: 414 when the target URI is longer than the server will interpret.
        let target = "/" + String(repeating: "a", count: 49)
        expectRejected("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n", status: 414, .uriTooLong, limits: limits)
        let huge = "/" + String(repeating: "b", count: 500)
        expectRejected("GET \(huge) HTTP/1.1\r\nHost: a\r\n\r\n", status: 414, .uriTooLong, limits: limits)
        // Detected before the line ends.
        expectRejected("GET \(huge)", status: 414, .uriTooLong, limits: limits)
    }

    @Test func longMethodIs501() {
        // RFC 9112 §3: a method longer than any implemented SHOULD get 501.
        expectRejected("ABCDEFGHIJ / HTTP/1.1\r\nHost: a\r\n\r\n", status: 501, .methodTooLong, limits: limits)
        expectRejected(String(repeating: "M", count: 100) + " / HTTP/1.1\r\n\r\n", status: 501,
                       .methodTooLong, limits: limits)
    }

    @Test func longLineWithShortTargetIs400() {
        expectRejected("GET / HTTP/1.1" + String(repeating: "x", count: 60) + "\r\n\r\n", status: 400,
                       .malformedRequestLine, limits: limits)
        expectRejected(String(repeating: "(", count: 100), status: 400, .invalidMethod, limits: limits)
    }

    @Test func defaultLimitGives414() {
        let target = "/" + String(repeating: "z", count: 9000)
        let events = parserEvents([bytes("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n")[...]],
                                  limits: HTTPParserLimits())
        #expect(parseError(events)?.status.code == 414)
    }
}

@Suite struct HeaderFieldTests {
    @Test func whitespaceAroundValues() throws {
        // RFC 9112 §5.1: OWS around the value is not part of it.
        let r = try #require(onlyRequest("GET / HTTP/1.1\r\nHost:a\r\nX-A: \t v  w \t \r\nX-Empty:\r\n\r\n"))
        #expect(r.headers["host"] == "a")
        #expect(r.headers["x-a"] == "v  w")
        #expect(r.headers["X-EMPTY"] == "")
        #expect(r.headers.fields.map(\.name) == ["Host", "X-A", "X-Empty"])
    }

    @Test func repeatedFieldsKeptInOrder() throws {
        let r = try #require(onlyRequest("GET / HTTP/1.1\r\nHost: a\r\nAccept: x\r\naccept: y\r\n\r\n"))
        #expect(r.headers.values(for: "Accept") == ["x", "y"])
    }

    @Test func obsTextAllowed() throws {
        // field-vchar includes obs-text (RFC 9110 §5.5).
        var input = bytes("GET / HTTP/1.1\r\nHost: a\r\nX-L: caf")
        input.append(0xE9)
        input += bytes("\r\n\r\n")
        let events = parseEverySplit(input)
        #expect(requests(events).first?.headers["X-L"] == "caf\u{e9}")
    }

    @Test func obsFoldRejected() {
        // RFC 9112 §5.2: a server MAY reject obs-fold with 400.
        expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  c\r\n\r\n", status: 400, .obsoleteLineFolding)
        expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", status: 400, .obsoleteLineFolding)
        // Whitespace between the request line and the first field (§2.2).
        expectRejected("GET / HTTP/1.1\r\n Host: a\r\n\r\n", status: 400, .obsoleteLineFolding)
    }

    @Test func noWhitespaceBeforeColon() {
        // RFC 9112 §5.1: MUST reject with 400.
        expectRejected("GET / HTTP/1.1\r\nHost : a\r\n\r\n", status: 400, .whitespaceBeforeColon)
        expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A\t: b\r\n\r\n", status: 400, .whitespaceBeforeColon)
    }

    @Test func fieldNameMustBeToken() {
        expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n", status: 400, .invalidFieldName)
        expectRejected("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", status: 400, .invalidFieldName)
        expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", status: 400, .invalidFieldName)
        expectRejected("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", status: 400, .missingColon)
    }

    @Test func controlCharactersInValueRejected() {
        // RFC 9110 §5.5: NUL (and CR, LF) MUST be rejected or replaced.
        expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\u{0}c\r\n\r\n", status: 400, .invalidFieldValue)
        expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\u{7f}c\r\n\r\n", status: 400, .invalidFieldValue)
        expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\u{1}c\r\n\r\n", status: 400, .invalidFieldValue)
    }

    @Test func headerCountBound() {
        let limits = HTTPParserLimits(maxHeaderCount: 3)
        let three = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n"
        #expect(onlyRequest(three, limits: limits) != nil)
        expectRejected("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", status: 431,
                       .tooManyHeaderFields, limits: limits)
    }

    @Test func headerSectionSizeBound() {
        // "Host: a\r\n" (9) + "X: 1234567\r\n" (12) + "\r\n" (2) = 23 bytes.
        let input = "GET / HTTP/1.1\r\nHost: a\r\nX: 1234567\r\n\r\n"
        #expect(onlyRequest(input, limits: HTTPParserLimits(maxHeaderSectionSize: 23)) != nil)
        expectRejected(input, status: 431, .headerSectionTooLarge, limits: HTTPParserLimits(maxHeaderSectionSize: 22))
        // A field line that never ends is cut off at the bound.
        expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 100), status: 431,
                       .headerSectionTooLarge, limits: HTTPParserLimits(maxHeaderSectionSize: 50))
        // The size check comes first, so a long invalid line is still 431.
        expectRejected("GET / HTTP/1.1\r\nHost: a\r\nX : " + String(repeating: "v", count: 100) + "\r\n\r\n",
                       status: 431, .headerSectionTooLarge, limits: HTTPParserLimits(maxHeaderSectionSize: 50))
    }
}

@Suite struct HostTests {
    @Test func requiredForHTTP11() {
        // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, with more
        // than one Host line, or with an invalid Host value.
        expectRejected("GET / HTTP/1.1\r\n\r\n", status: 400, .missingHost)
        expectRejected("GET http://example.com/ HTTP/1.1\r\n\r\n", status: 400, .missingHost)
        expectRejected("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", status: 400, .multipleHost)
        expectRejected("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", status: 400, .multipleHost)
    }

    @Test func validValues() {
        for host in ["example.com", "example.com:8080", "127.0.0.1", "[::1]", "[2001:db8::1]:443",
                     "xn--bcher-kva.example", "a_b.example", "example.com:", ""]
        {
            let r = onlyRequest("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n")
            #expect(r?.head.host == host, "\(host)")
        }
    }

    @Test func invalidValues() {
        for host in ["exa mple.com", "example.com:80x", "[::1", "user@example.com", "a/b",
                     "example.com:80:80", "%zz", "a\"b"]
        {
            expectRejected("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n", status: 400, .invalidHost)
        }
    }
}

@Suite struct BodyTests {
    @Test func contentLengthBody() throws {
        let r = try #require(onlyRequest("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"))
        #expect(r.body == bytes("hello"))
        #expect(r.head.framing == .contentLength(5))
    }

    @Test func contentLengthWhitespaceTrimmed() throws {
        let r = try #require(onlyRequest("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  3 \r\n\r\nabc"))
        #expect(r.body == bytes("abc"))
    }

    @Test func contentLengthRejects() {
        // Duplicate or conflicting values, lists, signs and non-digits: 400
        // (RFC 9112 §6.3 item 5; RFC 9110 §8.6).
        expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
                       status: 400, .multipleContentLength)
        expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                       status: 400, .multipleContentLength)
        expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", status: 400,
                       .multipleContentLength)
        for bad in ["+5", "-1", "0x5", "5 5", "abc", ""] {
            expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(bad)\r\n\r\n", status: 400,
                           .invalidContentLength)
        }
    }

    @Test func contentLengthTooLargeIs413() {
        let limits = HTTPParserLimits(maxBodySize: 10)
        #expect(onlyRequest("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789",
                            limits: limits)?.body.count == 10)
        // Decided from the header, before any content arrives.
        expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", status: 413,
                       .contentTooLarge, limits: limits)
        expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                       status: 413, .contentTooLarge)
    }

    @Test func chunkedWithExtensionsAndTrailers() throws {
        // RFC 9112 §7.1: chunk extensions are ignored; trailers follow the last chunk.
        let input = "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "4;name=value;flag\r\nWiki\r\n"
            + "5 ; q=\"quoted \\\" str\"\r\npedia\r\n"
            + "A\r\n0123456789\r\n"
            + "0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
        let r = try #require(onlyRequest(input))
        #expect(r.body == bytes("Wikipedia0123456789"))
        #expect(r.head.framing == .chunked)
        #expect(r.trailers.fields == [HTTPField(name: "X-Checksum", value: "abc"),
                                       HTTPField(name: "X-Other", value: "1")])
    }

    @Test func chunkedEmptyBody() throws {
        let r = try #require(onlyRequest("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n"))
        #expect(r.body.isEmpty)
        #expect(r.trailers.isEmpty)
    }

    @Test func chunkedSyntaxErrors() {
        let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        expectRejected(head + "xyz\r\n", status: 400, .invalidChunkSize)
        expectRejected(head + "\r\n", status: 400, .invalidChunkSize)
        expectRejected(head + "4\r\nWikiXX0\r\n\r\n", status: 400, .missingChunkTerminator)
        expectRejected(head + "4;=x\r\nWiki\r\n0\r\n\r\n", status: 400, .invalidChunkExtension)
        expectRejected(head + "4;a=\"x\r\nWiki\r\n0\r\n\r\n", status: 400, .invalidChunkExtension)
        expectRejected(head + "4 \r\nWiki\r\n0\r\n\r\n", status: 400, .invalidChunkExtension)
        expectRejected(head + "4\nWiki\r\n0\r\n\r\n", status: 400, .bareLineFeed)
        expectRejected(head + "0\r\nBad Trailer: x\r\n\r\n", status: 400, .invalidFieldName)
        let limits = HTTPParserLimits(maxChunkLineLength: 16)
        expectRejected(head + "4;" + String(repeating: "e", count: 40) + "\r\nWiki\r\n0\r\n\r\n", status: 400,
                       .chunkLineTooLong, limits: limits)
    }

    @Test func chunkedSizeBounds() {
        let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        let limits = HTTPParserLimits(maxBodySize: 8)
        #expect(onlyRequest(head + "4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n", limits: limits)?.body.count == 8)
        expectRejected(head + "9\r\n", status: 413, .contentTooLarge, limits: limits)
        expectRejected(head + "4\r\nabcd\r\n5\r\n", status: 413, .contentTooLarge, limits: limits)
        expectRejected(head + "FFFFFFFFFFFFFFFFFFFFFFFF\r\n", status: 413, .contentTooLarge)
        expectRejected(head + "0\r\nX: " + String(repeating: "t", count: 100) + "\r\n\r\n", status: 431,
                       .trailerSectionTooLarge, limits: HTTPParserLimits(maxTrailerSectionSize: 64))
    }

    @Test func transferEncodingWithContentLengthIs400() {
        // RFC 9112 §6.3 item 3: treat as an error, 400, then close.
        expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
            + "0\r\n\r\n", status: 400, .transferEncodingWithContentLength)
        expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "0\r\n\r\n", status: 400, .transferEncodingWithContentLength)
    }

    @Test func transferEncodingInHTTP10Is400() {
        // RFC 9112 §6.1: treat the framing of an HTTP/1.0 message with
        // Transfer-Encoding as faulty.
        expectRejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400,
                       .transferEncodingInHTTP10)
    }

    @Test func unknownTransferCodingIs501() {
        // RFC 9112 §6.1: a server that receives a transfer coding it does not
        // understand SHOULD respond with 501.
        for te in ["gzip, chunked", "identity", "chunked, gzip", "x-custom"] {
            expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(te)\r\n\r\n", status: 501,
                           .unsupportedTransferCoding)
        }
        expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
                       status: 501, .unsupportedTransferCoding)
    }

    @Test func chunkedTwiceOrEmptyIs400() {
        // RFC 9112 §7: chunked MUST NOT be applied more than once.
        expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", status: 400,
                       .invalidTransferEncoding)
        expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", status: 400,
                       .invalidTransferEncoding)
        expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ch(unked\r\n\r\n", status: 400,
                       .invalidTransferEncoding)
    }

    @Test func expectContinue() throws {
        // RFC 9110 §10.1.1.
        let r = try #require(onlyRequest(
            "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok"))
        #expect(r.head.expectsContinue)
        // No content announced: nothing to continue.
        let empty = try #require(onlyRequest("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n"))
        #expect(!empty.head.expectsContinue)
        // An HTTP/1.0 request's expectation is ignored.
        let old = try #require(onlyRequest(
            "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"))
        #expect(!old.head.expectsContinue)
        // Any other expectation: 417.
        expectRejected("PUT / HTTP/1.1\r\nHost: a\r\nExpect: something\r\nContent-Length: 2\r\n\r\nok",
                       status: 417, .unsupportedExpectation)
        expectRejected("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\nContent-Length: 2\r\n\r\nok",
                       status: 417, .unsupportedExpectation)
    }

    @Test func getWithBodyIsFramedByContentLength() throws {
        let events = parseEverySplit("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
        let all = requests(events)
        #expect(all.map(\.path) == ["/", "/2"])
        #expect(all.first?.body == bytes("abc"))
    }
}

@Suite struct PipelineParsingTests {
    @Test func pipelinedRequestsInOrder() {
        let input = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
            + "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
            + "POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nq\r\n0\r\n\r\n"
            + "HEAD /4 HTTP/1.1\r\nHost: a\r\n\r\n"
        let all = requests(parseEverySplit(input))
        #expect(all.map(\.path) == ["/1", "/2", "/3", "/4"])
        #expect(all.map(\.body) == [[], bytes("xyz"), bytes("q"), []])
    }

    @Test func errorStopsParsing() {
        let input = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n"
        let events = parseEverySplit(input)
        #expect(requests(events).map(\.path) == ["/1"])
        #expect(parseError(events)?.reason == .missingHost)
        #expect(events.count == 3)
    }

    @Test func partialStateIsReported() {
        var parser = HTTPRequestParser()
        #expect(!parser.hasPartialRequest)
        parser.append(bytes("GET / HTTP/1.1\r\nHo"))
        #expect(parser.next() == nil)
        #expect(parser.hasPartialRequest)
        parser.append(bytes("st: a\r\n\r\n"))
        _ = parser.next()
        _ = parser.next()
        #expect(!parser.hasPartialRequest)
    }
}
