// The plain-HTTP service on port 80: it serves the http-01 challenge
// responses published through the ACME capability (RFC 8555 §8.3), and
// redirects every other request to HTTPS with 308 (RFC 9110 §15.4.9).
import CapnetBase

public struct Port80Service: Sendable {
    /// The path prefix of http-01 validation requests (RFC 8555 §8.3).
    public static let challengePathPrefix = "/.well-known/acme-challenge/"
    /// The port HTTPS URLs leave out.
    public static let defaultHTTPSPort: UInt16 = 443

    public let challenges: ACMEChallengeReader
    /// The port of the HTTPS service the redirects point at.
    public let httpsPort: UInt16

    private static let log = Logger(.http)

    public init(challenges: ACMEChallengeReader, httpsPort: UInt16 = Port80Service.defaultHTTPSPort) {
        self.challenges = challenges
        self.httpsPort = httpsPort
    }

    /// Connection settings for port 80: validation requests are small GETs,
    /// so the bounds are tighter than the defaults.
    public static func connectionConfiguration(dateClock: HTTPDateClock?) -> HTTPConnection.Configuration {
        HTTPConnection.Configuration(
            limits: HTTPParserLimits(maxRequestLineLength: 4 * 1024, maxHeaderSectionSize: 8 * 1024,
                                     maxHeaderCount: 50, maxBodySize: 64 * 1024),
            requestTimeout: .seconds(10), idleTimeout: .seconds(15),
            maxPipelinedRequests: 4, dateClock: dateClock)
    }

    /// The kind of resource a raw path names on this service.
    enum PathKind: Equatable {
        /// `/.well-known/acme-challenge/<token>`, written exactly so.
        case challenge(token: String)
        /// Inside the challenge namespace in any other form (sub-paths,
        /// percent-encoding, an empty token), or a path with dot-segments
        /// anywhere: never served, never redirected.
        case refused
        case other
    }

    public func respond(to request: HTTPRequest) -> HTTPResponse {
        guard let rawPath = request.target.path else {
            // OPTIONS * has no path to redirect to; CONNECT is not served.
            if request.target == .asterisk {
                return HTTPResponse(status: .noContent, headers: ["Allow": "GET, HEAD"])
            }
            return .error(.notImplemented)
        }

        switch Self.classify(rawPath) {
        case .refused:
            return .error(.notFound)
        case .challenge(let token):
            guard let keyAuthorization = challenges.keyAuthorization(for: token) else {
                return .error(.notFound)
            }
            guard request.method == .GET || request.method == .HEAD else {
                return HTTPResponse(status: .methodNotAllowed, headers: ["Allow": "GET, HEAD"],
                                    body: Array("Method Not Allowed\n".utf8))
            }
            Self.log.info("served http-01 challenge response", "token=\(token)")
            return HTTPResponse(status: .ok, headers: ["Content-Type": "application/octet-stream"],
                                body: Array(keyAuthorization.utf8))
        case .other:
            return redirect(request, rawPath: rawPath)
        }
    }

    /// 308 to `https://<host><path>[?query]`. The host comes from an
    /// absolute-form target, else from Host (RFC 9112 §3.2.2); an invalid or
    /// missing host gets 400.
    private func redirect(_ request: HTTPRequest, rawPath: String) -> HTTPResponse {
        let authority: String?
        if case .absolute(_, let targetAuthority, _, _) = request.target {
            authority = targetAuthority
        } else {
            authority = request.headers["Host"]
        }
        guard let authority, let host = RedirectHost.validated(authority) else {
            return .error(.badRequest)
        }
        let port = httpsPort == Self.defaultHTTPSPort ? "" : ":\(httpsPort)"
        // The path and query passed the parser's request-target check, so
        // they hold only URI characters and are safe to copy.
        let location = "https://\(host)\(port)\(rawPath)" + (request.query.map { "?" + $0 } ?? "")
        return HTTPResponse(status: .permanentRedirect, headers: ["Location": location])
    }

    static func classify(_ rawPath: String) -> PathKind {
        if rawPath.hasPrefix(challengePathPrefix) {
            let token = rawPath.dropFirst(challengePathPrefix.count)
            if ACMEChallengeBoard.isValidToken(String(token)) { return .challenge(token: String(token)) }
        }
        // Decode leniently (a malformed escape stays as written) so that
        // "%2e%2e" and "%2F" are seen for what they mean.
        let decoded = decodedLeniently(rawPath)
        let segments = decoded.split(separator: "/", omittingEmptySubsequences: false)
        if segments.contains(where: { $0 == "." || $0 == ".." }) { return .refused }
        let namespace = String(challengePathPrefix.dropLast())
        let lowered = decoded.lowercased()
        if lowered == namespace || lowered.hasPrefix(challengePathPrefix) { return .refused }
        return .other
    }

    private static func decodedLeniently(_ rawPath: String) -> String {
        var bytes: [UInt8] = []
        let raw = Array(rawPath.utf8)
        var i = 0
        while i < raw.count {
            if raw[i] == ASCII.percent, i + 2 < raw.count,
               let high = ASCII.hexValue(raw[i + 1]), let low = ASCII.hexValue(raw[i + 2])
            {
                bytes.append(high << 4 | low)
                i += 3
            } else {
                bytes.append(raw[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
