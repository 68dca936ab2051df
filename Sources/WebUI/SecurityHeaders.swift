// Response fields that harden the HTTPS Web UI in browsers: HSTS, a
// Content Security Policy that allows no inline script, no MIME sniffing,
// no framing, and no Referer to other sites.

public struct SecurityHeaders: Hashable, Sendable {
    /// Two years, in seconds: the HSTS max-age browsers' preload lists ask for.
    public static let defaultHSTSMaxAge = 63_072_000

    /// Strict-Transport-Security max-age in seconds (RFC 6797 §6.1.1).
    public var hstsMaxAge: Int
    /// Adds includeSubDomains (RFC 6797 §6.1.2). Off by default because it
    /// also binds every other host under the UI's domain to HTTPS.
    public var hstsIncludeSubDomains: Bool
    /// Content-Security-Policy (CSP Level 3). The default allows scripts,
    /// styles and images from the UI's own origin only, so no inline script
    /// runs, and denies framing with frame-ancestors 'none'.
    public var contentSecurityPolicy: String
    /// Referrer-Policy value.
    public var referrerPolicy: String

    public static let defaultContentSecurityPolicy =
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

    public init(hstsMaxAge: Int = SecurityHeaders.defaultHSTSMaxAge, hstsIncludeSubDomains: Bool = false,
                contentSecurityPolicy: String = SecurityHeaders.defaultContentSecurityPolicy,
                referrerPolicy: String = "no-referrer")
    {
        self.hstsMaxAge = hstsMaxAge
        self.hstsIncludeSubDomains = hstsIncludeSubDomains
        self.contentSecurityPolicy = contentSecurityPolicy
        self.referrerPolicy = referrerPolicy
    }

    /// The fields, in the order they are sent.
    public var fields: [HTTPField] {
        [
            HTTPField(name: "Strict-Transport-Security",
                      value: "max-age=\(hstsMaxAge)" + (hstsIncludeSubDomains ? "; includeSubDomains" : "")),
            HTTPField(name: "Content-Security-Policy", value: contentSecurityPolicy),
            HTTPField(name: "X-Content-Type-Options", value: "nosniff"),
            // For browsers without CSP frame-ancestors (RFC 7034).
            HTTPField(name: "X-Frame-Options", value: "DENY"),
            HTTPField(name: "Referrer-Policy", value: referrerPolicy),
        ]
    }

    /// Sets each field on `response`, replacing any the handler set.
    /// Only for responses sent over HTTPS: browsers ignore HSTS over plain
    /// HTTP (RFC 6797 §8.1).
    public func apply(to response: inout HTTPResponse) {
        for field in fields { response.headers.set(name: field.name, value: field.value) }
    }
}
