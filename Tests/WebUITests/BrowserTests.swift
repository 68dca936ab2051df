// The dashboard in a real browser: Debian's headless Chromium loads the
// overview from the application served over plain HTTP on 127.0.0.1 (the
// test's kernel-socket server driving HTTPConnection), then dumps the DOM
// and takes a screenshot. Chromium's command line cannot send a bearer
// token, so the test server adds the Authorization header to each request
// before the application handles it. That bypass exists only in this file.
import CapnetBase
import Foundation
import Testing
@testable import WebUI

@Suite(.serialized) struct BrowserTests {
    /// Bound on each Chromium run; the process is killed when it passes.
    static let chromiumTimeoutSeconds: TimeInterval = 90
    static let windowWidth = 1280
    static let windowHeight = 1600
    /// Virtual time Chromium lets pass before dumping the DOM, enough for
    /// the script's first fetch and well under its update interval.
    static let virtualTimeBudgetMilliseconds = 3_000

    /// Returns the `points` of the series polyline inside the SVG `chart`.
    static func polylinePoints(in html: String, chart: String) -> String? {
        guard let svg = html.range(of: "<svg id=\"\(chart)\""),
              let polyline = html.range(of: "<polyline class=\"series\"", range: svg.upperBound..<html.endIndex),
              let start = html.range(of: "points=\"", range: polyline.upperBound..<html.endIndex),
              let end = html.range(of: "\"", range: start.upperBound..<html.endIndex)
        else { return nil }
        return String(html[start.upperBound..<end.lowerBound])
    }

    /// Serves `app` with every request authorized by the admin token, and
    /// records the paths requested.
    private func startServer(_ app: WebApplication, paths: RecordedLines) throws -> LoopbackServer {
        let configuration = HTTPConnection.Configuration(requestTimeout: .seconds(20), idleTimeout: .seconds(20))
        return try LoopbackServer(configuration: configuration) { request in
            paths.append(request.path ?? "")
            var authorized = request
            authorized.head.headers.set(name: "Authorization", value: "Bearer \(testTokenValue)")
            return app.handle(authorized)
        }
    }

    /// Runs Chromium with flags that keep it off the network: every
    /// non-loopback request goes to a closed proxy port on 127.0.0.1, and
    /// background services are disabled.
    private func chromium(_ arguments: [String], profile: String) throws -> ProcessResult {
        let path = try #require(findExecutable("chromium", "chromium-browser"), "chromium is not installed")
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile)",
                     "--proxy-server=http://127.0.0.1:9", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-default-apps",
                     "--disable-domain-reliability", "--no-pings", "--disable-breakpad", "--disable-dev-shm-usage", "--enable-logging=stderr",
                     "--window-size=\(Self.windowWidth),\(Self.windowHeight)"]
        return try runProcess(path, flags + arguments, timeout: Self.chromiumTimeoutSeconds)
    }

    private func history() -> WebApplication {
        let app = makeApplication(scheme: "http")
        // Two minutes of a sawtooth: packets rise by 10/s each second.
        var packets: UInt64 = 0
        for second in 0...120 {
            packets += UInt64(second % 30) * 10
            app.recordHistory(.init(packets: packets, handshakes: UInt64(second / 3), connections: second % 7),
                              at: Instant.zero + Nanoseconds.seconds(Int64(second)))
        }
        return app
    }

    @Test func dashboardRendersInChromium() throws {
        let app = history()
        let paths = RecordedLines()
        let server = try startServer(app, paths: paths)
        defer { server.stop() }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("capnet-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }

        // The virtual time budget lets the dashboard script fetch /api/status
        // and redraw before the DOM is dumped.
        let result = try chromium(["--virtual-time-budget=\(Self.virtualTimeBudgetMilliseconds)", "--dump-dom",
                                   server.baseURL + "/"], profile: profile.path)
        #expect(result.status == 0, "chromium: \(result.stderr.suffix(2000))")
        let dom = result.stdout
        for id in ["interfaces", "neighbors", "connections", "tls-sessions", "certificates", "captures"] {
            #expect(dom.contains("<table id=\"\(id)\""), "no table #\(id) in the DOM")
        }
        for id in ["chart-packets", "chart-connections", "chart-handshakes"] {
            #expect(dom.contains("<svg id=\"\(id)\""), "no chart #\(id) in the DOM")
        }
        #expect(dom.contains("<polyline class=\"series\""))
        // The hostile SNI stayed text: the browser built no element from it.
        #expect(!dom.contains("<img src=\"x\""))
        #expect(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        // The browser loaded the stylesheet and reported no CSP violation.
        #expect(paths.all.contains("/static/dashboard.css"))
        // The script ran: it fetched the status and redrew the page from it.
        #expect(paths.all.contains("/static/dashboard.js"))
        #expect(paths.all.contains("/api/status"))
        #expect(dom.contains("data-updated=\"2026-01-02T03:04:05Z\""))
        // The script's polyline equals the server's for the same history.
        let served = app.handle(makeRequest(.GET, "/", headers: [bearer])).bodyText
        let serverPoints = try #require(Self.polylinePoints(in: served, chart: "chart-packets"))
        #expect(serverPoints.split(separator: " ").count == 120)
        #expect(Self.polylinePoints(in: dom, chart: "chart-packets") == serverPoints)
        #expect(!result.stderr.contains("Content Security Policy"), "\(result.stderr.suffix(2000))")
    }

    @Test func screenshotIsAValidPNG() throws {
        let app = history()
        let paths = RecordedLines()
        let server = try startServer(app, paths: paths)
        defer { server.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("capnet-shot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("dashboard.png")

        let result = try chromium(["--screenshot=\(file.path)", "--hide-scrollbars", server.baseURL + "/"],
                                  profile: directory.appendingPathComponent("profile").path)
        #expect(result.status == 0, "chromium: \(result.stderr.suffix(2000))")
        let png = try [UInt8](Data(contentsOf: file))
        // PNG signature and the IHDR chunk first (PNG specification §5.2, §11.2.2).
        #expect(png.count > 20_000, "screenshot of \(png.count) bytes is too small to show the page")
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        try #require(png.count > 24, "the file is shorter than a PNG header")
        #expect(Array(png[12..<16]) == Array("IHDR".utf8))
        func bigEndian(_ offset: Int) -> Int { png[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
        #expect(bigEndian(16) == Self.windowWidth)
        #expect(bigEndian(20) == Self.windowHeight)
    }
}
