// The route table and the read-only routes: dashboard, stylesheet,
// health check, status JSON and metrics.
import Foundation

/// The body of GET /api/status.
public struct StatusReport: Codable, Hashable, Sendable {
    public var snapshot: StatusSnapshot
    public var history: HistoryReport
}

extension WebApplication {
    func addRoutes() {
        var r = Router()
        r.get("/healthz") { _, _ in .text("ok") }
        r.get(StaticAssets.stylesheetPath) { _, _ in
            var response = HTTPResponse.text(StaticAssets.stylesheet, contentType: StaticAssets.stylesheetContentType)
            response.headers.set(name: "Cache-Control", value: StaticAssets.cacheControl)
            return response
        }
        r.get(StaticAssets.scriptPath) { _, _ in
            var response = HTTPResponse.text(StaticAssets.script, contentType: StaticAssets.scriptContentType)
            response.headers.set(name: "Cache-Control", value: StaticAssets.cacheControl)
            return response
        }
        r.get("/login") { [unowned self] request, _ in loginPage(request) }
        r.post("/login") { [unowned self] request, _ in login(request) }
        r.post("/logout") { [unowned self] request, _ in logout(request) }
        r.get("/") { [unowned self] _, _ in dashboard() }
        r.get("/api/status") { [unowned self] _, _ in statusJSON() }
        r.get("/metrics") { [unowned self] _, _ in metrics() }
        if captures != nil {
            r.get("/api/captures") { [unowned self] _, _ in listCaptures() }
            r.post("/api/captures") { [unowned self] request, _ in startCapture(request) }
            r.post("/api/captures/:name/stop") { [unowned self] request, match in
                stopCapture(request, name: match.parameters["name"] ?? "")
            }
            r.get("/api/captures/:name") { [unowned self] _, match in downloadCapture(name: match.parameters["name"] ?? "") }
        }
        if renewCertificate != nil {
            r.post("/api/certificates/renew") { [unowned self] request, _ in renewCertificateNow(request) }
        }
        router = r
    }

    /// Starts an ACME renewal: 202 for API clients, a 303 back to the
    /// dashboard for its form, 409 while an order is running.
    func renewCertificateNow(_ request: HTTPRequest) -> HTTPResponse {
        guard let renewCertificate else { return .error(.notFound) }
        guard renewCertificate() else {
            return Self.jsonError("a certificate is being issued already; wait for it to finish", .conflict)
        }
        Self.log.notice("certificate renewal requested through the Web UI")
        if Self.prefersHTML(request) { return HTTPResponse(status: .seeOther, headers: ["Location": "/"]) }
        return Self.json(["state": "issuing"], status: .accepted)
    }

    func dashboard() -> HTTPResponse {
        let (snapshot, history) = currentStatus()
        let page = DashboardPage(snapshot: snapshot, history: history, capturesEnabled: captures != nil,
                                 renewalEnabled: renewCertificate != nil)
        return .text(page.render(), contentType: Self.htmlContentType)
    }

    func statusJSON() -> HTTPResponse {
        let (snapshot, history) = currentStatus()
        return Self.json(StatusReport(snapshot: snapshot, history: history))
    }

    func metrics() -> HTTPResponse {
        let (snapshot, history) = currentStatus()
        return MetricsRenderer(snapshot: snapshot, history: history, application: statistics).render().response
    }

    /// JSON with sorted keys and ISO 8601 dates; an encoding failure is a 500.
    static func json<T: Encodable>(_ value: T, status: HTTPStatus = .ok) -> HTTPResponse {
        do {
            return try HTTPResponse.json(value, status: status)
        } catch {
            log.error("cannot encode a JSON response", "error=\(error)")
            return .error(.internalServerError)
        }
    }
}
