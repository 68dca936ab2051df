// JSON responses for the status API, encoded by Foundation's JSONEncoder
// with sorted keys so that equal values give equal bytes.
import Foundation

extension HTTPResponse {
    public static let jsonContentType = "application/json"

    /// Encodes `value` as JSON (RFC 8259) into a response body.
    public static func json<T: Encodable>(_ value: T, status: HTTPStatus = .ok) throws -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = try encoder.encode(value)
        return HTTPResponse(status: status, headers: ["Content-Type": jsonContentType], body: Array(body))
    }
}
