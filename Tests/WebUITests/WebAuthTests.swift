// Authentication flows of the Web UI: bearer token (RFC 6750), the login
// form with its session cookie (RFC 6265), logout, the session bound, and
// the same-origin check on form posts.
import CapnetBase
import Foundation
import Testing
@testable import WebUI

@Suite struct WebAuthTests {
    /// Logs in through the form and returns the session cookie pair "capnet_session=ID".
    private func logIn(_ app: WebApplication) throws -> String {
        let response = app.handle(makeRequest(.POST, "/login", headers: [formType, sameOrigin],
                                              body: "token=\(testTokenValue)"))
        #expect(response.status == .seeOther)
        let setCookie = try #require(response.headers["Set-Cookie"])
        return String(try #require(setCookie.split(separator: ";").first))
    }

    @Test func bearerTokenIsAccepted() {
        let app = makeApplication()
        let response = app.handle(makeRequest(.GET, "/api/status", headers: [bearer]))
        #expect(response.status == .ok)
        #expect(response.headers["Content-Type"] == "application/json")
    }

    @Test func bearerSchemeIsCaseInsensitive() {
        // RFC 9110 §11.1: the auth-scheme is case-insensitive.
        let app = makeApplication()
        let response = app.handle(makeRequest(.GET, "/metrics", headers: [("Authorization", "bearer \(testTokenValue)")]))
        #expect(response.status == .ok)
    }

    @Test func wrongTokenGets401WithInvalidTokenChallenge() {
        let app = makeApplication()
        var wrong = Array(testTokenValue)
        wrong[wrong.count - 1] = wrong.last == "A" ? "B" : "A"
        let response = app.handle(makeRequest(.GET, "/api/status",
                                              headers: [("Authorization", "Bearer \(String(wrong))")]))
        #expect(response.status == .unauthorized)
        #expect(response.headers["WWW-Authenticate"] == "Bearer realm=\"capnet\", error=\"invalid_token\"")
        #expect(!response.bodyText.contains(testTokenValue))
        #expect(app.statistics.authenticationFailures == 1)
    }

    @Test func apiClientWithoutCredentialGets401() {
        let app = makeApplication()
        for path in ["/api/status", "/metrics", "/api/captures", "/"] {
            let response = app.handle(makeRequest(.GET, path, headers: [("Accept", "application/json")]))
            #expect(response.status == .unauthorized, "\(path)")
            #expect(response.headers["WWW-Authenticate"] == "Bearer realm=\"capnet\"", "\(path)")
        }
    }

    @Test func browserWithoutCredentialIsRedirectedToLogin() {
        let app = makeApplication()
        let accept = ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        let response = app.handle(makeRequest(.GET, "/", headers: [accept]))
        #expect(response.status == .seeOther)
        #expect(response.headers["Location"] == "/login")
    }

    @Test func publicRoutesNeedNoCredential() {
        let app = makeApplication()
        let health = app.handle(makeRequest(.GET, "/healthz"))
        #expect(health.status == .ok)
        #expect(health.bodyText == "ok")
        #expect(app.handle(makeRequest(.GET, "/login")).status == .ok)
        let css = app.handle(makeRequest(.GET, "/static/dashboard.css"))
        #expect(css.status == .ok)
        #expect(css.headers["Content-Type"] == "text/css; charset=utf-8")
        let script = app.handle(makeRequest(.GET, "/static/dashboard.js"))
        #expect(script.status == .ok)
        #expect(script.headers["Content-Type"] == "text/javascript; charset=utf-8")
        // Only the exact paths are public.
        #expect(app.handle(makeRequest(.GET, "/healthz/x")).status == .unauthorized)
    }

    @Test func loginSetsSessionCookieWithExactAttributes() throws {
        let app = makeApplication()
        let response = app.handle(makeRequest(.POST, "/login", headers: [formType, sameOrigin],
                                              body: "token=\(testTokenValue)"))
        #expect(response.status == .seeOther)
        #expect(response.headers["Location"] == "/")
        let setCookie = try #require(response.headers["Set-Cookie"])
        let parts = setCookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(parts.count == 5)
        #expect(parts[0].hasPrefix("capnet_session="))
        #expect(Array(parts[1...]) == ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"])
        // The session id is a fresh 256-bit secret, not the admin token.
        let id = String(parts[0].dropFirst("capnet_session=".count))
        #expect(id.count == 43)
        #expect(id != testTokenValue)
        #expect(app.statistics.logins == 1)
    }

    @Test func sessionCookieAuthenticates() throws {
        let app = makeApplication()
        let cookie = try logIn(app)
        let response = app.handle(makeRequest(.GET, "/", headers: [("Cookie", "theme=dark; \(cookie)")]))
        #expect(response.status == .ok)
        #expect(response.headers["Content-Type"] == "text/html; charset=utf-8")
    }

    @Test func loginWithWrongTokenFails() {
        let app = makeApplication()
        let response = app.handle(makeRequest(.POST, "/login", headers: [formType, sameOrigin], body: "token=nope"))
        #expect(response.status == .unauthorized)
        #expect(response.headers["Set-Cookie"] == nil)
        #expect(response.bodyText.contains("not the admin token"))
    }

    @Test func loginRequiresFormEncoding() {
        let app = makeApplication()
        let response = app.handle(makeRequest(.POST, "/login", headers: [("Content-Type", "text/plain"), sameOrigin],
                                              body: "token=\(testTokenValue)"))
        #expect(response.status == .unsupportedMediaType)
    }

    @Test func logoutEndsTheSession() throws {
        let app = makeApplication()
        let cookie = try logIn(app)
        let logout = app.handle(makeRequest(.POST, "/logout", headers: [("Cookie", cookie), sameOrigin]))
        #expect(logout.status == .seeOther)
        #expect(logout.headers["Location"] == "/login")
        #expect(logout.headers["Set-Cookie"] == "capnet_session=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
        let after = app.handle(makeRequest(.GET, "/api/status", headers: [("Cookie", cookie)]))
        #expect(after.status == .unauthorized)
        #expect(app.statistics.sessions == 0)
    }

    @Test func sessionExpires() throws {
        let clock = VirtualTimeSource()
        let app = makeApplication(clock: clock)
        let cookie = try logIn(app)
        clock.advance(by: SessionTable.defaultLifetime - .seconds(1))
        #expect(app.handle(makeRequest(.GET, "/api/status", headers: [("Cookie", cookie)])).status == .ok)
        clock.advance(by: .seconds(1))
        #expect(app.handle(makeRequest(.GET, "/api/status", headers: [("Cookie", cookie)])).status == .unauthorized)
    }

    @Test func sessionTableIsBounded() throws {
        let clock = VirtualTimeSource()
        let bound = 3
        let app = makeApplication(clock: clock, maximumSessions: bound)
        var cookies: [String] = []
        for _ in 0..<(bound + 2) {
            cookies.append(try logIn(app))
            clock.advance(by: .seconds(1))
        }
        #expect(app.statistics.sessions == bound)
        #expect(app.statistics.sessionsLimit == bound)
        // The two oldest sessions were ended to make room; the newest remain.
        let statuses = cookies.map { app.handle(makeRequest(.GET, "/api/status", headers: [("Cookie", $0)])).status }
        #expect(statuses == [.unauthorized, .unauthorized, .ok, .ok, .ok])
    }

    @Test func crossOriginFormPostsAreRejected() throws {
        let app = makeApplication()
        let cookie = try logIn(app)
        let attempts: [[(String, String)]] = [
            [("Origin", "https://attacker.example")],
            [("Origin", "null")],
            [("Origin", "http://\(testHost)")],  // wrong scheme
            [("Referer", "https://attacker.example/\(testHost)/")],
            [("Referer", "https://\(testHost).attacker.example/")],
            [],  // neither Origin nor Referer
        ]
        for headers in attempts {
            let logout = app.handle(makeRequest(.POST, "/logout", headers: [("Cookie", cookie)] + headers))
            #expect(logout.status == .forbidden, "\(headers)")
            let start = app.handle(makeRequest(.POST, "/api/captures", headers: [("Cookie", cookie), formType] + headers,
                                               body: "name=evil"))
            #expect(start.status == .forbidden, "\(headers)")
            // Login CSRF: a cross-site form must not log the browser in.
            let login = app.handle(makeRequest(.POST, "/login", headers: [formType] + headers,
                                               body: "token=\(testTokenValue)"))
            #expect(login.status == .forbidden, "\(headers)")
        }
        #expect(app.statistics.csrfRejections == UInt64(attempts.count * 3))
        // The session survived every attempt, and a same-origin Referer is accepted.
        let referer = ("Referer", "https://\(testHost)/")
        let logout = app.handle(makeRequest(.POST, "/logout", headers: [("Cookie", cookie), referer]))
        #expect(logout.status == .seeOther)
    }

    @Test func bearerPostsNeedNoOrigin() {
        let app = makeApplication()
        let response = app.handle(makeRequest(.POST, "/api/captures", headers: [bearer, ("Content-Type", "application/json")],
                                              body: "{\"name\":\"api\"}"))
        #expect(response.status == .created)
    }

    @Test func securityHeadersOnEveryResponse() {
        let app = makeApplication()
        let responses = [
            app.handle(makeRequest(.GET, "/healthz")),
            app.handle(makeRequest(.GET, "/api/status")),
            app.handle(makeRequest(.GET, "/no-such-page", headers: [bearer])),
            app.handle(makeRequest(.GET, "/", headers: [bearer])),
        ]
        for response in responses {
            #expect(response.headers["Strict-Transport-Security"] == "max-age=63072000", "\(response)")
            #expect(response.headers["Content-Security-Policy"]?.hasPrefix("default-src 'self'") == true)
            #expect(response.headers["X-Content-Type-Options"] == "nosniff")
            #expect(response.headers["X-Frame-Options"] == "DENY")
            #expect(response.headers["Referrer-Policy"] == "same-origin")
        }
        #expect(responses[3].headers["Cache-Control"] == "no-store")
    }

    @Test func tokenNeverAppearsInLogs() throws {
        let lines = RecordedLines()
        LogConfiguration.setSink { lines.append($0) }
        defer { LogConfiguration.setSink(nil) }
        // The level is left as it is: raising it to trace would also collect
        // the trace lines of every other test running in this process.
        let app = makeApplication()
        let cookie = try logIn(app)
        _ = app.handle(makeRequest(.GET, "/", headers: [("Authorization", "Bearer wrong-\(testTokenValue)")]))
        _ = app.handle(makeRequest(.POST, "/login", headers: [formType, sameOrigin], body: "token=wrong"))
        _ = app.handle(makeRequest(.POST, "/logout", headers: [("Cookie", cookie)]))
        let id = String(cookie.dropFirst("capnet_session=".count))
        let logged = lines.all.joined(separator: "\n")
        if LogConfiguration.minimumLevel <= .info {
            #expect(logged.contains("login with a wrong token"))
        }
        #expect(!logged.contains(testTokenValue))
        #expect(!logged.contains(id))
    }
}

final class RecordedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
