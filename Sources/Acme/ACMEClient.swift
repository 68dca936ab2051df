import Foundation
import CapnetBase

/// An RFC 8555 client: directory, nonces, signed requests with bounded
/// retries, accounts and orders. It performs no I/O itself: requests go
/// through `ACMETransport`, waiting through `ACMEClock`, signing through
/// `ACMEAccountSigner`, and http-01 tokens through `ACMEChallengeResponder`.
///
/// One client serves one task at a time: calls must not overlap.
public final class ACMEClient {
    public let configuration: ACMEConfiguration
    let signer: ACMEAccountSigner
    let transport: ACMETransport
    let responder: ACMEChallengeResponder
    let clock: ACMEClock
    var random: ErasedRandomNumberGenerator
    static let log = Logger(.acme)

    public private(set) var directory: ACMEDirectory?
    /// The account URL, used as `kid` once known (RFC 8555 §6.2).
    public internal(set) var accountURL: String?
    /// The most recent unused `Replay-Nonce` (RFC 8555 §6.5).
    var nonce: String?

    /// Media types of RFC 8555 §6.2, RFC 7807 §6.1 and RFC 8555 §9.1.
    static let joseContentType = "application/jose+json"
    static let problemContentType = "application/problem+json"
    static let certificateChainContentType = "application/pem-certificate-chain"

    public init(configuration: ACMEConfiguration, signer: ACMEAccountSigner, transport: ACMETransport,
                responder: ACMEChallengeResponder, clock: ACMEClock,
                random: any RandomNumberGenerator = SystemRandomNumberGenerator()) {
        self.configuration = configuration
        self.signer = signer
        self.transport = transport
        self.responder = responder
        self.clock = clock
        self.random = ErasedRandomNumberGenerator(base: random)
    }

    /// Fetches the directory once and keeps it.
    @discardableResult
    public func loadDirectory() async throws -> ACMEDirectory {
        if let directory { return directory }
        let url = configuration.directoryURL
        let response = try await sendUnsigned(ACMEHTTPRequest(method: "GET", url: url))
        let loaded = try decode(ACMEDirectory.self, from: response, url: url)
        directory = loaded
        return loaded
    }

    /// Drops the cached directory, so the next request fetches it again and
    /// sees endpoints the CA added since (such as `renewalInfo`).
    public func forgetDirectory() {
        directory = nil
    }

    /// Takes the stored nonce, or fetches one with HEAD newNonce (RFC 8555 §7.2).
    func takeNonce() async throws -> String {
        if let stored = nonce {
            nonce = nil
            return stored
        }
        let url = try await loadDirectory().newNonce
        let response = try await sendUnsigned(ACMEHTTPRequest(method: "HEAD", url: url))
        guard let fresh = response.replayNonce else {
            throw ACMEError.invalidResponse(url: url, detail: "no Replay-Nonce header in the newNonce response")
        }
        nonce = nil
        return fresh
    }

    /// Sends a JWS-signed POST (RFC 8555 §6.2). `payload` nil is POST-as-GET.
    /// Retries `badNonce` with the nonce from the error response, and rate
    /// limits, server errors and transport failures with backoff, within
    /// `configuration.retryPolicy`. Throws `.problem` for other errors.
    func post(_ url: String, payload: [UInt8]?, useJWK: Bool = false,
              accept: String? = nil) async throws -> ACMEHTTPResponse {
        let policy = configuration.retryPolicy
        var badNonceRetries = 0
        var failedAttempts = 0

        while true {
            let key: JSONWebSignature.KeyIdentification
            if useJWK {
                key = .jwk(signer.publicJWK)
            } else if let accountURL {
                key = .keyID(accountURL)
            } else {
                throw ACMEError.invalidConfiguration("request to \(url) needs an account; call ensureAccount first")
            }
            let jws = try JSONWebSignature.acmeRequest(url: url, nonce: try await takeNonce(), key: key,
                                                       payload: payload, signer: signer)
            var headers = [(name: "Content-Type", value: Self.joseContentType)]
            if let accept { headers.append((name: "Accept", value: accept)) }
            let request = ACMEHTTPRequest(method: "POST", url: url, headers: headers, body: Array(jws.jsonText.utf8))

            let response: ACMEHTTPResponse
            do {
                response = try await transport.perform(request)
            } catch ACMEError.serverCertificateRejected(let rejectedURL, let detail) {
                // Retrying cannot fix a certificate that the trust store rejects.
                throw ACMEError.serverCertificateRejected(url: rejectedURL, detail: detail)
            } catch {
                failedAttempts += 1
                try await backOff(url: url, attempt: failedAttempts, retryAfter: nil,
                                  error: Self.transportDetail(error))
                continue
            }
            if let fresh = response.replayNonce { nonce = fresh }
            try Self.checkBodySize(response, url: url)
            if response.isSuccess { return response }

            let problem = problemDocument(in: response)
            if problem.type == .badNonce {
                badNonceRetries += 1
                Self.log.debug("retrying after badNonce", "url=\(url) retry=\(badNonceRetries)")
                guard badNonceRetries <= policy.maxBadNonceRetries else {
                    throw ACMEError.retriesExhausted(url: url, attempts: badNonceRetries, lastError: "\(problem)")
                }
                continue
            }
            guard Self.isRetryable(status: response.status, problem: problem) else {
                throw ACMEError.problem(problem, url: url)
            }
            failedAttempts += 1
            try await backOff(url: url, attempt: failedAttempts,
                              retryAfter: response.retryAfter(now: clock.now()), error: "\(problem)",
                              problem: problem)
        }
    }

