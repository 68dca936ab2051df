// Authentication: the admin token as a bearer token (RFC 6750 §2.1), or
// through the login form, which starts a cookie session. Form posts also
// pass a same-origin check against cross-site request forgery.
import Foundation

extension WebApplication {
    enum Credential: Equatable {
        case bearer
        case session(String)
    }

    struct Rejection: Error {
        var response: HTTPResponse
    }

    /// Returns the request's credential, or the response that rejects it: 401 with
    /// a Bearer challenge for API clients, 303 to /login for browsers.
    func authenticate(_ request: HTTPRequest) -> Result<Credential, Rejection> {
        if let authorization = request.headers["Authorization"] {
            if let presented = Self.bearerToken(authorization), token.matches(presented) {
                return .success(.bearer)
            }
            countAuthenticationFailure()
            Self.log.info("rejected a request with a wrong Authorization header", "path=\(request.path ?? "")")
            // RFC 6750 §3.1: invalid_token for a token that is not accepted.
            return .failure(Rejection(response: Self.unauthorized(challenge: "Bearer realm=\"capnet\", error=\"invalid_token\"")))
        }
        if let id = Self.cookie(Self.sessionCookieName, in: request.headers) {
            let now = clock.now()
            if withSessions({ $0.isValid(id, now: now) }) { return .success(.session(id)) }
        }
        countAuthenticationFailure()
        if Self.prefersHTML(request) {
            return .failure(Rejection(response: HTTPResponse(status: .seeOther, headers: ["Location": "/login"])))
        }
        return .failure(Rejection(response: Self.unauthorized(challenge: "Bearer realm=\"capnet\"")))
    }

    static func unauthorized(challenge: String) -> HTTPResponse {
        var response = HTTPResponse.text("Authentication required: send the admin token as a Bearer token.\n",
                                         status: .unauthorized)
        response.headers.set(name: "WWW-Authenticate", value: challenge)
        return response
    }

    /// Extracts the token of `Bearer <token>`. The scheme is case-insensitive (RFC 9110 §11.1).
    static func bearerToken(_ value: String) -> String? {
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, ASCII.caseInsensitiveEquals(String(parts[0]), "Bearer") else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// Returns the value of cookie `name` in the Cookie fields (RFC 6265 §5.4).
    static func cookie(_ name: String, in headers: HTTPHeaders) -> String? {
        for field in headers.values(for: "Cookie") {
            for pair in field.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { continue }
                if parts[0].trimmingCharacters(in: .whitespaces) == name {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }

    /// Checks whether the client is a browser navigating: its Accept lists text/html.
    static func prefersHTML(_ request: HTTPRequest) -> Bool {
        request.headers.listValues(for: "Accept").contains {
            $0.lowercased().hasPrefix("text/html")
        }
    }

    /// Checks that a post comes from this UI's own origin: Origin, or when
    /// a browser sent none, Referer, must name `scheme://Host`. A post
    /// with neither is rejected.
    func isSameOrigin(_ request: HTTPRequest) -> Bool {
        guard let host = request.headers["Host"], !host.isEmpty else { return false }
        let expected = (configuration.scheme + "://" + host).lowercased()
        if let origin = request.headers["Origin"] {
            return origin.lowercased() == expected
        }
        if let referer = request.headers["Referer"]?.lowercased() {
            return referer == expected || referer.hasPrefix(expected + "/")
        }
        return false
    }

    static func sessionCookie(_ id: String) -> String {
        "\(sessionCookieName)=\(id); \(sessionCookieAttributes)"
    }

    /// Replaces the browser's cookie with an expired empty one (RFC 6265 §3.1).
    static var expiredSessionCookie: String {
        "\(sessionCookieName)=; \(sessionCookieAttributes); Max-Age=0"
    }

    // MARK: - Routes

    func loginPage(_ request: HTTPRequest) -> HTTPResponse {
        .text(LoginPage().render(), contentType: Self.htmlContentType)
    }

    func login(_ request: HTTPRequest) -> HTTPResponse {
        guard Self.isFormEncoded(request) else {
            return .text("Send the token as application/x-www-form-urlencoded.\n", status: .unsupportedMediaType)
        }
        guard let form = QueryParameters(rawQuery: String(decoding: request.body, as: UTF8.self)) else {
            return .error(.badRequest)
        }
        // NOTE: failed logins are counted but not rate-limited; guessing a
        // 256-bit token is infeasible, and a lockout would lock out the operator too.
        guard let presented = form["token"], token.matches(presented) else {
            countLogin(succeeded: false)
            Self.log.info("login with a wrong token")
            return .text(LoginPage(message: "That token is not the admin token.").render(), status: .unauthorized,
                         contentType: Self.htmlContentType)
        }
        let now = clock.now()
        let id = withSessions { $0.create(now: now) }
        countLogin(succeeded: true)
        Self.log.info("login", "sessions=\(withSessions { $0.count })")
        return HTTPResponse(status: .seeOther, headers: ["Location": "/", "Set-Cookie": Self.sessionCookie(id)])
    }

    func logout(_ request: HTTPRequest) -> HTTPResponse {
        if let id = Self.cookie(Self.sessionCookieName, in: request.headers) {
            withSessions { $0.remove(id) }
        }
        return HTTPResponse(status: .seeOther, headers: ["Location": "/login",
                                                          "Set-Cookie": Self.expiredSessionCookie])
    }

    static let htmlContentType = "text/html; charset=utf-8"

    static func isFormEncoded(_ request: HTTPRequest) -> Bool {
        guard let type = request.headers["Content-Type"] else { return false }
        let mediaType = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return ASCII.caseInsensitiveEquals(mediaType, "application/x-www-form-urlencoded")
    }
}
