import Foundation
import CapnetBase
@testable import Acme

/// A clock whose sleeps only advance its wall time and are recorded.
final class VirtualACMEClock: ACMEClock {
    var current: Date
    private(set) var sleeps: [Nanoseconds] = []
    init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }
    func now() -> Date { current }
    func sleep(for duration: Nanoseconds) async throws {
        sleeps.append(duration)
        current = current.addingTimeInterval(duration.seconds)
    }
}

/// Answers requests from per-"METHOD URL" queues of responses; the last
/// response of a queue repeats. Records every request.
final class ScriptedTransport: ACMETransport {
    private var queues: [String: [ACMEHTTPResponse]] = [:]
    private(set) var requests: [ACMEHTTPRequest] = []
    private var nonceCounter = 0
    /// Called before each answer, for tests that check ordering.
    var onRequest: ((ACMEHTTPRequest) -> Void)?

    func script(_ method: String, _ url: String, _ responses: ACMEHTTPResponse...) {
        queues["\(method) \(url)", default: []].append(contentsOf: responses)
    }

    /// "METHOD URL" keys whose requests fail below HTTP, as when the server vanished.
    var unreachable: Set<String> = []

    func perform(_ request: ACMEHTTPRequest) async throws -> ACMEHTTPResponse {
        requests.append(request)
        onRequest?(request)
        let key = "\(request.method) \(request.url)"
        if unreachable.contains(key) {
            throw ACMEError.transportFailed(url: request.url, detail: "TCP connection to 127.0.0.1:14000 was refused")
        }
        guard var queue = queues[key], !queue.isEmpty else {
            return ACMEHTTPResponse(status: 404, headers: [("Content-Type", "application/problem+json")],
                                    body: Array("{\"type\":\"about:blank\",\"detail\":\"unscripted \(key)\"}".utf8))
        }
        var response = queue.count > 1 ? queue.removeFirst() : queue[0]
        queues[key] = queue
        // Like Pebble, only HEAD newNonce and POST responses carry nonces here.
        if request.method != "GET", response.header("Replay-Nonce") == nil {
            nonceCounter += 1
            response.headers.append(("Replay-Nonce", "nonce\(nonceCounter)"))
        }
        return response
    }

    /// Requests with `method` and `url`, in order.
    func requests(_ method: String, _ url: String) -> [ACMEHTTPRequest] {
        requests.filter { $0.method == method && $0.url == url }
    }
}

/// Records publish and retire calls.
final class RecordingResponder: ACMEChallengeResponder {
    enum Event: Equatable { case publish(String, String), retire(String) }
    private(set) var events: [Event] = []
    private(set) var published: [String: String] = [:]
    func publish(token: String, keyAuthorization: String) async throws {
        events.append(.publish(token, keyAuthorization))
        published[token] = keyAuthorization
    }
    func retire(token: String) async {
        events.append(.retire(token))
        published[token] = nil
    }
}

/// A JSON response with status and optional extra headers.
func jsonResponse(_ status: Int, _ json: String, headers: [(String, String)] = []) -> ACMEHTTPResponse {
    let contentType = status >= 400 ? "application/problem+json" : "application/json"
    return ACMEHTTPResponse(status: status, headers: [("Content-Type", contentType)] + headers.map { ($0.0, $0.1) },
                            body: Array(json.utf8))
}

/// Decodes the protected header of a JWS request body into a dictionary.
func protectedHeader(of request: ACMEHTTPRequest) -> [String: Any] {
    guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
          let protected = body["protected"] as? String, let bytes = Base64URL.decode(protected),
          let header = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return [:] }
    return header
}

/// Decodes the payload of a JWS request body as text.
func payloadText(of request: ACMEHTTPRequest) -> String? {
    guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
          let payload = body["payload"] as? String, let bytes = Base64URL.decode(payload) else { return nil }
    return String(decoding: bytes, as: UTF8.self)
}
