import Foundation
import CapnetBase
import Testing
@testable import Acme

typealias SeededRandomForTests = SeededRandom

@Suite struct ACMEWireTests {
    /// The problem document of RFC 8555 §6.7.1.
    @Test func problemWithSubproblems() throws {
        let json = """
        {
            "type": "urn:ietf:params:acme:error:malformed",
            "detail": "Some of the identifiers requested were rejected",
            "subproblems": [
                {
                    "type": "urn:ietf:params:acme:error:malformed",
                    "detail": "Invalid underscore in DNS name \\"_example.org\\"",
                    "identifier": {
                        "type": "dns",
                        "value": "_example.org"
                    }
                },
                {
                    "type": "urn:ietf:params:acme:error:rejectedIdentifier",
                    "detail": "This CA will not issue for \\"example.net\\"",
                    "identifier": {
                        "type": "dns",
                        "value": "example.net"
                    }
                }
            ]
        }
        """
        let problem = try JSONDecoder().decode(ACMEProblem.self, from: Data(json.utf8))
        #expect(problem.type == .malformed)
        #expect(problem.detail == "Some of the identifiers requested were rejected")
        #expect(problem.subproblems?.count == 2)
        #expect(problem.subproblems?[1].type == .rejectedIdentifier)
        #expect(problem.subproblems?[1].identifier == .dns("example.net"))
    }

    /// RFC 8288 §3.5 style values, several links in one header.
    @Test func linkHeaders() {
        let links = ACMEHTTPResponse.parseLinks("<https://example.com/acme/cert/1/1>;rel=\"alternate\", <https://example.com/acme/directory>;rel=\"index\"")
        #expect(links == [HTTPLink(url: "https://example.com/acme/cert/1/1", relation: "alternate"),
                          HTTPLink(url: "https://example.com/acme/directory", relation: "index")])
        let quoted = ACMEHTTPResponse.parseLinks("<http://example.org/>; rel=\"start http://example.net/relation/other\"; title=\"a, b\"")
        #expect(quoted.map(\.relation) == ["start", "http://example.net/relation/other"])
    }

    /// RFC 9110 §10.2.3 gives both forms: an HTTP-date and delta-seconds.
    @Test func retryAfterForms() {
        let now = ACMEHTTPResponse.httpDate("Fri, 31 Dec 1999 23:58:59 GMT")!
        let dated = ACMEHTTPResponse(status: 503, headers: [("Retry-After", "Fri, 31 Dec 1999 23:59:59 GMT")])
        #expect(dated.retryAfter(now: now) == .seconds(60))
        let delta = ACMEHTTPResponse(status: 503, headers: [("retry-after", "120")])
        #expect(delta.retryAfter(now: now) == .seconds(120))
        let garbage = ACMEHTTPResponse(status: 503, headers: [("Retry-After", "soon")])
        #expect(garbage.retryAfter(now: now) == nil)
        let past = ACMEHTTPResponse(status: 503, headers: [("Retry-After", "Fri, 31 Dec 1999 23:00:00 GMT")])
        #expect(past.retryAfter(now: now) == .zero)
    }

    @Test func replayNonceMustBeBase64URL() {
        #expect(ACMEHTTPResponse(status: 200, headers: [("Replay-Nonce", "oFvnlFP1wIhRlYS2jTaXbA")]).replayNonce == "oFvnlFP1wIhRlYS2jTaXbA")
        #expect(ACMEHTTPResponse(status: 200, headers: [("Replay-Nonce", "bad nonce=")]).replayNonce == nil)
    }
}
