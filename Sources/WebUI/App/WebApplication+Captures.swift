// Capture control: start, stop, list and download through the owner's
// CaptureController. Names are validated as CaptureName before they reach it.
import Foundation

extension WebApplication {
    struct ErrorBody: Codable { var error: String }
    struct StartRequest: Codable { var name: String }

    func listCaptures() -> HTTPResponse {
        Self.json(captures?.listCaptures() ?? [])
    }

    func startCapture(_ request: HTTPRequest) -> HTTPResponse {
        guard let controller = captures else { return .error(.notFound) }
        let requested: String?
        if Self.isFormEncoded(request) {
            requested = QueryParameters(rawQuery: String(decoding: request.body, as: UTF8.self))?["name"]
        } else if let type = request.headers["Content-Type"], type.lowercased().hasPrefix("application/json") {
            requested = try? JSONDecoder().decode(StartRequest.self, from: Data(request.body)).name
        } else {
            return Self.jsonError("send the name as JSON {\"name\": ...} or as a form field", .unsupportedMediaType)
        }
        guard let text = requested else { return Self.jsonError("the request has no capture name", .badRequest) }
        guard let name = CaptureName(text) else { return Self.invalidName() }
        let result: Result<CaptureStatus, CaptureControlError>
        do { result = .success(try controller.startCapture(named: name)) } catch { result = .failure(error) }
        return captureResponse(result, request: request, status: .created)
    }

    func stopCapture(_ request: HTTPRequest, name text: String) -> HTTPResponse {
        guard let controller = captures else { return .error(.notFound) }
        guard let name = CaptureName(text) else { return Self.invalidName() }
        let result: Result<CaptureStatus, CaptureControlError>
        do { result = .success(try controller.stopCapture(named: name)) } catch { result = .failure(error) }
        return captureResponse(result, request: request, status: .ok)
    }

    func downloadCapture(name text: String) -> HTTPResponse {
        guard let controller = captures else { return .error(.notFound) }
        guard let name = CaptureName(text) else { return Self.invalidName() }
        do {
            let file = try controller.captureFile(named: name)
            return HTTPResponse(status: .ok, headers: [
                "Content-Type": "application/octet-stream",
                // CaptureName admits no quote, backslash or control character.
                "Content-Disposition": "attachment; filename=\"\(file.fileName.rawValue)\"",
            ], body: file.bytes)
        } catch {
            return Self.errorResponse(error)
        }
    }

    /// JSON for API clients; a 303 back to the dashboard for a browser's form post.
    private func captureResponse(_ result: Result<CaptureStatus, CaptureControlError>, request: HTTPRequest,
                                 status: HTTPStatus) -> HTTPResponse
    {
        switch result {
        case .success(let capture):
            if Self.prefersHTML(request) { return HTTPResponse(status: .seeOther, headers: ["Location": "/"]) }
            return Self.json(capture, status: status)
        case .failure(let error):
            return Self.errorResponse(error)
        }
    }

    static func errorResponse(_ error: CaptureControlError) -> HTTPResponse {
        switch error {
        case .notFound: jsonError("no capture has that name", .notFound)
        case .alreadyExists: jsonError("a capture with that name exists already", .conflict)
        case .wrongState(let reason): jsonError(reason, .conflict)
        case .limitReached(let reason): jsonError(reason, .conflict)
        case .failed(let reason): jsonError(reason, .internalServerError)
        }
    }

    static func invalidName() -> HTTPResponse {
        jsonError("a capture name is 1 to \(CaptureName.maximumLength) characters from A-Z a-z 0-9 . _ - "
            + "and does not start with \".\"", .badRequest)
    }

    static func jsonError(_ message: String, _ status: HTTPStatus) -> HTTPResponse {
        json(ErrorBody(error: message), status: status)
    }
}