    /// Sends an unsigned GET or HEAD (directory, newNonce, renewalInfo) with
    /// the same backoff as `post` for transient failures.
    func sendUnsigned(_ request: ACMEHTTPRequest) async throws -> ACMEHTTPResponse {
        var failedAttempts = 0
        while true {
            let response: ACMEHTTPResponse
            do {
                response = try await transport.perform(request)
            } catch ACMEError.serverCertificateRejected(let rejectedURL, let detail) {
                // Retrying cannot fix a certificate that the trust store rejects.
                throw ACMEError.serverCertificateRejected(url: rejectedURL, detail: detail)
            } catch {
                failedAttempts += 1
                try await backOff(url: request.url, attempt: failedAttempts, retryAfter: nil,
                                  error: Self.transportDetail(error))
                continue
            }
            if let fresh = response.replayNonce { nonce = fresh }
            try Self.checkBodySize(response, url: request.url)
            if response.isSuccess { return response }
            let problem = problemDocument(in: response)
            guard Self.isRetryable(status: response.status, problem: problem) else {
                throw ACMEError.problem(problem, url: request.url)
            }
            failedAttempts += 1
            try await backOff(url: request.url, attempt: failedAttempts,
                              retryAfter: response.retryAfter(now: clock.now()), error: "\(problem)",
                              problem: problem)
        }
    }

    /// Upper bound on a response body. A certificate chain of a few
    /// certificates is under 16 KiB, so 1 MiB leaves ample room.
    /// NOTE: transports should stop reading at this size, too.
    public static let maxResponseBodyBytes = 1 << 20

    /// Returns the reason for a transport failure without its URL, which the
    /// retry log and the final error already name.
    static func transportDetail(_ error: any Error) -> String {
        if case ACMEError.transportFailed(_, let detail) = error { return detail }
        return "\(error)"
    }

    static func checkBodySize(_ response: ACMEHTTPResponse, url: String) throws {
        guard response.body.count <= maxResponseBodyBytes else {
            throw ACMEError.invalidResponse(url: url, detail: "body of \(response.body.count) bytes exceeds \(maxResponseBodyBytes)")
        }
    }

    /// HTTP 429 and 5xx, and the problem types that name the same conditions.
    static func isRetryable(status: Int, problem: ACMEProblem) -> Bool {
        status == 429 || (500..<600).contains(status)
            || problem.type == .rateLimited || problem.type == .serverInternal
    }

    /// Waits before failed attempt `attempt` (from 1) is retried, or throws
    /// when the attempt budget is spent or the server requests a longer wait
    /// than `maxRetryAfter`.
    func backOff(url: String, attempt: Int, retryAfter: Nanoseconds?, error: String,
                 problem: ACMEProblem? = nil) async throws {
        let policy = configuration.retryPolicy
        guard attempt < policy.maxAttempts else {
            // The last problem document keeps its type and detail for the caller.
            Self.log.warning("giving up on request", "url=\(url) attempts=\(attempt) error=\(error)")
            if let problem { throw ACMEError.problem(problem, url: url) }
            throw ACMEError.retriesExhausted(url: url, attempts: attempt, lastError: error)
        }
        if let retryAfter, policy.maxRetryAfter < retryAfter {
            Self.log.warning("not waiting for Retry-After", "url=\(url) retryAfter=\(retryAfter.seconds)s")
            if let problem { throw ACMEError.problem(problem, url: url) }
            throw ACMEError.retriesExhausted(url: url, attempts: attempt, lastError: error)
        }
        let delay = retryAfter ?? backoffDelay(retry: attempt - 1)
        Self.log.info("retrying request", "url=\(url) attempt=\(attempt + 1) delay=\(delay.seconds)s error=\(error)")
        try await clock.sleep(for: delay)
    }

    /// Returns a random delay in [d/2, d] with d = min(maxDelay, baseDelay * 2^retry),
    /// so clients that failed together do not retry together.
    func backoffDelay(retry: Int) -> Nanoseconds {
        let policy = configuration.retryPolicy
        var ceiling = policy.baseDelay
        for _ in 0..<max(0, retry) where ceiling < policy.maxDelay {
            ceiling = ceiling * 2
        }
        ceiling = min(ceiling, policy.maxDelay)
        let half = ceiling.value / 2
        return Nanoseconds(half + Int64.random(in: 0...max(0, ceiling.value - half), using: &random))
    }

    /// Returns the problem document in an error response, or one built from the
    /// status line when the body is not a problem document.
    func problemDocument(in response: ACMEHTTPResponse) -> ACMEProblem {
        if let problem = try? JSONDecoder().decode(ACMEProblem.self, from: Data(response.body)),
           problem.type.rawValue != "about:blank" || problem.detail != nil {
            return problem
        }
        return ACMEProblem(type: ACMEProblemType(rawValue: "about:blank"),
                           detail: "HTTP status \(response.status)", status: response.status)
    }

    func decode<T: Decodable>(_ type: T.Type, from response: ACMEHTTPResponse, url: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(response.body))
        } catch {
            throw ACMEError.invalidResponse(url: url, detail: "cannot decode \(T.self): \(error)")
        }
    }

    /// Encodes a request payload with sorted keys, so tests can compare bytes.
    func encodePayload<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// Resolves a possibly relative URL from a header against the request URL.
    static func resolve(_ reference: String, against base: String) -> String {
        URL(string: reference, relativeTo: URL(string: base))?.absoluteString ?? reference
    }
}

/// Wraps any generator so the client can keep one in a stored property.
struct ErasedRandomNumberGenerator: RandomNumberGenerator {
    var base: any RandomNumberGenerator
    mutating func next() -> UInt64 { base.next() }
}
