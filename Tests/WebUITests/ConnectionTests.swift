// HTTPConnection tests: framing of responses, pipelining order,
// persistence, 100-continue, error statuses and timers. Wire formats follow
// RFC 9112 (status line §4, framing §6, persistence §9) and RFC 9110.
import CapnetBase
import Foundation
import Testing
@testable import WebUI

private let get = "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n"

@Suite struct ResponseFramingTests {
    @Test func simpleResponseBytes() {
        let result = driveEverySplit(get) { _ in .text("hello") }
        #expect(result.output == "HTTP/1.1 200 OK\r\n"
            + "Date: \(rfcExampleDate)\r\n"
            + "Server: capnet\r\n"
            + "Content-Type: text/plain; charset=utf-8\r\n"
            + "Content-Length: 5\r\n"
            + "\r\n"
            + "hello")
        #expect(!result.closed)
    }

    @Test func headHasNoContent() {
        // RFC 9110 §9.3.2: same fields as GET, no content.
        let result = driveEverySplit("HEAD /a HTTP/1.1\r\nHost: a\r\n\r\n") { _ in .text("hello") }
        #expect(result.output.hasSuffix("Content-Length: 5\r\n\r\n"))
        #expect(!result.output.contains("hello"))
    }

    @Test func noContentStatusesHaveNoLength() {
        // RFC 9110 §8.6: no Content-Length in a 204 response.
        let result = drive([bytes(get)[...]]) { _ in HTTPResponse(status: .noContent, body: bytes("x")) }
        #expect(result.output == "HTTP/1.1 204 No Content\r\nDate: \(rfcExampleDate)\r\nServer: capnet\r\n\r\n")
    }

    @Test func dateFollowsInjectedClock() {
        let clock = HTTPDateClock(unixNanoseconds: 0, at: .zero)
        #expect(clock.date(at: Instant(nanoseconds: rfcExampleUnixSeconds * 1_000_000_000)).imfFixdate
            == rfcExampleDate)
        // 2000-02-29 (a leap day in a year divisible by 400) and the epoch.
        #expect(HTTPDate(secondsSinceEpoch: 951_782_400).imfFixdate == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(HTTPDate(secondsSinceEpoch: 0).imfFixdate == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate(secondsSinceEpoch: 4_102_444_799).imfFixdate == "Thu, 31 Dec 2099 23:59:59 GMT")
    }

    @Test func handlerFieldsAreSanitized() {
        var headers = HTTPHeaders()
        headers.add(name: "X-Evil", value: "a\r\nSet-Cookie: x=y")
        headers.add(name: "Bad Name", value: "v")
        headers.add(name: "Content-Length", value: "999")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        headers.add(name: "X-Good", value: "ok")
        let result = drive([bytes(get)[...]]) { _ in HTTPResponse(status: .ok, headers: headers, body: bytes("ab")) }
        #expect(!result.output.contains("Set-Cookie"))
        #expect(!result.output.contains("Bad Name"))
        #expect(!result.output.contains("999"))
        #expect(!result.output.contains("chunked"))
        #expect(result.output.contains("X-Good: ok\r\n"))
        #expect(result.output.contains("Content-Length: 2\r\n"))
    }

    @Test func interimStatusFromHandlerBecomes500() {
        let result = drive([bytes(get)[...]]) { _ in HTTPResponse(status: .continue) }
        #expect(statusLines(result.output) == ["HTTP/1.1 500 Internal Server Error"])
    }
}

@Suite struct PipelineTests {
    @Test func pipelinedResponsesInOrder() {
        let input = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
            + "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
            + "POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nT: 1\r\n\r\n"
            + "HEAD /4 HTTP/1.1\r\nHost: a\r\n\r\n"
        let result = driveEverySplit(input)
        #expect(result.handled == ["/1", "/2", "/3", "/4"])
        let bodies = ["GET /1 ", "POST /2 xyz", "POST /3 hi"]
        var cursor = result.output.startIndex
        for body in bodies {
            let range = result.output.range(of: body, range: cursor..<result.output.endIndex)
            #expect(range != nil, "missing \(body)")
            if let range { cursor = range.upperBound }
        }
        #expect(statusLines(result.output).count == 4)
        // HEAD: the length of "HEAD /4 ", and no content after the fields.
        #expect(result.output.hasSuffix("Content-Length: 8\r\n\r\n"))
        #expect(!result.closed)
    }

