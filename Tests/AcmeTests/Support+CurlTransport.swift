import Foundation
@testable import Acme

/// ACMETransport over the curl CLI with kernel sockets, trusting only the
/// given CA bundle. `curl --cacert` trusts exactly one bundle per request,
/// and curl is already a test dependency.
/// NOTE: custom root trust in URLSession (FoundationNetworking) was not tried.
final class CurlTransport: ACMETransport {
    let caBundle: String
    let scratch: String
    /// Upper bound on one request, passed to curl as --max-time.
    static let maxTimeSeconds = 15
    private var counter = 0

    init(caBundle: String, scratch: String) {
        self.caBundle = caBundle
        self.scratch = scratch
    }

    func perform(_ request: ACMEHTTPRequest) async throws -> ACMEHTTPResponse {
        counter += 1
        let headerFile = "\(scratch)/curl-\(counter).headers"
        let bodyFile = "\(scratch)/curl-\(counter).body"
        let requestFile = "\(scratch)/curl-\(counter).request"
        defer {
            for file in [headerFile, bodyFile, requestFile] { try? FileManager.default.removeItem(atPath: file) }
        }

        var arguments = ["curl", "-sS", "--cacert", caBundle, "--max-time", String(Self.maxTimeSeconds),
                         "-D", headerFile, "-o", bodyFile, "-w", "%{http_code}"]
        if request.method == "HEAD" {
            arguments.append("--head")
        } else {
            arguments += ["-X", request.method]
        }
        for header in request.headers { arguments += ["-H", "\(header.name): \(header.value)"] }
        if !request.body.isEmpty {
            try Data(request.body).write(to: URL(fileURLWithPath: requestFile))
            arguments += ["--data-binary", "@" + requestFile]
        }
        arguments.append(request.url)

        // A Dispatch thread waits for curl, so no thread of the task pool blocks.
        let command = arguments
        let result = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runCommand(command, timeout: Double(Self.maxTimeSeconds + 5)) })
            }
        }
        guard result.status == 0, let status = Int(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ACMEError.transportFailed(url: request.url, detail: "curl exit \(result.status): \(result.errors)")
        }
        let headerText = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
        let body = FileManager.default.contents(atPath: bodyFile).map(Array.init) ?? []
        return ACMEHTTPResponse(status: status, headers: Self.parseHeaders(headerText), body: body)
    }

    /// Parses the last header block curl wrote (earlier blocks are interim responses).
    static func parseHeaders(_ text: String) -> [(name: String, value: String)] {
        let blocks = text.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }
        guard let last = blocks.last else { return [] }
        return last.components(separatedBy: "\r\n").dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }
}

/// Counts requests by method and URL path while forwarding them, with the
/// status of each response, because badNonce retries repeat a request.
final class CountingTransport: ACMETransport {
    let base: ACMETransport
    private(set) var exchanges: [(request: String, status: Int)] = []
    init(_ base: ACMETransport) { self.base = base }
    func perform(_ request: ACMEHTTPRequest) async throws -> ACMEHTTPResponse {
        let name = request.method + " " + (URL(string: request.url)?.path ?? request.url)
        let response = try await base.perform(request)
        exchanges.append((name, response.status))
        return response
    }
    /// Requests sent to `methodAndPath`, retries included.
    func count(_ methodAndPath: String) -> Int { exchanges.filter { $0.request == methodAndPath }.count }
    /// Requests to `methodAndPath` that got a 2xx response.
    func successes(_ methodAndPath: String) -> Int {
        exchanges.filter { $0.request == methodAndPath && (200..<300).contains($0.status) }.count
    }
}

/// The system clock shifted by `offset`, with real sleeps (Pebble polls are short).
final class ShiftedClock: ACMEClock {
    var offset: TimeInterval = 0
    func now() -> Date { Date().addingTimeInterval(offset) }
    func sleep(for duration: CapnetBase.Nanoseconds) async throws {
        try await Task.sleep(nanoseconds: UInt64(max(0, duration.value)))
    }
}

import CapnetBase
