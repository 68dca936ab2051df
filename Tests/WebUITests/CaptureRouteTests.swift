// Capture control routes: start, list, stop and download through the
// controller, and names that try to leave the capture directory.
import Foundation
import Testing
@testable import WebUI

@Suite struct CaptureRouteTests {
    private let json = ("Content-Type", "application/json")

    @Test func startListStopDownload() throws {
        let controller = MemoryCaptureController()
        let app = makeApplication(captures: controller)
        let started = app.handle(makeRequest(.POST, "/api/captures", headers: [bearer, json], body: "{\"name\":\"run-1\"}"))
        #expect(started.status == .created)
        #expect(started.bodyText == "{\"name\":\"run-1\",\"running\":true,\"sizeBytes\":4}")
        let again = app.handle(makeRequest(.POST, "/api/captures", headers: [bearer, json], body: "{\"name\":\"run-1\"}"))
        #expect(again.status == .conflict)

        let list = app.handle(makeRequest(.GET, "/api/captures", headers: [bearer]))
        #expect(list.bodyText == "[{\"name\":\"run-1\",\"running\":true,\"sizeBytes\":4}]")
        #expect(app.handle(makeRequest(.GET, "/api/captures/run-1", headers: [bearer])).status == .conflict)

        let stopped = app.handle(makeRequest(.POST, "/api/captures/run-1/stop", headers: [bearer]))
        #expect(stopped.status == .ok)
        #expect(stopped.bodyText.contains("\"running\":false"))

        let download = app.handle(makeRequest(.GET, "/api/captures/run-1", headers: [bearer]))
        #expect(download.status == .ok)
        #expect(download.headers["Content-Type"] == "application/octet-stream")
        #expect(download.headers["Content-Disposition"] == "attachment; filename=\"run-1.pcapng\"")
        #expect(download.body == [0x0A, 0x0D, 0x0D, 0x0A])
        #expect(app.handle(makeRequest(.GET, "/api/captures/other", headers: [bearer])).status == .notFound)
    }

    @Test func browserFormStartRedirectsToDashboard() {
        let app = makeApplication()
        let response = app.handle(makeRequest(.POST, "/api/captures", headers: [bearer, formType, ("Accept", "text/html")],
                                              body: "name=from-form"))
        #expect(response.status == .seeOther)
        #expect(response.headers["Location"] == "/")
    }

    @Test func traversalNamesNeverReachTheController() {
        let controller = MemoryCaptureController()
        let app = makeApplication(captures: controller)
        let paths = [
            "/api/captures/..%2F..%2Fetc%2Fpasswd",  // encoded slash: router 400
            "/api/captures/%2e%2e",                  // dot-segment: router 400
            "/api/captures/%2E%2E/stop",
            "/api/captures/.hidden",
            "/api/captures/a%00b",
            "/api/captures/a%20b",
            "/api/captures/a%5Cb",                   // backslash
            "/api/captures/" + String(repeating: "x", count: CaptureName.maximumLength + 1),
        ]
        for path in paths {
            let status = app.handle(makeRequest(.GET, path, headers: [bearer])).status
            #expect(status == .badRequest, "\(path) gave \(status)")
        }
        for name in ["../x", "..", ".", "a/b", "", "x\"y", "é"] {
            let body = "{\"name\":\(String(decoding: try! JSONEncoder().encode(name), as: UTF8.self))}"
            let status = app.handle(makeRequest(.POST, "/api/captures", headers: [bearer, json], body: body)).status
            #expect(status == .badRequest, "\(name) gave \(status)")
        }
        #expect(controller.namesSeen.isEmpty)
        #expect(CaptureName("a.b_c-1") != nil)
        #expect(CaptureName(String(repeating: "x", count: CaptureName.maximumLength)) != nil)
    }

    @Test func noControllerMeansNoCaptureRoutes() {
        let app = makeApplication(captures: nil)
        #expect(app.handle(makeRequest(.GET, "/api/captures", headers: [bearer])).status == .notFound)
    }

    @Test func stopReasonListedAndEscaped() throws {
        let reason = "stopped at the size limit of <64> bytes"
        let controller = FixedCaptureController([
            CaptureStatus(name: "full", sizeBytes: 64, running: false, stopReason: reason),
            CaptureStatus(name: "done", sizeBytes: 8, running: false),
        ])
        let app = makeApplication(captures: controller)

        let list = app.handle(makeRequest(.GET, "/api/captures", headers: [bearer]))
        let decoded = try JSONDecoder().decode([CaptureStatus].self, from: Data(list.body))
        #expect(decoded.map(\.stopReason) == [reason, nil])
        // A capture without a reason has no stopReason key at all.
        #expect(list.bodyText.contains("{\"name\":\"done\",\"running\":false,\"sizeBytes\":8}"))

        let page = app.handle(makeRequest(.GET, "/", headers: [bearer])).bodyText
        #expect(page.contains("<td>stopped: stopped at the size limit of &lt;64&gt; bytes</td>"))
        #expect(page.contains("<td>done</td><td>8</td><td>stopped</td>"))
    }
}

/// A controller that lists fixed captures and rejects every change.
private final class FixedCaptureController: CaptureController, @unchecked Sendable {
    private let captures: [CaptureStatus]

    init(_ captures: [CaptureStatus]) { self.captures = captures }

    func listCaptures() -> [CaptureStatus] { captures }

    func startCapture(named name: CaptureName) throws(CaptureControlError) -> CaptureStatus {
        throw .limitReached("fixed")
    }

    func stopCapture(named name: CaptureName) throws(CaptureControlError) -> CaptureStatus {
        throw .notFound
    }

    func captureFile(named name: CaptureName) throws(CaptureControlError) -> CaptureFile {
        throw .notFound
    }
}