    @Test func outOfOrderResponsesAreSerializedInOrder() {
        var connection = HTTPConnection(configuration: testConfiguration(), now: startInstant)
        connection.receive(bytes("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
            + "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n"), now: startInstant)
        var ids: [HTTPConnection.RequestID] = []
        while let incoming = connection.nextRequest() { ids.append(incoming.id) }
        #expect(ids.count == 3)
        connection.respond(to: ids[2], with: .text("three"), now: startInstant)
        connection.respond(to: ids[1], with: .text("two"), now: startInstant)
        #expect(!connection.hasOutput)
        connection.respond(to: ids[0], with: .text("one"), now: startInstant)
        let text = String(decoding: connection.takeOutput(), as: UTF8.self)
        let one = text.range(of: "one"), two = text.range(of: "two"), three = text.range(of: "three")
        #expect(one != nil)
        #expect(two != nil)
        #expect(three != nil)
        if let one, let two, let three {
            #expect(one.lowerBound < two.lowerBound)
            #expect(two.lowerBound < three.lowerBound)
        }
        // A second response for the same request is ignored.
        connection.respond(to: ids[0], with: .text("again"), now: startInstant)
        #expect(!connection.hasOutput)
    }

    @Test func pipelineBoundPausesParsing() {
        let configuration = testConfiguration { $0.maxPipelinedRequests = 2 }
        var connection = HTTPConnection(configuration: configuration, now: startInstant)
        connection.receive(bytes(String(repeating: get, count: 3)), now: startInstant)
        let first = connection.nextRequest()
        let second = connection.nextRequest()
        let third = connection.nextRequest()
        #expect(first != nil)
        #expect(second != nil)
        #expect(third == nil)
        #expect(!connection.wantsInput)
        connection.respond(to: first!.id, with: .text("1"), now: startInstant)
        let resumed = connection.nextRequest()
        #expect(resumed != nil)
        #expect(resumed.map { $0.id > second!.id } == true)
    }

    @Test func bufferedInputOverflowStopsReading() {
        let configuration = testConfiguration {
            $0.maxPipelinedRequests = 1
            $0.maxBufferedInput = 100
        }
        var connection = HTTPConnection(configuration: configuration, now: startInstant)
        connection.receive(bytes(get), now: startInstant)
        let first = connection.nextRequest()
        connection.receive(bytes(String(repeating: get, count: 4)), now: startInstant)
        #expect(connection.statistics.inputOverflows == 1)
        connection.respond(to: first!.id, with: .text("1"), now: startInstant)
        let text = String(decoding: connection.takeOutput(), as: UTF8.self)
        #expect(text.contains("Connection: close\r\n"))
        #expect(connection.isClosed)
        #expect(connection.nextRequest() == nil)
    }
}

@Suite struct PersistenceTests {
    @Test func http11PersistsByDefault() {
        let result = driveEverySplit(get + get)
        #expect(result.handled.count == 2)
        #expect(!result.output.contains("Connection:"))
        #expect(!result.closed)
    }

    @Test func http10ClosesWithoutKeepAlive() {
        // RFC 9112 §9.3: HTTP/1.0 persists only with "keep-alive".
        let result = driveEverySplit("GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n")
        #expect(result.handled == ["/a"])
        #expect(result.output.contains("Connection: close\r\n"))
        #expect(result.closed)
    }

    @Test func http10KeepAlive() {
        let request = "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        let result = driveEverySplit(request + request)
        #expect(result.handled.count == 2)
        #expect(result.output.components(separatedBy: "Connection: keep-alive\r\n").count == 3)
        #expect(!result.closed)
    }

