import Foundation
import CapnetBase
import Testing
@testable import Acme

/// A scripted CA at a loopback URL; no request leaves the process.
final class ScriptedCA {
    static let base = "https://127.0.0.1:14000"
    static let directoryURL = base + "/dir"
    static let newNonce = base + "/nonce-plz"
    static let newAccount = base + "/sign-me-up"
    static let newOrder = base + "/order-plz"
    static let renewalInfo = base + "/renewal-info"
    static let accountURL = base + "/my-account/1"
    static let orderURL = base + "/my-order/1"
    static let authorizationURL = base + "/authZ/1"
    static let challengeURL = base + "/chalZ/1"
    static let finalizeURL = base + "/finalize-order/1"
    static let certificateURL = base + "/certZ/1"
    static let alternateURL = base + "/certZ/1/1"
    static let token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"

    let transport = ScriptedTransport()
    let clock = VirtualACMEClock()
    let responder = RecordingResponder()
    let key: LibCryptoP256Key

    init() throws { key = try LibCryptoP256Key.generate(keyReference: "test-key") }

    func configuration(termsAgreed: Bool = true, binding: ExternalAccountBinding? = nil,
                       identifiers: [ACMEIdentifier] = [.ip("127.0.0.1")]) -> ACMEConfiguration {
        ACMEConfiguration(directoryURL: Self.directoryURL, contact: ["mailto:ops@example.org"],
                          termsOfServiceAgreed: termsAgreed, externalAccountBinding: binding,
                          identifiers: identifiers)
    }

    func client(_ configuration: ACMEConfiguration? = nil) -> ACMEClient {
        ACMEClient(configuration: configuration ?? self.configuration(), signer: key, transport: transport,
                   responder: responder, clock: clock, random: SeededRandom(seed: 1))
    }

    func scriptDirectory(renewalInfo: Bool = false) {
        let ari = renewalInfo ? ",\"renewalInfo\":\"\(Self.renewalInfo)\"" : ""
        transport.script("GET", Self.directoryURL, jsonResponse(200, """
            {"newNonce":"\(Self.newNonce)","newAccount":"\(Self.newAccount)","newOrder":"\(Self.newOrder)"\(ari),
             "meta":{"termsOfService":"\(Self.base)/terms"}}
            """))
        transport.script("HEAD", Self.newNonce, ACMEHTTPResponse(status: 200))
    }

