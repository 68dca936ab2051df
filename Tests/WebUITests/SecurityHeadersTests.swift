// Security header tests. Field syntax: RFC 6797 §6.1 (HSTS), RFC 7034
// (X-Frame-Options), CSP Level 3 (frame-ancestors, 'unsafe-inline'), the
// Fetch standard (nosniff) and Referrer Policy.
import Foundation
import Testing
@testable import WebUI

@Suite struct SecurityHeadersTests {
    @Test func defaultFields() {
        var response = HTTPResponse.text("ui")
        SecurityHeaders().apply(to: &response)
        #expect(response.headers["Strict-Transport-Security"] == "max-age=63072000")
        #expect(response.headers["X-Content-Type-Options"] == "nosniff")
        #expect(response.headers["X-Frame-Options"] == "DENY")
        #expect(response.headers["Referrer-Policy"] == "no-referrer")
        let csp = response.headers["Content-Security-Policy"] ?? ""
        let directives = csp.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(directives.contains("default-src 'self'"))
        #expect(directives.contains("frame-ancestors 'none'"))
        #expect(!csp.contains("unsafe-inline"))
        #expect(!csp.contains("unsafe-eval"))
        #expect(!csp.contains("script-src"))
    }

    @Test func includeSubDomainsAndReplacement() {
        var response = HTTPResponse(status: .ok, headers: ["X-Frame-Options": "SAMEORIGIN"])
        SecurityHeaders(hstsMaxAge: 300, hstsIncludeSubDomains: true).apply(to: &response)
        #expect(response.headers["Strict-Transport-Security"] == "max-age=300; includeSubDomains")
        #expect(response.headers.values(for: "X-Frame-Options") == ["DENY"])
    }

    @Test func fieldsSurviveSerialization() {
        var response = HTTPResponse.text("ui")
        SecurityHeaders().apply(to: &response)
        var output: [UInt8] = []
        HTTPResponseSerializer.serialize(response, isHEAD: false, persistence: .implicit, date: nil, server: nil,
                                         into: &output)
        let text = String(decoding: output, as: UTF8.self)
        for field in SecurityHeaders().fields {
            #expect(text.contains("\r\n\(field.name): \(field.value)\r\n"), "\(field.name)")
        }
    }
}
