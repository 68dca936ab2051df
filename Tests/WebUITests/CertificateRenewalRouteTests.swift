// The "renew now" route for an ACME-managed certificate.
import Testing
@testable import WebUI

@Suite struct CertificateRenewalRouteTests {
    @Test func renewalIsAcceptedOnceWhileIssuing() {
        var requests = 0
        var issuing = false
        let app = makeApplication(renewCertificate: {
            requests += 1
            guard !issuing else { return false }
            issuing = true
            return true
        })
        let first = app.handle(makeRequest(.POST, "/api/certificates/renew", headers: [bearer]))
        #expect(first.status == .accepted)
        #expect(first.bodyText == "{\"state\":\"issuing\"}")
        let second = app.handle(makeRequest(.POST, "/api/certificates/renew", headers: [bearer]))
        #expect(second.status == .conflict)
        #expect(requests == 2)
    }

    @Test func renewalNeedsTheAdmin() {
        var requests = 0
        let app = makeApplication(renewCertificate: {
            requests += 1
            return true
        })
        let anonymous = app.handle(makeRequest(.POST, "/api/certificates/renew"))
        #expect(anonymous.status == .unauthorized)
        #expect(requests == 0)
    }

    @Test func browserFormRedirectsAndDashboardOffersTheButton() {
        let app = makeApplication(renewCertificate: { true })
        let response = app.handle(makeRequest(.POST, "/api/certificates/renew",
                                              headers: [bearer, ("Accept", "text/html")]))
        #expect(response.status == .seeOther)
        #expect(response.headers["Location"] == "/")
        let page = app.handle(makeRequest(.GET, "/", headers: [bearer])).bodyText
        #expect(page.contains("action=\"/api/certificates/renew\""))
    }

    @Test func withoutACMEThereIsNoRoute() {
        let app = makeApplication()
        #expect(app.handle(makeRequest(.POST, "/api/certificates/renew", headers: [bearer])).status == .notFound)
        #expect(!app.handle(makeRequest(.GET, "/", headers: [bearer])).bodyText.contains("Renew now"))
    }
}