    @Test func clientCloseStopsProcessing() {
        // RFC 9112 §9.6: close after the response to the request with
        // "close", and process no further requests.
        let result = driveEverySplit("GET /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" + get)
        #expect(result.handled == ["/a"])
        #expect(statusLines(result.output).count == 1)
        #expect(result.output.contains("Connection: close\r\n"))
        #expect(result.closed)
    }

    @Test func serverCloseStopsProcessing() {
        let result = driveEverySplit(get + get) { _ in
            HTTPResponse(status: .ok, headers: ["Connection": "close"], body: bytes("x"))
        }
        #expect(statusLines(result.output).count == 1)
        #expect(result.output.components(separatedBy: "Connection: close\r\n").count == 2)
        #expect(result.closed)
    }

    @Test func endOfInputAnswersPendingThenCloses() {
        let result = driveEverySplit(get + get, endOfInput: true)
        #expect(statusLines(result.output) == ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"])
        #expect(result.closed)

        // Responses owed at the end of input: the last one announces the close.
        var connection = HTTPConnection(configuration: testConfiguration(), now: startInstant)
        connection.receive(bytes(get + get), now: startInstant)
        connection.receiveEndOfInput(now: startInstant)
        let first = connection.nextRequest()
        let second = connection.nextRequest()
        connection.respond(to: first!.id, with: .text("1"), now: startInstant)
        #expect(!connection.isClosed)
        connection.respond(to: second!.id, with: .text("2"), now: startInstant)
        let parts = String(decoding: connection.takeOutput(), as: UTF8.self).components(separatedBy: "HTTP/1.1 200 OK")
        #expect(parts.count == 3)
        #expect(!parts[1].contains("Connection: close"))
        #expect(parts[2].contains("Connection: close\r\n"))
        #expect(connection.isClosed)
    }

    @Test func endOfInputDropsPartialRequest() {
        let result = drive([bytes("GET /a HTTP/1.1\r\nHo")[...]], endOfInput: true)
        #expect(result.output.isEmpty)
        #expect(result.closed)
    }
}

@Suite struct ErrorStatusTests {
    /// Returns the status line of the connection's response to `input`. The
    /// connection must close after it and hand no request to the owner.
    private func rejection(_ input: String, configuration: HTTPConnection.Configuration = testConfiguration(),
                           sourceLocation: SourceLocation = #_sourceLocation) -> String?
    {
        let result = driveEverySplit(input, configuration: configuration, sourceLocation: sourceLocation)
        #expect(result.closed, sourceLocation: sourceLocation)
        #expect(result.handled.isEmpty, sourceLocation: sourceLocation)
        #expect(result.output.contains("Connection: close\r\n"), sourceLocation: sourceLocation)
        return statusLines(result.output).first
    }

    @Test func malformedRequestIs400() {
        #expect(rejection("GET / HTTP/1.1\r\n\r\n") == "HTTP/1.1 400 Bad Request")
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n") == "HTTP/1.1 400 Bad Request")
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            == "HTTP/1.1 400 Bad Request")
    }

    @Test func limitStatuses() {
        let small = testConfiguration {
            $0.limits = HTTPParserLimits(maxRequestLineLength: 64, maxHeaderSectionSize: 64, maxBodySize: 4)
        }
        #expect(rejection("GET /" + String(repeating: "u", count: 80) + " HTTP/1.1\r\n\r\n", configuration: small)
            == "HTTP/1.1 414 URI Too Long")
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "h", count: 80) + "\r\n\r\n",
                          configuration: small) == "HTTP/1.1 431 Request Header Fields Too Large")
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", configuration: small)
            == "HTTP/1.1 413 Content Too Large")
    }

    @Test func notImplementedAndVersionStatuses() {
        #expect(rejection("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n") == "HTTP/1.1 501 Not Implemented")
        #expect(rejection("GET / HTTP/3.0\r\nHost: a\r\n\r\n") == "HTTP/1.1 505 HTTP Version Not Supported")
        #expect(rejection("PUT / HTTP/1.1\r\nHost: a\r\nExpect: x\r\nContent-Length: 1\r\n\r\nx")
            == "HTTP/1.1 417 Expectation Failed")
    }

    @Test func errorAfterGoodRequestKeepsOrder() {
        let result = driveEverySplit(get + "BAD\r\n\r\n" + get)
        #expect(result.handled == ["/a"])
        #expect(statusLines(result.output) == ["HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request"])
        #expect(result.closed)
    }

    @Test func errorWaitsForEarlierResponse() {
        var connection = HTTPConnection(configuration: testConfiguration(), now: startInstant)
        connection.receive(bytes(get + "GET / HTTP/1.1\r\n\r\n"), now: startInstant)
        let first = connection.nextRequest()
        #expect(!connection.hasOutput)
        #expect(!connection.isClosed)
        connection.respond(to: first!.id, with: .text("ok"), now: startInstant)
        let text = String(decoding: connection.takeOutput(), as: UTF8.self)
        #expect(statusLines(text) == ["HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request"])
        #expect(connection.isClosed)
    }
}

