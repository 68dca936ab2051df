// Port-80 service and http-01 capability tests. Paths and responses follow
// RFC 8555 §8.3 (challenge path, token alphabet, key authorization) and
// RFC 9110 §15.4.9 (308). Host rules follow RFC 1123 §2.1 and RFC 3986.
import Testing
@testable import WebUI

// The token and key authorization of the http-01 example in RFC 8555 §8.3.
private let token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
private let keyAuthorization = token + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
private let otherToken = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"

private func request(_ target: String, host: String? = "example.com", method: String = "GET",
                     version: String = "HTTP/1.1") -> HTTPRequest
{
    let hostLine = host.map { "Host: \($0)\r\n" } ?? ""
    return parsedRequest("\(method) \(target) \(version)\r\n\(hostLine)\r\n")
}

@Suite struct ACMEChallengeCapabilityTests {
    @Test func publishAndRetire() throws {
        let board = ACMEChallengeBoard()
        let reader = board.reader
        let publisher = try board.mintPublisher(tokens: [token])
        #expect(reader.keyAuthorization(for: token) == nil)
        try publisher.publish(token: token, keyAuthorization: keyAuthorization)
        #expect(reader.keyAuthorization(for: token) == keyAuthorization)
        try publisher.retire(token: token)
        #expect(reader.keyAuthorization(for: token) == nil)
        try publisher.publish(token: token, keyAuthorization: keyAuthorization)
        publisher.retireAll()
        #expect(reader.keyAuthorization(for: token) == nil)
    }

    @Test func publisherIsScopedToItsTokens() throws {
        let board = ACMEChallengeBoard()
        let orderA = try board.mintPublisher(tokens: [token])
        let orderB = try board.mintPublisher(tokens: [otherToken])
        try orderA.publish(token: token, keyAuthorization: keyAuthorization)
        #expect(throws: ACMEChallengeError.tokenNotInScope(otherToken)) {
            try orderA.publish(token: otherToken, keyAuthorization: otherToken + ".abc")
        }
        #expect(throws: ACMEChallengeError.tokenNotInScope(token)) { try orderB.retire(token: token) }
        #expect(board.reader.keyAuthorization(for: token) == keyAuthorization)
    }

    @Test func tokenHasOneOwnerUntilReleased() throws {
        let board = ACMEChallengeBoard()
        var first: ACMEChallengePublisher? = try board.mintPublisher(tokens: [token])
        try first?.publish(token: token, keyAuthorization: keyAuthorization)
        #expect(throws: ACMEChallengeError.tokenAlreadyOwned(token)) {
            _ = try board.mintPublisher(tokens: [token])
        }
        // Dropping the publisher retires its tokens and frees them.
        first = nil
        #expect(board.reader.keyAuthorization(for: token) == nil)
        let second = try board.mintPublisher(tokens: [token])
        #expect(second.tokens == [token])
    }

    @Test func invalidTokensAndKeyAuthorizations() throws {
        let board = ACMEChallengeBoard()
        for bad in ["", "a/b", "a.b", "abc=", "a b", "%41", String(repeating: "a", count: 257)] {
            #expect(throws: ACMEChallengeError.invalidToken(bad)) { _ = try board.mintPublisher(tokens: [bad]) }
        }
        let publisher = try board.mintPublisher(tokens: [token])
        for bad in [token, token + ".", otherToken + ".abc", token + ".a/b", token + ".abc\r\nX: y"] {
            #expect(throws: ACMEChallengeError.invalidKeyAuthorization(token: token)) {
                try publisher.publish(token: token, keyAuthorization: bad)
            }
        }
    }
}

@Suite struct Port80ServiceTests {
    private let board = ACMEChallengeBoard()

    private func service(publishing: Bool = true) throws -> (Port80Service, ACMEChallengePublisher) {
        let publisher = try board.mintPublisher(tokens: [token])
        if publishing { try publisher.publish(token: token, keyAuthorization: keyAuthorization) }
        return (Port80Service(challenges: board.reader), publisher)
    }

    @Test func servesPublishedToken() throws {
        let (service, publisher) = try service()
        let response = service.respond(to: request("/.well-known/acme-challenge/\(token)"))
        #expect(response.status == .ok)
        #expect(response.headers["Content-Type"] == "application/octet-stream")
        #expect(response.body == bytes(keyAuthorization))
        try publisher.retire(token: token)
        #expect(service.respond(to: request("/.well-known/acme-challenge/\(token)")).status == .notFound)
    }

