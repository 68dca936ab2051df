// The Web UI in a real browser through capnet's own stack. Headless Chromium
// runs inside the namespace the test creates and connects over HTTPS to
// 192.0.2.2, capnet's TCP and TLS on the tap. It logs in with the admin token
// through the form and reads the dashboard. The script browser-login.py
// drives Chromium over the DevTools protocol and reports what it saw, and
// this file checks the report.
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(.enabled(if: NamespaceLab.isAvailable, Comment(rawValue: NamespaceLab.unavailableReason ?? "")),
       .timeLimit(.minutes(3)))
struct WebUIBrowserTests {
    static let baseURL = "https://\(NamespaceLab.stackAddress)"
    /// Bound on the whole browser session. The script and Chromium are
    /// killed when it passes.
    static let browserTimeoutSeconds = 90
    static let windowWidth = 1280
    static let windowHeight = 1600
    /// Minimum size of a screenshot that shows the rendered dashboard. A
    /// blank or error page compresses to much less.
    static let minimumScreenshotBytes = 20_000
    /// PNG signature (PNG specification §5.2).
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Where the screenshot is kept after the test: .build/test-artifacts
    /// in the package, which git ignores.
    static let artifactDirectory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/test-artifacts")

    struct ScriptMissing: Error {}

    /// Fetches the certificate capnet serves, verified by openssl against
    /// the development CA for the address 192.0.2.2, and returns the
    /// base64 SHA-256 of its SubjectPublicKeyInfo (the pin Chromium takes).
    static func servedKeyPin(lab: NamespaceLab, caPath: String, directory: String) throws -> String {
        let handshake = try lab.exec(["openssl", "s_client", "-connect", "\(NamespaceLab.stackAddress):443",
                                      "-CAfile", caPath, "-verify_ip", NamespaceLab.stackAddress,
                                      "-verify_return_error", "-tls1_3"])
        #expect(handshake.output.contains("Verify return code: 0 (ok)"))
        let text = handshake.output
        guard let begin = text.range(of: "-----BEGIN CERTIFICATE-----"),
              let end = text.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<text.endIndex)
        else { throw Shell.CommandFailed(command: ["openssl", "s_client"], result: handshake) }
        let leafPath = directory + "/served-leaf.pem"
        let keyPath = directory + "/served-key.pem"
        let derPath = directory + "/served-key.der"
        let digestPath = directory + "/served-key.sha256"
        try (String(text[begin.lowerBound..<end.upperBound]) + "\n").write(toFile: leafPath, atomically: true,
                                                                          encoding: .utf8)
        try Shell.run(["openssl", "x509", "-in", leafPath, "-pubkey", "-noout", "-out", keyPath])
        try Shell.run(["openssl", "pkey", "-pubin", "-in", keyPath, "-outform", "DER", "-out", derPath])
        try Shell.run(["openssl", "dgst", "-sha256", "-binary", "-out", digestPath, derPath])
        return try Data(contentsOf: URL(fileURLWithPath: digestPath)).base64EncodedString()
    }

    @Test func chromiumLogsInAndReadsTheDashboard() throws {
        let lab = try NamespaceLab(tag: "browser")
        defer { lab.tearDown() }
        let directory = try TemporaryDirectory()
        let stateDirectory = directory.path + "/state"
        let stack = try lab.startCapnet([
            "--tap", NamespaceLab.tapName,
            "--address", "\(NamespaceLab.stackAddress)/\(NamespaceLab.prefixLength)",
            "--state-dir", stateDirectory,
        ])
        let pin = try Self.servedKeyPin(lab: lab, caPath: stateDirectory + "/ca.pem", directory: directory.path)
        #expect(pin.count == 44, "a SHA-256 digest is 44 base64 characters")

        guard let script = Bundle.module.path(forResource: "browser-login", ofType: "py") else { throw ScriptMissing() }
        let chromium = try #require(Shell.which("chromium"), "chromium is not installed")
        let profile = directory.path + "/chromium-profile"
        let pidFile = directory.path + "/chromium.pid"
        let screenshot = directory.path + "/dashboard.png"
        // The script stops Chromium. This also kills it by its id in case
        // the script itself was killed first.
        defer { Self.killChromium(pidFile: pidFile) }
        let run = try lab.exec(["python3", script, "--chromium", chromium, "--base-url", Self.baseURL,
                                "--token-file", stateDirectory + "/admin-token", "--spki", pin,
                                "--profile", profile, "--pid-file", pidFile, "--screenshot", screenshot,
                                "--timeout", String(Self.browserTimeoutSeconds - 10),
                                "--width", String(Self.windowWidth), "--height", String(Self.windowHeight)],
                               timeout: Self.browserTimeoutSeconds, allowFailure: true)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any],
                                  "the script printed no report: \(run.errorOutput.suffix(2000))")
        let ok = report["ok"] as? Bool ?? false
        let failure = "browser session failed: \(report["error"] ?? "") after steps \(report["steps"] ?? "")\n"
            + "\(report["chromiumLog"] ?? "")\ncapnet: \(stack.log.suffix(2000))"
        try #require(ok, Comment(rawValue: failure))

        try checkDOM(try #require(report["dom"] as? [String: Any]))
        try checkCookies(try #require(report["cookies"] as? [[String: Any]]))
        try checkResponses(try #require(report["responses"] as? [[String: Any]]))
        try checkScreenshot(at: screenshot)

        let token = try String(contentsOfFile: stateDirectory + "/admin-token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!stack.log.contains(token), "the admin token appeared in the log")
    }

    /// Checks the dashboard tables and charts, drawn from a live snapshot
    /// that includes the browser's own connection and TLS session.
    func checkDOM(_ dom: [String: Any]) throws {
        #expect(dom["location"] as? String == Self.baseURL + "/")
        #expect(dom["updated"] is String, "the dashboard script never redrew the page")
        let tables = try #require(dom["tables"] as? [String: Any])
        func table(_ id: String) -> (rows: Int, text: String)? {
            guard let entry = tables[id] as? [String: Any] else { return nil }
            return (entry["rows"] as? Int ?? 0, entry["text"] as? String ?? "")
        }
        for id in ["interfaces", "neighbors", "connections", "tls-sessions", "certificates"] {
            let found = table(id)
            #expect(found != nil, "no table #\(id)")
            #expect((found?.rows ?? 0) >= 1, "table #\(id) has no rows")
        }
        #expect(table("interfaces")?.text.contains(NamespaceLab.tapName) == true)
        #expect(table("neighbors")?.text.contains(NamespaceLab.kernelAddress) == true)
        #expect(table("connections")?.text.contains("\(NamespaceLab.stackAddress):443") == true)
        #expect(table("connections")?.text.contains("ESTABLISHED") == true)
        #expect(table("tls-sessions")?.text.contains("TLS 1.3") == true)
        #expect(table("certificates")?.text.contains(NamespaceLab.stackAddress) == true)

        let charts = try #require(dom["charts"] as? [String: Any])
        for id in ["chart-packets", "chart-connections", "chart-handshakes"] {
            let chart = charts[id] as? [String: Any]
            #expect(chart != nil, "no chart #\(id)")
            #expect((chart?["polylines"] as? Int ?? 0) >= 1, "chart #\(id) has no series")
        }
        // HttpOnly keeps the session out of page scripts.
        #expect(!(dom["documentCookie"] as? String ?? "").contains("capnet_session"))
    }

    /// Checks the login cookie as Chromium stored it: Secure, HttpOnly and
    /// SameSite=Strict.
    func checkCookies(_ cookies: [[String: Any]]) throws {
        let session = try #require(cookies.first { $0["name"] as? String == "capnet_session" },
                                   "Chromium stored no capnet_session cookie: \(cookies)")
        #expect(session["secure"] as? Bool == true)
        #expect(session["httpOnly"] as? Bool == true)
        #expect(session["sameSite"] as? String == "Strict")
        #expect(session["path"] as? String == "/")
        #expect(session["domain"] as? String == NamespaceLab.stackAddress)
        #expect((session["value"] as? String ?? "").count >= 32, "session identifier too short to be unguessable")
    }

    /// Checks what Chromium's network layer reported for the pages: TLS 1.3
    /// with the certificate for 192.0.2.2.
    func checkResponses(_ responses: [[String: Any]]) throws {
        let dashboard = try #require(responses.first { $0["url"] as? String == Self.baseURL + "/" },
                                     "no response for the dashboard: \(responses)")
        #expect(dashboard["status"] as? Int == 200)
        #expect(dashboard["protocol"] as? String == "TLS 1.3")
        #expect((dashboard["sanList"] as? [String] ?? []).contains(NamespaceLab.stackAddress))
        for response in responses where (response["url"] as? String ?? "").hasPrefix(Self.baseURL) {
            #expect(response["protocol"] as? String == "TLS 1.3", "\(response)")
        }
    }

    /// Checks that the screenshot is a PNG of the window's size, large
    /// enough to show the rendered page, and keeps it under .build/test-artifacts.
    func checkScreenshot(at path: String) throws {
        let png = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(png.count > Self.minimumScreenshotBytes, "screenshot of \(png.count) bytes is too small")
        try #require(png.count > 24, "the file is shorter than a PNG header")
        #expect(Array(png.prefix(8)) == Self.pngSignature)
        // IHDR first, then width and height big-endian (PNG specification §11.2.2).
        #expect(Array(png[12..<16]) == Array("IHDR".utf8))
        func bigEndian(_ offset: Int) -> Int { png[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
        #expect(bigEndian(16) == Self.windowWidth)
        #expect(bigEndian(20) == Self.windowHeight)

        let kept = Self.artifactDirectory.appendingPathComponent("dashboard.png")
        try FileManager.default.createDirectory(at: Self.artifactDirectory, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: kept)
        try FileManager.default.copyItem(at: URL(fileURLWithPath: path), to: kept)
        print("dashboard screenshot: \(kept.path)")
    }

    /// Kills Chromium by the process id the script recorded, if it still runs.
    static func killChromium(pidFile: String) {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else { return }
        if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
    }
}
