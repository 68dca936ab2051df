// The application over a real socket with curl 7.88 as the client: the
// public health check, the 401 and 303 for missing credentials, a bearer
// token, the login form with its cookie, the same-origin check and logout.
import CapnetBase
import Foundation
import Testing
@testable import WebUI

@Suite(.serialized) struct WebApplicationCurlTests {
    private func startServer() throws -> (WebApplication, LoopbackServer) {
        let app = makeApplication(scheme: "http")
        var configuration = HTTPConnection.Configuration(requestTimeout: .seconds(10), idleTimeout: .seconds(10))
        app.install(on: &configuration)
        let server = try LoopbackServer(configuration: configuration) { app.handle($0) }
        return (app, server)
    }

    /// Runs curl and returns the status line's code, the header fields and the body.
    private func curl(_ arguments: [String]) throws -> (status: Int, headers: HTTPHeaders, body: String) {
        let path = try #require(findExecutable("curl"), "curl is not installed")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("capnet-curl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let headerFile = directory.appendingPathComponent("headers").path
        let result = try runProcess(path, ["--silent", "--show-error", "--max-time", "15", "--dump-header", headerFile]
            + arguments, timeout: 30)
        #expect(result.status == 0, "curl: \(result.stderr)")
        let lines = (try? String(contentsOfFile: headerFile, encoding: .utf8))?.components(separatedBy: "\r\n") ?? []
        let status = lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.add(name: String(line[..<colon]),
                        value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return (status, headers, result.stdout)
    }

    @Test func credentialsOverCurl() throws {
        let (_, server) = try startServer()
        defer { server.stop() }
        let base = server.baseURL

        let health = try curl([base + "/healthz"])
        #expect(health.status == 200)
        #expect(health.body == "ok")

        let anonymous = try curl([base + "/api/status"])
        #expect(anonymous.status == 401)
        #expect(anonymous.headers["WWW-Authenticate"] == "Bearer realm=\"capnet\"")

        let browser = try curl(["--header", "Accept: text/html", base + "/"])
        #expect(browser.status == 303)
        #expect(browser.headers["Location"] == "/login")

        let withToken = try curl(["--oauth2-bearer", testTokenValue, base + "/api/status"])
        #expect(withToken.status == 200)
        let json = try JSONSerialization.jsonObject(with: Data(withToken.body.utf8)) as? [String: Any]
        #expect(json?["snapshot"] != nil)

        let wrongToken = try curl(["--oauth2-bearer", "not-the-token", base + "/metrics"])
        #expect(wrongToken.status == 401)
    }

    @Test func loginFormOverCurl() throws {
        let (app, server) = try startServer()
        defer { server.stop() }
        let base = server.baseURL
        let origin = "Origin: \(base)"

        let crossSite = try curl(["--header", "Origin: http://attacker.example", "--data-urlencode",
                                  "token=\(testTokenValue)", base + "/login"])
        #expect(crossSite.status == 403)
        #expect(crossSite.headers["Set-Cookie"] == nil)

        let login = try curl(["--header", origin, "--data-urlencode", "token=\(testTokenValue)", base + "/login"])
        #expect(login.status == 303)
        let setCookie = try #require(login.headers["Set-Cookie"])
        #expect(setCookie.hasSuffix("; Secure; HttpOnly; SameSite=Strict; Path=/"))
        let cookie = String(try #require(setCookie.split(separator: ";").first))

        let metrics = try curl(["--header", "Cookie: \(cookie)", base + "/metrics"])
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("capnet_web_logins_total 1\n"))

        let logout = try curl(["--header", origin, "--header", "Cookie: \(cookie)", "--request", "POST", base + "/logout"])
        #expect(logout.status == 303)
        #expect(app.statistics.sessions == 0)
        let after = try curl(["--header", "Cookie: \(cookie)", base + "/api/status"])
        #expect(after.status == 401)
    }
}