    @Test func challengeOverConnectionEverySplit() throws {
        let (service, publisher) = try service()
        let input = "GET /.well-known/acme-challenge/\(token) HTTP/1.1\r\nHost: example.com\r\n\r\n"
            + "HEAD /.well-known/acme-challenge/\(token) HTTP/1.1\r\nHost: example.com\r\n\r\n"
        let result = driveEverySplit(input, handler: service.respond)
        let length = keyAuthorization.utf8.count
        #expect(result.output.contains("Content-Length: \(length)\r\n\r\n\(keyAuthorization)HTTP/1.1 200 OK"))
        #expect(result.output.hasSuffix("Content-Length: \(length)\r\n\r\n"))
        withExtendedLifetime(publisher) {}
    }

    @Test func everyOtherChallengeFormIs404() throws {
        let (service, publisher) = try service()
        let prefix = "/.well-known/acme-challenge/"
        let forms = [
            prefix + otherToken,  // unknown
            prefix + token + "/x",  // sub-path
            prefix + token + "/",
            prefix + "%4C" + token.dropFirst(),  // percent-encoded first character
            prefix,  // empty token
            "/.well-known/acme-challenge",
            "/.well-known/%61cme-challenge/" + token,
            "/.well-known%2Facme-challenge%2F" + token,
            prefix + "../acme-challenge/" + token,  // traversal
            prefix + "%2e%2e/acme-challenge/" + token,
            "/.well-known/x/../acme-challenge/" + token,
            "/x/%2E%2E/y",
            "/a/./b",
        ]
        for form in forms {
            #expect(service.respond(to: request(form)).status == .notFound, "\(form)")
        }
        withExtendedLifetime(publisher) {}
    }

    @Test func otherMethodsOnTokenAre405() throws {
        let (service, publisher) = try service()
        let response = service.respond(to: request("/.well-known/acme-challenge/\(token)", method: "POST"))
        #expect(response.status == .methodNotAllowed)
        #expect(response.headers["Allow"] == "GET, HEAD")
        withExtendedLifetime(publisher) {}
    }

    @Test func redirectsEverythingElse() throws {
        let (service, publisher) = try service(publishing: false)
        let cases: [(target: String, host: String, location: String)] = [
            ("/", "example.com", "https://example.com/"),
            ("/status?view=a&b=%20", "Example.COM:80", "https://example.com/status?view=a&b=%20"),
            ("/x", "example.com.", "https://example.com/x"),
            ("/x", "192.0.2.1", "https://192.0.2.1/x"),
            ("/x", "[2001:DB8::1]:8080", "https://[2001:db8::1]/x"),
            ("http://www.example.com/p", "other.example", "https://www.example.com/p"),
            ("/.well-known/other", "example.com", "https://example.com/.well-known/other"),
        ]
        for (target, host, location) in cases {
            let response = service.respond(to: request(target, host: host))
            #expect(response.status == .permanentRedirect, "\(target) \(host)")
            #expect(response.headers["Location"] == location, "\(target) \(host)")
        }
        let custom = Port80Service(challenges: board.reader, httpsPort: 8443)
        #expect(custom.respond(to: request("/a")).headers["Location"] == "https://example.com:8443/a")
        let post = service.respond(to: request("/form", method: "POST"))
        #expect(post.status.code == 308)
        withExtendedLifetime(publisher) {}
    }

    @Test func invalidHostIs400() throws {
        let (service, publisher) = try service(publishing: false)
        for host in ["", "exa_mple.com", "-a.example", "a-.example", "a..b", "1.2.3.999", "1.2.3", "01.2.3.4",
                     "%41.example", "a.example:99999", "a.example:0", "a.example:x", "[zz::1]", "[fe80::1%25eth0]",
                     String(repeating: "a", count: 64) + ".example", "a!b.example"]
        {
            // Some of these already fail the parser's Host syntax check; the
            // client sees 400 either way.
            let result = drive([bytes("GET /x HTTP/1.1\r\nHost: \(host)\r\n\r\n")[...]], handler: service.respond)
            #expect(statusLines(result.output) == ["HTTP/1.1 400 Bad Request"], "\(host)")
        }
        // HTTP/1.0 without Host: nowhere to redirect to.
        #expect(service.respond(to: request("/x", host: nil, version: "HTTP/1.0")).status == .badRequest)
        withExtendedLifetime(publisher) {}
    }

    @Test func redirectOverConnection() throws {
        let (service, publisher) = try service(publishing: false)
        let result = driveEverySplit("GET /dash?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", handler: service.respond)
        #expect(result.output.hasPrefix("HTTP/1.1 308 Permanent Redirect\r\n"))
        #expect(result.output.contains("Location: https://example.com/dash?x=1\r\n"))
        #expect(result.output.hasSuffix("Content-Length: 0\r\n\r\n"))
        withExtendedLifetime(publisher) {}
    }
}
