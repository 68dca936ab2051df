// The HTTPS Web UI as one handler: the dashboard, the JSON API, the
// metrics scrape, login and sessions, and capture control, behind the
// admin token. The owner passes `handle(_:)` to each HTTPS connection's
// HTTPConnection and feeds the chart history from its run loop.
//
// Wiring in the owner, in outline:
//
//     let loaded = try AdminTokenStore.loadOrCreate(stateDirectory: stateDirectory)
//     let app = WebApplication(token: loaded.token, clock: clock, status: {
//         var snapshot = StatusSnapshot.collect(from: interfaces, service: service(), generatedAt: Date())
//         snapshot.connections = ...   // ConnectionStatus per TCP connection
//         snapshot.tlsSessions = ...   // TLSSessionStatus per session
//         snapshot.certificates = ...  // CertificateStatus per certificate
//         return snapshot
//     }, captures: captureController)
//     var configuration = HTTPConnection.Configuration()
//     app.install(on: &configuration)
//     // Per HTTPS connection: connection.respondToRequests(now:with: app.handle)
//     // Every turn: app.recordHistory(StatusHistory.Totals(interfaces: interfaces,
//     //     handshakes: handshakeTotal, connections: openConnections), at: now)
import CapnetBase
import Foundation

public final class WebApplication: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// The scheme browsers use to reach the UI, for the same-origin
        /// check of form posts: "https" in the service, "http" only in tests.
        public var scheme: String
        /// Sent on every response. The Referrer-Policy is "same-origin"
        /// because with "no-referrer" browsers send `Origin: null` on form
        /// posts (Fetch standard, "append a request Origin header"), which
        /// the same-origin check could not tell from a cross-site post.
        public var securityHeaders: SecurityHeaders
        public var maximumSessions: Int
        public var sessionLifetime: Nanoseconds

        public init(scheme: String = "https",
                    securityHeaders: SecurityHeaders = SecurityHeaders(referrerPolicy: "same-origin"),
                    maximumSessions: Int = SessionTable.defaultMaximumSessions,
                    sessionLifetime: Nanoseconds = SessionTable.defaultLifetime)
        {
            self.scheme = scheme
            self.securityHeaders = securityHeaders
            self.maximumSessions = maximumSessions
            self.sessionLifetime = sessionLifetime
        }
    }

    /// Counters of the Web UI itself, exported in /metrics.
    public struct Statistics: Hashable, Sendable {
        public var requests: UInt64 = 0
        public var authenticationFailures: UInt64 = 0
        public var logins: UInt64 = 0
        public var csrfRejections: UInt64 = 0
        public var sessions = 0
        public var sessionsLimit = 0
    }

    /// The session cookie's name and the attributes it is always set with.
    public static let sessionCookieName = "capnet_session"
    static let sessionCookieAttributes = "Secure; HttpOnly; SameSite=Strict; Path=/"

    static let log = Logger(.ui)

    public let configuration: Configuration
    let token: AdminToken
    let clock: TimeSource
    let statusProvider: () -> StatusSnapshot
    let captures: CaptureController?
    /// Starts an ACME renewal; nil when ACME does not manage the certificate.
    let renewCertificate: (() -> Bool)?
    /// Set once by `addRoutes()` in `init`.
    var router = Router()

    /// Guards `sessions`, `history` and `statistics`: the handlers may run
    /// on several threads in tests, and the owner feeds the history from its own.
    private let lock = NSLock()
    private var sessions: SessionTable
    private var history = StatusHistory()
    private var counters = Statistics()

    /// - Parameters:
    ///   - token: the admin token from `AdminTokenStore.loadOrCreate`.
    ///   - clock: monotonic time for session expiry.
    ///   - status: returns the current snapshot; called once per page,
    ///     API or metrics request, on the handler's thread.
    ///   - captures: capture control, or nil to offer none (the capture
    ///     routes then return 404). When given, it also supplies the
    ///     snapshot's capture list.
    ///   - renewCertificate: requests a new ACME certificate now, and returns
    ///     false when one is being issued already. With nil there is no
    ///     renewal route (it returns 404).
    public init(configuration: Configuration = Configuration(), token: AdminToken, clock: TimeSource,
                status: @escaping () -> StatusSnapshot, captures: CaptureController? = nil,
                renewCertificate: (() -> Bool)? = nil)
    {
        self.configuration = configuration
        self.token = token
        self.clock = clock
        statusProvider = status
        self.captures = captures
        self.renewCertificate = renewCertificate
        sessions = SessionTable(maximumSessions: configuration.maximumSessions,
                                lifetime: configuration.sessionLifetime)
        addRoutes()
    }

    // MARK: - Owner interface

    /// Records the totals read at `now` into the chart history (see
    /// `StatusHistory.record`). Call it about once a second, or on every turn.
    public func recordHistory(_ totals: StatusHistory.Totals, at now: Instant) {
        lock.withLock { history.record(totals, at: now) }
    }

    public var statistics: Statistics {
        lock.withLock {
            var s = counters
            s.sessions = sessions.count
            s.sessionsLimit = sessions.maximumSessions
            return s
        }
    }

    /// Returns the response for `request`, with the security headers applied.
    /// Pass it as the handler of every HTTPS connection.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        lock.withLock { counters.requests += 1 }
        var response = respond(to: request)
        finish(&response)
        return response
    }

    /// Returns the router's response from the head alone, with the security
    /// headers. Pass it as `HTTPConnection.Configuration.screenHead`.
    public func screen(_ head: HTTPRequestHead) -> HTTPResponse? {
        guard var response = router.screen(head) else { return nil }
        finish(&response)
        return response
    }

    /// Sets `screenHead` on a connection configuration to this
    /// application's `screen(_:)`, for the HTTPS connections it serves.
    public func install(on configuration: inout HTTPConnection.Configuration) {
        configuration.screenHead = { [self] head in screen(head) }
    }

    private func finish(_ response: inout HTTPResponse) {
        configuration.securityHeaders.apply(to: &response)
        if !response.headers.contains("Cache-Control") {
            response.headers.set(name: "Cache-Control", value: "no-store")
        }
    }

    // MARK: - Request flow

    private func respond(to request: HTTPRequest) -> HTTPResponse {
        let access = Self.access(for: request)
        var credential: Credential?
        if access != .publicResource {
            switch authenticate(request) {
            case .success(let c): credential = c
            case .failure(let rejection): return rejection.response
            }
        }
        // Form posts must come from our own pages. A bearer token is never
        // attached by a browser on its own, so API clients are exempt.
        if !Self.safeMethods.contains(request.method), credential != .bearer, !isSameOrigin(request) {
            lock.withLock { counters.csrfRejections += 1 }
            Self.log.info("rejected a cross-origin request: Origin or Referer is not this UI",
                          "method=\(request.method) path=\(request.path ?? "")")
            return .text("Cross-origin form posts are not accepted.\n", status: .forbidden)
        }
        return router.handle(request)
    }

    /// Methods that change nothing on the server (RFC 9110 §9.2.1), exempt
    /// from the same-origin check.
    static let safeMethods: Set<HTTPMethod> = [.GET, .HEAD, .OPTIONS, .TRACE]

    enum Access: Equatable { case publicResource, authenticated }

    /// /healthz, /login and /static/* are public; everything else needs a credential.
    static func access(for request: HTTPRequest) -> Access {
        guard let path = request.path, case .success(let segments) = PercentDecoding.pathSegments(path) else {
            return .authenticated
        }
        switch segments.first {
        case "healthz", "login": return segments.count == 1 ? .publicResource : .authenticated
        case "static": return .publicResource
        default: return .authenticated
        }
    }

    // MARK: - Helpers for routes

    func withSessions<T>(_ body: (inout SessionTable) -> T) -> T {
        lock.withLock { body(&sessions) }
    }

    func countLogin(succeeded: Bool) {
        lock.withLock {
            if succeeded { counters.logins += 1 } else { counters.authenticationFailures += 1 }
        }
    }

    func countAuthenticationFailure() {
        lock.withLock { counters.authenticationFailures += 1 }
    }

    /// Reads the snapshot and history for one request.
    func currentStatus() -> (StatusSnapshot, HistoryReport) {
        var snapshot = statusProvider()
        if let captures { snapshot.captures = captures.listCaptures() }
        let report = lock.withLock { HistoryReport(history) }
        return (snapshot, report)
    }
}