@Suite struct ContinueTests {
    private let upload = "PUT /u HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"

    @Test func continueBeforeBody() {
        // RFC 9110 §10.1.1: send 100 (Continue) to encourage the content.
        var connection = HTTPConnection(configuration: testConfiguration(), now: startInstant)
        connection.receive(bytes(upload), now: startInstant)
        #expect(connection.takeOutput() == bytes("HTTP/1.1 100 Continue\r\n\r\n"))
        #expect(connection.nextRequest() == nil)
        connection.receive(bytes("data"), now: startInstant)
        let incoming = connection.nextRequest()
        #expect(incoming?.request.body == bytes("data"))
        connection.respond(to: incoming!.id, with: .text("stored"), now: startInstant)
        #expect(statusLines(String(decoding: connection.takeOutput(), as: UTF8.self)) == ["HTTP/1.1 200 OK"])
    }

    @Test func continueSentOnceWhateverTheSplit() {
        let result = driveEverySplit(upload + "data")
        #expect(result.output.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"))
        #expect(result.output.components(separatedBy: "100 Continue").count == 2)
    }

    @Test func continueWaitsForEarlierResponses() {
        var connection = HTTPConnection(configuration: testConfiguration(), now: startInstant)
        connection.receive(bytes(get + upload), now: startInstant)
        let first = connection.nextRequest()
        #expect(!connection.hasOutput)
        connection.respond(to: first!.id, with: .text("one"), now: startInstant)
        let text = String(decoding: connection.takeOutput(), as: UTF8.self)
        #expect(text.hasSuffix("one" + "HTTP/1.1 100 Continue\r\n\r\n"))
    }

    @Test func rejectedRequestGetsNoContinue() {
        let configuration = testConfiguration { $0.limits = HTTPParserLimits(maxBodySize: 3) }
        let result = driveEverySplit(upload, configuration: configuration)
        #expect(statusLines(result.output) == ["HTTP/1.1 413 Content Too Large"])
        #expect(!result.output.contains("100 Continue"))
        #expect(result.closed)
    }

    @Test func screenedRequestGetsNoContinue() {
        let configuration = testConfiguration {
            $0.screenHead = { head in head.target.path == "/u" ? .error(.forbidden) : nil }
        }
        let result = driveEverySplit(upload + "data", configuration: configuration)
        #expect(statusLines(result.output) == ["HTTP/1.1 403 Forbidden"])
        #expect(result.handled.isEmpty)
        #expect(result.closed)
    }

    @Test func screenedBodilessRequestKeepsConnection() {
        let configuration = testConfiguration {
            $0.screenHead = { head in head.target.path == "/a" ? .error(.notFound) : nil }
        }
        let result = driveEverySplit(get + "GET /b HTTP/1.1\r\nHost: a\r\n\r\n", configuration: configuration)
        #expect(statusLines(result.output) == ["HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK"])
        #expect(result.handled == ["/b"])
        #expect(!result.closed)
    }
}

@Suite struct TimerTests {
    private let configuration = testConfiguration {
        $0.requestTimeout = .seconds(10)
        $0.idleTimeout = .seconds(30)
    }