    func scriptAccount() {
        transport.script("POST", Self.newAccount,
                         jsonResponse(201, #"{"status":"valid"}"#, headers: [("Location", Self.accountURL)]))
    }

    static func order(_ status: String, certificate: Bool = false) -> String {
        let certificateMember = certificate ? ",\"certificate\":\"\(certificateURL)\"" : ""
        return """
            {"status":"\(status)","identifiers":[{"type":"ip","value":"127.0.0.1"}],
             "authorizations":["\(authorizationURL)"],"finalize":"\(finalizeURL)"\(certificateMember)}
            """
    }

    static func authorization(_ status: String, challengeStatus: String, error: String = "") -> String {
        let errorMember = error.isEmpty ? "" : ",\"error\":\(error)"
        return """
            {"status":"\(status)","identifier":{"type":"ip","value":"127.0.0.1"},
             "challenges":[{"type":"tls-alpn-01","url":"\(base)/chalZ/2","status":"pending","token":"other"},
                           {"type":"http-01","url":"\(challengeURL)","status":"\(challengeStatus)","token":"\(token)"\(errorMember)}]}
            """
    }

    /// newOrder through download: authorization pending, then valid after one
    /// poll with Retry-After 4; finalize returns processing with Retry-After 7,
    /// one more processing poll with Retry-After 3, then valid.
    func scriptIssuance(chainPEM: String, alternatePEM: String) {
        transport.script("POST", Self.newOrder,
                         jsonResponse(201, Self.order("pending"), headers: [("Location", Self.orderURL)]))
        transport.script("POST", Self.authorizationURL,
                         jsonResponse(200, Self.authorization("pending", challengeStatus: "pending")),
                         jsonResponse(200, Self.authorization("pending", challengeStatus: "processing"),
                                      headers: [("Retry-After", "4")]),
                         jsonResponse(200, Self.authorization("valid", challengeStatus: "valid")))
        transport.script("POST", Self.challengeURL,
                         jsonResponse(200, #"{"type":"http-01","url":"\#(Self.challengeURL)","status":"processing","token":"\#(Self.token)"}"#))
        transport.script("POST", Self.orderURL,
                         jsonResponse(200, Self.order("ready")),
                         jsonResponse(200, Self.order("processing"), headers: [("Retry-After", "3")]),
                         jsonResponse(200, Self.order("valid", certificate: true)))
        transport.script("POST", Self.finalizeURL,
                         jsonResponse(200, Self.order("processing"), headers: [("Retry-After", "7")]))
        transport.script("POST", Self.certificateURL,
                         ACMEHTTPResponse(status: 200, headers: [("Content-Type", "application/pem-certificate-chain"),
                                                                 ("Link", "<\(Self.alternateURL)>;rel=\"alternate\""),
                                                                 ("Link", "<\(Self.directoryURL)>;rel=\"index\"")],
                                          body: Array(chainPEM.utf8)))
        transport.script("POST", Self.alternateURL,
                         ACMEHTTPResponse(status: 200, headers: [("Content-Type", "application/pem-certificate-chain")],
                                          body: Array(alternatePEM.utf8)))
    }
}

let badNonceProblem = #"{"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce"}"#
let fakeChain = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

@Suite struct ACMEClientNonceTests {
    @Test func badNonceRetriedWithFreshNonce() async throws {
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        ca.transport.script("POST", ScriptedCA.newAccount,
                            jsonResponse(400, badNonceProblem, headers: [("Replay-Nonce", "fresh1")]),
                            jsonResponse(201, #"{"status":"valid"}"#, headers: [("Location", ScriptedCA.accountURL)]))
        let client = ca.client()

        let accountURL = try await client.createAccount()

        #expect(accountURL == ScriptedCA.accountURL)
        #expect(ca.transport.requests("HEAD", ScriptedCA.newNonce).count == 1)
        let posts = ca.transport.requests("POST", ScriptedCA.newAccount)
        #expect(posts.count == 2)
        #expect(protectedHeader(of: posts[0])["nonce"] as? String == "nonce1")
        #expect(protectedHeader(of: posts[1])["nonce"] as? String == "fresh1")
        #expect(protectedHeader(of: posts[1])["jwk"] != nil)
        #expect(protectedHeader(of: posts[1])["kid"] == nil)
    }

    @Test func badNonceRetriesBounded() async throws {
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        ca.transport.script("POST", ScriptedCA.newAccount, jsonResponse(400, badNonceProblem))
        let client = ca.client()

        await #expect(throws: ACMEError.self) { try await client.createAccount() }
        let posts = ca.transport.requests("POST", ScriptedCA.newAccount)
        #expect(posts.count == client.configuration.retryPolicy.maxBadNonceRetries + 1)
        #expect(ca.clock.sleeps.isEmpty)
    }
}

@Suite struct ACMEClientAccountTests {
    @Test func termsOfServiceMustBeAgreed() async throws {
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        let client = ca.client(ca.configuration(termsAgreed: false))

        await #expect(throws: ACMEError.termsOfServiceNotAgreed(url: ScriptedCA.base + "/terms")) {
            try await client.createAccount()
        }
        #expect(ca.transport.requests("POST", ScriptedCA.newAccount).isEmpty)
    }

    @Test func lookupThenCreateWithBinding() async throws {
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        ca.transport.script("POST", ScriptedCA.newAccount,
                            jsonResponse(400, #"{"type":"urn:ietf:params:acme:error:accountDoesNotExist","detail":"no account"}"#),
                            jsonResponse(201, #"{"status":"valid"}"#, headers: [("Location", ScriptedCA.accountURL)]))
        let binding = ExternalAccountBinding(keyID: "kid-1", macKeyBase64URL: "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W")
        let client = ca.client(ca.configuration(binding: binding))

        let accountURL = try await client.ensureAccount(knownURL: nil)

        #expect(accountURL == ScriptedCA.accountURL)
        let posts = ca.transport.requests("POST", ScriptedCA.newAccount)
        #expect(posts.count == 2)
        #expect(payloadText(of: posts[0]) == #"{"onlyReturnExisting":true}"#)
        let creation = try #require(payloadText(of: posts[1]))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(creation.utf8)) as? [String: Any])
        #expect(object["termsOfServiceAgreed"] as? Bool == true)
        #expect(object["contact"] as? [String] == ["mailto:ops@example.org"])
        let eab = try #require(object["externalAccountBinding"] as? [String: Any])
        let eabHeader = String(decoding: Base64URL.decode(eab["protected"] as! String)!, as: UTF8.self)
        #expect(eabHeader == #"{"alg":"HS256","kid":"kid-1","url":"\#(ScriptedCA.newAccount)"}"#)
    }

    @Test func knownAccountSkipsRequests() async throws {
        let ca = try ScriptedCA()
        let client = ca.client()
        try await client.ensureAccount(knownURL: ScriptedCA.accountURL)
        #expect(ca.transport.requests.isEmpty)
        #expect(client.accountURL == ScriptedCA.accountURL)
    }
}

@Suite struct ACMEClientOrderTests {
    @Test func orderWithProcessingAndRetryAfter() async throws {
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        ca.scriptAccount()
        ca.scriptIssuance(chainPEM: fakeChain, alternatePEM: fakeChain + fakeChain)
        let client = ca.client()
        let keyAuthorization = try ca.key.publicJWK.keyAuthorization(token: ScriptedCA.token)

        // Record whether the token is published when each request is sent.
        var publishedAtChallenge: String?
        var publishedAtFinalize: String?
        ca.transport.onRequest = { request in
            if request.url == ScriptedCA.challengeURL { publishedAtChallenge = ca.responder.published[ScriptedCA.token] }
            if request.url == ScriptedCA.finalizeURL { publishedAtFinalize = ca.responder.published[ScriptedCA.token] }
        }

        try await client.ensureAccount(knownURL: nil)
        let csr: [UInt8] = [0x30, 0x03, 0x02, 0x01, 0x00]
        let issued = try await client.issueCertificate(identifiers: [.ip("127.0.0.1")], csrDER: csr)

        #expect(ca.clock.sleeps == [.seconds(4), .seconds(7), .seconds(3)])
        #expect(ca.responder.events == [.publish(ScriptedCA.token, keyAuthorization), .retire(ScriptedCA.token)])
        #expect(publishedAtChallenge == keyAuthorization)
        #expect(publishedAtFinalize == nil)
        #expect(issued.orderURL == ScriptedCA.orderURL)
        #expect(issued.chainPEM == fakeChain)
        #expect(issued.alternateChainsPEM == [fakeChain + fakeChain])

        let challengePost = try #require(ca.transport.requests("POST", ScriptedCA.challengeURL).first)
        #expect(payloadText(of: challengePost) == "{}")
        #expect(protectedHeader(of: challengePost)["kid"] as? String == ScriptedCA.accountURL)
        let finalize = try #require(ca.transport.requests("POST", ScriptedCA.finalizeURL).first)
        #expect(payloadText(of: finalize) == #"{"csr":"MAMCAQA"}"#)
        let download = try #require(ca.transport.requests("POST", ScriptedCA.certificateURL).first)
        #expect(download.headers.contains { $0.name == "Accept" && $0.value == "application/pem-certificate-chain" })
        #expect(payloadText(of: download) == "")
    }

    @Test func problemDocumentSurfaced() async throws {
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        ca.transport.script("POST", ScriptedCA.newOrder, jsonResponse(400,
            #"{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"Policy forbids issuing for name","status":400}"#))
        let client = ca.client()
        try await client.ensureAccount(knownURL: ScriptedCA.accountURL)

        do {
            _ = try await client.issueCertificate(identifiers: [.dns("example.org")], csrDER: [0x30, 0x00])
            Issue.record("issueCertificate succeeded against a rejecting CA")
        } catch ACMEError.problem(let problem, let url) {
            #expect(problem.type == .rejectedIdentifier)
            #expect(problem.detail == "Policy forbids issuing for name")
            #expect(url == ScriptedCA.newOrder)
        }
        #expect(ca.transport.requests("POST", ScriptedCA.newOrder).count == 1)
    }

    @Test func invalidAuthorizationRetiresToken() async throws {
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        ca.transport.script("POST", ScriptedCA.newOrder,
                            jsonResponse(201, ScriptedCA.order("pending"), headers: [("Location", ScriptedCA.orderURL)]))
        let challengeError = #"{"type":"urn:ietf:params:acme:error:connection","detail":"connection refused"}"#
        ca.transport.script("POST", ScriptedCA.authorizationURL,
                            jsonResponse(200, ScriptedCA.authorization("pending", challengeStatus: "pending")),
                            jsonResponse(200, ScriptedCA.authorization("invalid", challengeStatus: "invalid", error: challengeError)))
        ca.transport.script("POST", ScriptedCA.challengeURL, jsonResponse(200, "{}"))
        let client = ca.client()
        try await client.ensureAccount(knownURL: ScriptedCA.accountURL)

        do {
            _ = try await client.issueCertificate(identifiers: [.ip("127.0.0.1")], csrDER: [0x30, 0x00])
            Issue.record("issueCertificate succeeded with an invalid authorization")
        } catch ACMEError.authorizationFailed(let identifier, let problem) {
            #expect(identifier == "ip:127.0.0.1")
            #expect(problem?.type == .connection)
        }
        #expect(ca.responder.events.last == .retire(ScriptedCA.token))
        #expect(ca.responder.published.isEmpty)
    }
}

@Suite struct ACMEClientBackoffTests {
    @Test func serverErrorsBackOffWithinBounds() async throws {
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        ca.transport.script("POST", ScriptedCA.newOrder,
                            jsonResponse(500, #"{"type":"urn:ietf:params:acme:error:serverInternal","detail":"database down"}"#))
        let client = ca.client()
        try await client.ensureAccount(knownURL: ScriptedCA.accountURL)

        await #expect(throws: ACMEError.self) {
            _ = try await client.issueCertificate(identifiers: [.ip("127.0.0.1")], csrDER: [0x30, 0x00])
        }
        let policy = client.configuration.retryPolicy
        #expect(ca.transport.requests("POST", ScriptedCA.newOrder).count == policy.maxAttempts)
        #expect(ca.clock.sleeps.count == policy.maxAttempts - 1)
        // Retry n waits within [d/2, d] with d = 1 s * 2^n.
        for (retry, sleep) in ca.clock.sleeps.enumerated() {
            let ceiling = Int64(1_000_000_000) << retry
            #expect(sleep.value >= ceiling / 2)
            #expect(sleep.value <= ceiling)
        }
    }

    @Test func backoffCappedAtMaxDelay() throws {
        let ca = try ScriptedCA()
        let client = ca.client()
        for retry in 0..<20 {
            let delay = client.backoffDelay(retry: retry)
            #expect(delay <= client.configuration.retryPolicy.maxDelay)
        }
    }

    @Test func rateLimitHonoursRetryAfter() async throws {
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        let rateLimited = #"{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many new orders"}"#
        ca.transport.script("POST", ScriptedCA.newOrder,
                            jsonResponse(429, rateLimited, headers: [("Retry-After", "5")]),
                            jsonResponse(400, #"{"type":"urn:ietf:params:acme:error:malformed","detail":"stop here"}"#))
        let client = ca.client()
        try await client.ensureAccount(knownURL: ScriptedCA.accountURL)

        await #expect(throws: ACMEError.self) {
            _ = try await client.issueCertificate(identifiers: [.ip("127.0.0.1")], csrDER: [0x30, 0x00])
        }
        #expect(ca.clock.sleeps == [.seconds(5)])
    }

    @Test func longRetryAfterFailsAtOnce() async throws {
        let ca = try ScriptedCA()
        ca.scriptDirectory()
        let rateLimited = #"{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many certificates"}"#
        ca.transport.script("POST", ScriptedCA.newOrder, jsonResponse(429, rateLimited, headers: [("Retry-After", "3600")]))
        let client = ca.client()
        try await client.ensureAccount(knownURL: ScriptedCA.accountURL)

        do {
            _ = try await client.issueCertificate(identifiers: [.ip("127.0.0.1")], csrDER: [0x30, 0x00])
            Issue.record("issueCertificate waited through a one-hour Retry-After")
        } catch ACMEError.problem(let problem, _) {
            #expect(problem.type == .rateLimited)
        }
        #expect(ca.clock.sleeps.isEmpty)
        #expect(ca.transport.requests("POST", ScriptedCA.newOrder).count == 1)
    }
}
