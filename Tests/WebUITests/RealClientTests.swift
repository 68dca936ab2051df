// HTTPConnection against real clients over loopback: curl 7.88 (Debian 12)
// and a raw socket client. Expected values are curl's documented behaviour
// (`%{num_connects}` is 0 for a transfer that reused a connection) and
// RFC 9112's rules for persistence and pipelining.
import CapnetBase
import Foundation
import Testing
@testable import WebUI

/// The router the loopback server runs, boxed so its thread can call it.
private final class RouterBox: @unchecked Sendable {
    let router: Router

    init() {
        var router = Router()
        router.get("/a") { _, _ in .text("body-a\n") }
        router.get("/b") { _, _ in .text("body-b\n") }
        router.post("/upload") { request, _ in
            .text("got \(request.body.count) bytes: " + String(decoding: request.body, as: UTF8.self))
        }
        self.router = router
    }
}

private func startServer(_ change: (inout HTTPConnection.Configuration) -> Void = { _ in }) throws -> LoopbackServer {
    var configuration = HTTPConnection.Configuration(
        limits: HTTPParserLimits(maxBodySize: 1024), requestTimeout: .seconds(10), idleTimeout: .seconds(10),
        dateClock: .system(now: MonotonicTimeSource().now()))
    change(&configuration)
    let box = RouterBox()
    return try LoopbackServer(configuration: configuration, handler: { box.router.handle($0) })
}

/// Runs curl with a time bound on every transfer.
private func curl(_ arguments: [String]) throws -> ProcessResult {
    let path = try #require(findExecutable("curl"), "curl is not installed")
    return try runProcess(path, ["--silent", "--show-error", "--max-time", "15"] + arguments, timeout: 30)
}

@Suite(.serialized) struct CurlTests {
    @Test func twoURLsReuseOneConnection() throws {
        let server = try startServer()
        defer { server.stop() }
        let result = try curl(["--write-out", "%{num_connects} %{http_code}\\n",
                               server.baseURL + "/a", server.baseURL + "/b"])
        #expect(result.status == 0, "curl: \(result.stderr)")
        #expect(result.stdout == "body-a\n1 200\nbody-b\n0 200\n")
        #expect(server.acceptedConnections == 1)
        #expect(server.handledRequests == 2)
    }

    @Test func http10ClosesUnlessKeepAlive() throws {
        let server = try startServer()
        defer { server.stop() }
        let plain = try curl(["--http1.0", "--write-out", "%{num_connects}\\n", server.baseURL + "/a",
                              server.baseURL + "/b"])
        #expect(plain.stdout == "body-a\n1\nbody-b\n1\n", "curl: \(plain.stderr)")
        let keptAlive = try curl(["--http1.0", "--header", "Connection: keep-alive", "--write-out", "%{num_connects}\\n",
                             server.baseURL + "/a", server.baseURL + "/b"])
        #expect(keptAlive.stdout == "body-a\n1\nbody-b\n0\n", "curl: \(keptAlive.stderr)")
        #expect(server.acceptedConnections == 3)
    }

    @Test func connectionCloseFromClient() throws {
        let server = try startServer()
        defer { server.stop() }
        let result = try curl(["--header", "Connection: close", "--write-out", "%{num_connects}\\n",
                               server.baseURL + "/a", server.baseURL + "/b"])
        #expect(result.stdout == "body-a\n1\nbody-b\n1\n", "curl: \(result.stderr)")
        #expect(server.acceptedConnections == 2)
    }

    @Test func headThenReuse() throws {
        // A content byte after the HEAD response would corrupt the next
        // response on the reused connection.
        let server = try startServer()
        defer { server.stop() }
        let result = try curl(["--head", "--write-out", "%{num_connects} %{http_code}\\n",
                               server.baseURL + "/a", server.baseURL + "/b"])
        #expect(result.status == 0, "curl: \(result.stderr)")
        #expect(result.stdout.contains("Content-Length: 7\r\n"))
        #expect(result.stdout.hasSuffix("0 200\n"))
        #expect(!result.stdout.contains("body-a"))
        #expect(server.acceptedConnections == 1)
    }