    @Test func idleTimeoutClosesSilently() {
        var connection = HTTPConnection(configuration: configuration, now: startInstant)
        #expect(connection.nextDeadline == startInstant + .seconds(30))
        connection.handleTimeouts(now: startInstant + .seconds(29))
        #expect(!connection.isClosed)
        connection.handleTimeouts(now: startInstant + .seconds(30))
        #expect(connection.isClosed)
        #expect(!connection.hasOutput)
        #expect(connection.nextDeadline == nil)
    }

    @Test func requestTimeoutSends408() {
        var connection = HTTPConnection(configuration: configuration, now: startInstant)
        let arrival = startInstant + .seconds(5)
        connection.receive(bytes("GET / HTTP/1.1\r\nHo"), now: arrival)
        #expect(connection.nextDeadline == arrival + .seconds(10))
        connection.receive(bytes("st: a\r\n"), now: arrival + .seconds(9))
        #expect(connection.nextDeadline == arrival + .seconds(10))
        connection.handleTimeouts(now: arrival + .seconds(10))
        let text = String(decoding: connection.takeOutput(), as: UTF8.self)
        #expect(statusLines(text) == ["HTTP/1.1 408 Request Timeout"])
        #expect(text.contains("Connection: close\r\n"))
        #expect(connection.isClosed)
    }

    @Test func slowBodyTimesOut() {
        var connection = HTTPConnection(configuration: configuration, now: startInstant)
        connection.receive(bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"), now: startInstant)
        connection.handleTimeouts(now: startInstant + .seconds(10))
        #expect(statusLines(String(decoding: connection.takeOutput(), as: UTF8.self))
            == ["HTTP/1.1 408 Request Timeout"])
        #expect(connection.nextRequest() == nil)
        #expect(connection.isClosed)
    }

    @Test func lateBytesRunTheExpiredTimerFirst() {
        var connection = HTTPConnection(configuration: configuration, now: startInstant)
        connection.receive(bytes(get), now: startInstant + .seconds(31))
        #expect(connection.isClosed)
        #expect(connection.nextRequest() == nil)
    }

    @Test func idleTimerRestartsAfterResponse() {
        var connection = HTTPConnection(configuration: configuration, now: startInstant)
        connection.receive(bytes(get), now: startInstant + .seconds(1))
        let incoming = connection.nextRequest()
        // No timer runs while the owner prepares the response.
        #expect(connection.nextDeadline == nil)
        connection.respond(to: incoming!.id, with: .text("x"), now: startInstant + .seconds(20))
        #expect(connection.nextDeadline == startInstant + .seconds(50))
        connection.handleTimeouts(now: startInstant + .seconds(40))
        #expect(!connection.isClosed)
    }

    @Test func dateUsesResponseTime() {
        var connection = HTTPConnection(configuration: configuration, now: startInstant)
        connection.receive(bytes(get), now: startInstant)
        let incoming = connection.nextRequest()
        connection.respond(to: incoming!.id, with: .text("x"), now: startInstant + .seconds(61))
        let text = String(decoding: connection.takeOutput(), as: UTF8.self)
        #expect(text.contains("Date: Sun, 06 Nov 1994 08:50:38 GMT\r\n"))
    }
}

@Suite struct ContinueTimerTests {
    @Test func noRequestTimerWhileContinueWaits() {
        let configuration = testConfiguration { $0.requestTimeout = .seconds(10) }
        var connection = HTTPConnection(configuration: configuration, now: startInstant)
        let upload = "PUT /u HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
        connection.receive(bytes("GET /a HTTP/1.1\r\nHost: a\r\n\r\n" + upload), now: startInstant)
        let first = connection.nextRequest()
        // The 100 Continue is owed but blocked behind the first response.
        #expect(connection.nextDeadline == nil)
        connection.handleTimeouts(now: startInstant + .seconds(20))
        #expect(!connection.hasOutput)
        connection.respond(to: first!.id, with: .text("one"), now: startInstant + .seconds(20))
        #expect(String(decoding: connection.takeOutput(), as: UTF8.self).hasSuffix("HTTP/1.1 100 Continue\r\n\r\n"))
        // Now the client owes the content, and the timer runs from here.
        #expect(connection.nextDeadline == startInstant + .seconds(30))
    }
}
