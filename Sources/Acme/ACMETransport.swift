import Foundation
import CapnetBase

/// One HTTPS request as the ACME client issues it.
public struct ACMEHTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// The response to one `ACMEHTTPRequest`. Header names compare case-insensitively.
public struct ACMEHTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Returns the first value of header `name`, or nil.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// Returns every value of header `name`, in order.
    public func headerValues(_ name: String) -> [String] {
        headers.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    /// Whether the status is 2xx.
    public var isSuccess: Bool { (200..<300).contains(status) }
}

/// Performs one HTTPS request, verifying the server against the CA bundle it
/// was configured with. Production runs this over capnet's TLS client and TCP
/// stack; tests use kernel sockets. Throw for failures below HTTP (connect,
/// TLS, timeout): the client retries those with backoff.
public protocol ACMETransport: AnyObject {
    func perform(_ request: ACMEHTTPRequest) async throws -> ACMEHTTPResponse
}

/// Publishes and retires http-01 key authorizations on port 80 (RFC 8555 §8.3):
/// a GET of `/.well-known/acme-challenge/<token>` must return the key
/// authorization as the body while the token is published.
public protocol ACMEChallengeResponder: AnyObject {
    func publish(token: String, keyAuthorization: String) async throws
    func retire(token: String) async
}

/// Wall-clock time and waiting, passed in so tests run without real delays.
public protocol ACMEClock: AnyObject {
    /// The current wall-clock time, for Retry-After dates and certificate validity.
    func now() -> Date
    /// Suspends for `duration`. A virtual clock advances its time instead.
    func sleep(for duration: Nanoseconds) async throws
}

/// The system wall clock and `Task.sleep`.
public final class SystemACMEClock: ACMEClock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(for duration: Nanoseconds) async throws {
        try await Task.sleep(nanoseconds: UInt64(max(0, duration.value)))
    }
}