    @Test func statusCodes() throws {
        let server = try startServer()
        defer { server.stop() }
        func code(_ extra: [String], _ path: String) throws -> String {
            try curl(["--output", "/dev/null", "--write-out", "%{http_code}"] + extra + [server.baseURL + path]).stdout
        }
        #expect(try code([], "/nope") == "404")
        #expect(try code(["--request", "DELETE"], "/a") == "405")
        #expect(try code(["--request", "BREW"], "/a") == "501")
        let allow = try curl(["--request", "DELETE", "--dump-header", "-", "--output", "/dev/null",
                              server.baseURL + "/a"])
        #expect(allow.stdout.contains("Allow: GET, HEAD, OPTIONS\r\n"))
    }

    @Test func expectContinueUpload() throws {
        // With a 30 s expect timeout and a 15 s transfer limit, curl only
        // succeeds if the server sends 100 Continue.
        let server = try startServer()
        defer { server.stop() }
        let result = try curl(["--verbose", "--expect100-timeout", "30", "--header", "Expect: 100-continue",
                               "--data-binary", "hello-upload", server.baseURL + "/upload"])
        #expect(result.status == 0, "curl: \(result.stderr)")
        #expect(result.stdout == "got 12 bytes: hello-upload")
        #expect(result.stderr.contains("< HTTP/1.1 100 Continue"))
    }

    @Test func expectContinueRejectedFirst() throws {
        // Content over the 1024-byte bound: 413 instead of 100, before curl
        // sends the content.
        let server = try startServer()
        defer { server.stop() }
        let result = try curl(["--verbose", "--expect100-timeout", "30", "--header", "Expect: 100-continue",
                               "--data-binary", String(repeating: "x", count: 2000), "--output", "/dev/null",
                               "--write-out", "%{http_code}", server.baseURL + "/upload"])
        #expect(result.stdout == "413", "curl: \(result.stderr)")
        #expect(!result.stderr.contains("100 Continue"))
    }

    @Test func chunkedUpload() throws {
        let server = try startServer()
        defer { server.stop() }
        let result = try curl(["--header", "Transfer-Encoding: chunked", "--data-binary", "chunked-data",
                               server.baseURL + "/upload"])
        #expect(result.status == 0, "curl: \(result.stderr)")
        #expect(result.stdout == "got 12 bytes: chunked-data")
    }
}

@Suite(.serialized) struct RawClientTests {
    @Test func pipelinedPairInOneWrite() throws {
        let server = try startServer()
        defer { server.stop() }
        let request = "GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            + "GET /b HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        let text = String(decoding: try rawExchange(port: server.port, request: bytes(request)), as: UTF8.self)
        #expect(statusLines(text) == ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"])
        let a = text.range(of: "\r\n\r\nbody-a\n"), b = text.range(of: "\r\n\r\nbody-b\n")
        #expect(a != nil)
        #expect(b != nil)
        if let a, let b { #expect(a.upperBound <= b.lowerBound) }
        #expect(text.hasSuffix("body-b\n"))
        #expect(text.components(separatedBy: "Connection: close\r\n").count == 2)
        #expect(server.handledRequests == 2)
    }

    @Test func malformedThirdRequestGets400AfterTwo() throws {
        let server = try startServer()
        defer { server.stop() }
        let request = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost : x\r\n\r\n"
        let text = String(decoding: try rawExchange(port: server.port, request: bytes(request)), as: UTF8.self)
        #expect(statusLines(text) == ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request"])
    }

    @Test func partialRequestTimesOutWith408() throws {
        let server = try startServer { $0.requestTimeout = .milliseconds(300) }
        defer { server.stop() }
        let text = String(decoding: try rawExchange(port: server.port, request: bytes("GET /a HTTP/1.1\r\nHost:")),
                          as: UTF8.self)
        #expect(statusLines(text) == ["HTTP/1.1 408 Request Timeout"])
        #expect(text.contains("Connection: close\r\n"))
    }
}
