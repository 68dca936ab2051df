import Testing
@testable import Acme

/// Tests of the HTTP/1.1 response reader of the stack's ACME transport, against the
/// message framing rules of RFC 9112 §6.3 and §7.1.
@Suite struct HTTPResponseReaderTests {
    /// Feeds `text` one byte at a time and returns the response once complete.
    static func readByteByByte(_ text: String, head: Bool = false,
                               endOfStream: Bool = false) throws -> (HTTPResponseReader, Bool) {
        var reader = HTTPResponseReader(isHeadRequest: head)
        var complete = false
        for byte in Array(text.utf8) {
            #expect(!complete, "bytes after the end of the response")
            complete = try reader.receive([byte])
        }
        if endOfStream && !complete {
            try reader.receiveEndOfStream()
            complete = reader.isComplete
        }
        return (reader, complete)
    }

    @Test func contentLengthFramesTheBody() throws {
        let text = "HTTP/1.1 201 Created\r\nLocation: /acme/order/1\r\nReplay-Nonce: abc\r\n"
            + "Content-Length: 11\r\n\r\n{\"ok\":true}"
        let (reader, complete) = try Self.readByteByByte(text)
        #expect(complete)
        let response = reader.response
        #expect(response.status == 201)
        #expect(response.header("location") == "/acme/order/1")
        #expect(response.header("REPLAY-NONCE") == "abc")
        #expect(String(decoding: response.body, as: UTF8.self) == "{\"ok\":true}")
    }

    @Test func chunkedBodyWithExtensionAndTrailer() throws {
        // RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF chunk-data CRLF ...
        // last-chunk, trailer section, CRLF.
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n"
            + "5;name=value\r\nhello\r\n" + "1A\r\n" + String(repeating: "x", count: 26) + "\r\n"
            + "0\r\nExpires: never\r\n\r\n"
        let (reader, complete) = try Self.readByteByByte(text)
        #expect(complete)
        // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3 rule 3).
        #expect(reader.response.body == Array(("hello" + String(repeating: "x", count: 26)).utf8))
    }

    @Test func closeDelimitedBodyEndsWithTheStream() throws {
        var reader = HTTPResponseReader(isHeadRequest: false)
        #expect(try !reader.receive(Array("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ".utf8)))
        #expect(try !reader.receive(Array("part two".utf8)))
        try reader.receiveEndOfStream()
        #expect(reader.isComplete)
        #expect(String(decoding: reader.response.body, as: UTF8.self) == "part one, part two")
    }

    @Test func headAndNoContentResponsesHaveNoBody() throws {
        let head = "HTTP/1.1 200 OK\r\nReplay-Nonce: n1\r\nContent-Length: 512\r\n\r\n"
        let (headReader, headComplete) = try Self.readByteByByte(head, head: true)
        #expect(headComplete)
        #expect(headReader.response.body.isEmpty)
        #expect(headReader.response.header("Replay-Nonce") == "n1")

        let (_, noContentComplete) = try Self.readByteByByte("HTTP/1.1 204 No Content\r\nReplay-Nonce: n2\r\n\r\n")
        #expect(noContentComplete)
    }

    @Test func interimResponseIsSkipped() throws {
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let (reader, complete) = try Self.readByteByByte(text)
        #expect(complete)
        #expect(reader.response.status == 200)
        #expect(reader.response.headers.count == 1)
    }

