// Router, percent-decoding and query tests. Statuses follow RFC 9110
// (404 §15.5.5, 405 with Allow §15.5.6, 501 §15.6.2, OPTIONS §9.3.7);
// decoding follows RFC 3986 §2.1 and the form-urlencoded convention.
import Testing
@testable import WebUI

/// Parses `raw` with the real parser; the test fails if it is invalid.
func parsedRequest(_ raw: String, sourceLocation: SourceLocation = #_sourceLocation) -> HTTPRequest {
    let all = requests(parserEvents([bytes(raw)[...]], limits: HTTPParserLimits()))
    #expect(all.count == 1, "not one valid request: \(raw)", sourceLocation: sourceLocation)
    return all.first ?? HTTPRequest(head: HTTPRequestHead(method: .GET, target: .asterisk, rawTarget: "*",
                                                          version: .http1_1, headers: HTTPHeaders()))
}

private func get(_ target: String, method: String = "GET") -> HTTPRequest {
    parsedRequest("\(method) \(target) HTTP/1.1\r\nHost: a\r\n\r\n")
}

private func testRouter() -> Router {
    var router = Router()
    router.get("/") { _, _ in .text("root") }
    router.get("/api/status") { _, _ in .text("status") }
    router.get("/api/peers/:id") { _, match in .text("peer " + (match.parameters["id"] ?? "?")) }
    router.post("/api/peers/:id") { request, _ in .text("posted \(request.body.count)") }
    router.get("/static/*path") { _, match in .text("file " + (match.parameters["path"] ?? "?")) }
    router.get("/search") { _, match in
        .text(match.query.items.map { "\($0.name)=\($0.value)" }.joined(separator: ";"))
    }
    return router
}

private func body(_ response: HTTPResponse) -> String { String(decoding: response.body, as: UTF8.self) }

@Suite struct RouterTests {
    let router = testRouter()

    @Test func matchesLiteralsAndParameters() {
        #expect(body(router.handle(get("/"))) == "root")
        #expect(body(router.handle(get("/api/status"))) == "status")
        #expect(body(router.handle(get("/api/peers/eth0"))) == "peer eth0")
        #expect(body(router.handle(get("/api/peers/a%20b"))) == "peer a b")
        #expect(body(router.handle(get("/static/css/site.css"))) == "file css/site.css")
        #expect(body(router.handle(get("http://example.com/api/status"))) == "status")
    }

    @Test func unknownPathIs404() {
        #expect(router.handle(get("/nope")).status == .notFound)
        #expect(router.handle(get("/api/status/")).status == .notFound)
        #expect(router.handle(get("/api/peers/")).status == .notFound)
        #expect(router.handle(get("/API/status")).status == .notFound)
    }

    @Test func wrongMethodIs405WithAllow() {
        let response = router.handle(get("/api/status", method: "DELETE"))
        #expect(response.status == .methodNotAllowed)
        #expect(response.headers["Allow"] == "GET, HEAD, OPTIONS")
        let peers = router.handle(get("/api/peers/x", method: "PUT"))
        #expect(peers.headers["Allow"] == "GET, HEAD, OPTIONS, POST")
    }

    @Test func headRunsGetHandler() {
        #expect(body(router.handle(get("/api/status", method: "HEAD"))) == "status")
    }

    @Test func optionsListsMethods() {
        let response = router.handle(get("/api/peers/x", method: "OPTIONS"))
        #expect(response.status == .noContent)
        #expect(response.headers["Allow"] == "GET, HEAD, OPTIONS, POST")
        let server = router.handle(get("*", method: "OPTIONS"))
        #expect(server.status == .noContent)
        #expect(server.headers["Allow"] == "GET, HEAD, OPTIONS, POST")
    }

    @Test func unknownMethodIs501() {
        #expect(router.handle(get("/api/status", method: "BREW")).status == .notImplemented)
        #expect(router.handle(get("/api/status", method: "get")).status == .notImplemented)
        #expect(router.handle(parsedRequest("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n")).status
            == .notImplemented)
    }

    @Test func unmappablePathsAre400() {
        for path in ["/static/a%2Fb", "/static/a%2fb", "/api/peers/a%00", "/static/../x", "/static/%2e%2e/x",
                     "/static/%2E/x", "/static/./x", "/api/peers/%FF"]
        {
            #expect(router.handle(get(path)).status == .badRequest, "\(path)")
        }
    }

    @Test func queryParameters() {
        #expect(body(router.handle(get("/search?a=1&b=x+y&c=%26&d&&e=%C3%A9"))) == "a=1;b=x y;c=&;d=;e=\u{e9}")
        #expect(router.handle(get("/search?x=%FF")).status == .badRequest)
    }

    @Test func screenDecidesFromHead() {
        #expect(router.screen(get("/api/status").head) == nil)
        #expect(router.screen(get("/nope").head)?.status == .notFound)
        #expect(router.screen(get("/api/status", method: "POST").head)?.status == .methodNotAllowed)
    }

    @Test func screenRejectsUploadBeforeContent() {
        var configuration = testConfiguration()
        let router = self.router
        configuration.screenHead = { router.screen($0) }
        var connection = HTTPConnection(configuration: configuration, now: startInstant)
        connection.receive(bytes("POST /nope HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n"),
                           now: startInstant)
        let text = String(decoding: connection.takeOutput(), as: UTF8.self)
        #expect(statusLines(text) == ["HTTP/1.1 404 Not Found"])
        #expect(connection.isClosed)
    }
}

@Suite struct PercentDecodingTests {
    @Test func segments() {
        #expect(PercentDecoding.pathSegments("/") == .success([]))
        #expect(PercentDecoding.pathSegments("/a/b") == .success(["a", "b"]))
        #expect(PercentDecoding.pathSegments("/a/") == .success(["a", ""]))
        #expect(PercentDecoding.pathSegments("/%41%62c") == .success(["Abc"]))
        #expect(PercentDecoding.pathSegments("/a+b") == .success(["a+b"]))
    }

    @Test func rejections() {
        #expect(PercentDecoding.pathSegments("a/b") == .failure(.notAbsolute))
        #expect(PercentDecoding.pathSegments("/a%2Fb") == .failure(.encodedSlash))
        #expect(PercentDecoding.pathSegments("/a%00") == .failure(.encodedNUL))
        #expect(PercentDecoding.pathSegments("/a/%2e%2E") == .failure(.dotSegment))
        #expect(PercentDecoding.pathSegments("/.") == .failure(.dotSegment))
        #expect(PercentDecoding.pathSegments("/a%") == .failure(.malformedEscape))
        #expect(PercentDecoding.pathSegments("/a%g0") == .failure(.malformedEscape))
        #expect(PercentDecoding.pathSegments("/%C3") == .failure(.invalidUTF8))
        // "..." is an ordinary segment, not a dot-segment.
        #expect(PercentDecoding.pathSegments("/...") == .success(["..."]))
    }

    @Test func queryDecoding() {
        let query = QueryParameters(rawQuery: "q=a%20b+c&q=2&empty=&flag")
        #expect(query?.values(for: "q") == ["a b c", "2"])
        #expect(query?["empty"] == "")
        #expect(query?["flag"] == "")
        #expect(query?["missing"] == nil)
        #expect(QueryParameters(rawQuery: "a=%zz") == nil)
        #expect(QueryParameters(rawQuery: nil)?.items.isEmpty == true)
    }
}