    @Test func malformedResponsesAreRejected() {
        let cases: [(String, HTTPResponseReader.Failure)] = [
            ("HTTP/2 200 OK\r\n\r\n", .malformedStatusLine("HTTP/2 200 OK")),
            ("HTTP/1.1 20 OK\r\n\r\n", .malformedStatusLine("HTTP/1.1 20 OK")),
            // RFC 9112 §5.1: no whitespace between field name and colon.
            ("HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", .malformedField("Content-Length : 2")),
            // RFC 9112 §5.2: obsolete line folding is rejected.
            ("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", .malformedField(" folded")),
            // RFC 9112 §6.3 rule 5: differing Content-Length values.
            ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", .invalidContentLength("2,3")),
            ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .invalidContentLength("-1")),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n", .malformedChunk("chunk size \"ZZ\"")),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n",
             .malformedChunk("chunk data not followed by CRLF")),
        ]
        for (text, expected) in cases {
            var reader = HTTPResponseReader(isHeadRequest: false)
            #expect(throws: expected, "\(text)") { _ = try reader.receive(Array(text.utf8)) }
        }
    }

    @Test func boundsAreEnforced() {
        var limits = HTTPResponseReader.Limits()
        limits.maximumHeaderBytes = 64
        limits.maximumBodyBytes = 8
        var header = HTTPResponseReader(isHeadRequest: false, limits: limits)
        #expect(throws: HTTPResponseReader.Failure.headerTooLarge(limit: 64)) {
            _ = try header.receive(Array(("HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 80)).utf8))
        }
        var declared = HTTPResponseReader(isHeadRequest: false, limits: limits)
        #expect(throws: HTTPResponseReader.Failure.bodyTooLarge(limit: 8)) {
            _ = try declared.receive(Array("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n".utf8))
        }
        var chunked = HTTPResponseReader(isHeadRequest: false, limits: limits)
        #expect(throws: HTTPResponseReader.Failure.bodyTooLarge(limit: 8)) {
            _ = try chunked.receive(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\n".utf8))
        }
        var streamed = HTTPResponseReader(isHeadRequest: false, limits: limits)
        #expect(throws: HTTPResponseReader.Failure.bodyTooLarge(limit: 8)) {
            _ = try streamed.receive(Array("HTTP/1.1 200 OK\r\n\r\n123456789".utf8))
        }
    }

    @Test func truncatedResponseFailsAtEndOfStream() throws {
        var reader = HTTPResponseReader(isHeadRequest: false)
        _ = try reader.receive(Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8))
        #expect(throws: HTTPResponseReader.Failure.truncated("status 200, 3 body bytes so far")) {
            try reader.receiveEndOfStream()
        }
        var empty = HTTPResponseReader(isHeadRequest: false)
        #expect(throws: HTTPResponseReader.Failure.truncated("no status line received")) {
            try empty.receiveEndOfStream()
        }
    }
}

@Suite struct HTTPSRequestTargetTests {
    @Test func parsesHostPortAndTarget() throws {
        let directory = try HTTPSRequestTarget(url: "https://acme-staging-v02.api.letsencrypt.org/directory")
        #expect(directory.host == "acme-staging-v02.api.letsencrypt.org")
        #expect(directory.port == 443)
        #expect(directory.pathAndQuery == "/directory")
        #expect(directory.address == nil)
        #expect(directory.hostField == "acme-staging-v02.api.letsencrypt.org")

        let pebble = try HTTPSRequestTarget(url: "https://192.0.2.1:14000/acme/authz/x?y=1#frag")
        #expect(pebble.address?.description == "192.0.2.1")
        #expect(pebble.port == 14000)
        #expect(pebble.pathAndQuery == "/acme/authz/x?y=1")
        #expect(pebble.hostField == "192.0.2.1:14000")

        #expect(try HTTPSRequestTarget(url: "https://Example.ORG").pathAndQuery == "/")
        #expect(try HTTPSRequestTarget(url: "https://Example.ORG").host == "example.org")
    }

    @Test func rejectsWhatTheTransportCannotReach() {
        for url in ["http://192.0.2.1/dir", "https://user@192.0.2.1/dir", "https://[2001:db8::1]/dir",
                    "https://192.0.2.1:0/dir", "https://192.0.2.1:99999/dir", "https:///dir", "https://a b/dir"] {
            #expect(throws: ACMEError.self, "\(url)") { _ = try HTTPSRequestTarget(url: url) }
        }
    }

    @Test func encodesTheRequestHead() throws {
        let target = try HTTPSRequestTarget(url: "https://192.0.2.1:14000/acme/new-order")
        let request = ACMEHTTPRequest(method: "POST", url: "https://192.0.2.1:14000/acme/new-order",
                                      headers: [(name: "Content-Type", value: "application/jose+json"),
                                                (name: "Connection", value: "keep-alive")],
                                      body: Array("{}".utf8))
        let text = String(decoding: target.encode(request, userAgent: "capnet/test"), as: UTF8.self)
        #expect(text == "POST /acme/new-order HTTP/1.1\r\nHost: 192.0.2.1:14000\r\nUser-Agent: capnet/test\r\n"
            + "Connection: close\r\nContent-Type: application/jose+json\r\nAccept: */*\r\n"
            + "Content-Length: 2\r\n\r\n{}")
    }
}
