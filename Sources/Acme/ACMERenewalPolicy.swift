import Foundation
import CapnetBase

/// When to renew a certificate: inside the CA's ACME Renewal Information
/// window when the directory offers `renewalInfo` (RFC 9773), otherwise
/// after two thirds of the validity period.
public enum ACMERenewalPolicy {
    /// Fraction of the lifetime after which a certificate is renewed when the
    /// CA offers no renewal information. Two thirds leaves a third of the
    /// lifetime for retries before the certificate expires.
    public static let lifetimeFractionNumerator: Int64 = 2
    public static let lifetimeFractionDenominator: Int64 = 3

    /// Returns the ARI certificate identifier (RFC 9773 §4.1):
    /// base64url(AKI keyIdentifier) "." base64url(serial contents octets).
    public static func certificateIdentifier(authorityKeyIdentifier: [UInt8], serialNumber: [UInt8]) -> String {
        Base64URL.encode(authorityKeyIdentifier) + "." + Base64URL.encode(serialNumber)
    }

    /// Returns the identifier for `certificate`, or nil without an AKI keyIdentifier.
    public static func certificateIdentifier(_ certificate: CertificateInfo) -> String? {
        guard let keyIdentifier = certificate.authorityKeyIdentifier, !keyIdentifier.isEmpty else { return nil }
        return certificateIdentifier(authorityKeyIdentifier: keyIdentifier, serialNumber: certificate.serialNumber)
    }

    /// Returns notBefore plus two thirds of the validity period, rounded down to a
    /// whole second so that the state file stores it exactly.
    public static func lifetimeRenewalTime(notBefore: Date, notAfter: Date) -> Date {
        let lifetime = notAfter.timeIntervalSince(notBefore)
        let fraction = Double(lifetimeFractionNumerator) / Double(lifetimeFractionDenominator)
        return Date(timeIntervalSince1970: notBefore.addingTimeInterval(lifetime * fraction).timeIntervalSince1970.rounded(.down))
    }

    /// Returns a uniformly random time inside the suggested window (RFC 9773 §4.2),
    /// so that clients do not all renew at its start. Nil for an invalid
    /// window (end not after start, or unparsable times).
    public static func renewalTime(in window: ACMERenewalInfo.Window,
                                   using random: inout some RandomNumberGenerator) -> Date? {
        guard let start = parseTimestamp(window.start), let end = parseTimestamp(window.end), start < end else {
            return nil
        }
        let offset = Double.random(in: 0..<end.timeIntervalSince(start), using: &random)
        // Whole seconds, so that the state file stores the time exactly.
        let chosen = start.addingTimeInterval(offset).timeIntervalSince1970.rounded(.down)
        return Date(timeIntervalSince1970: max(chosen, start.timeIntervalSince1970))
    }

    /// Parses an RFC 3339 timestamp with or without fractional seconds.
    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}

extension ACMEClient {
    /// Fetches the renewal information for `certificateIdentifier`
    /// (RFC 9773 §4.2): an unauthenticated GET of renewalInfo "/" id.
    /// Returns nil when the directory has no `renewalInfo`. The second value
    /// is the Retry-After delay before the next fetch, when sent.
    public func fetchRenewalInfo(certificateIdentifier: String) async throws -> (ACMERenewalInfo, Nanoseconds?)? {
        guard let base = try await loadDirectory().renewalInfo else { return nil }
        let url = base.hasSuffix("/") ? base + certificateIdentifier : base + "/" + certificateIdentifier
        let response = try await sendUnsigned(ACMEHTTPRequest(method: "GET", url: url))
        let info = try decode(ACMERenewalInfo.self, from: response, url: url)
        return (info, response.retryAfter(now: clock.now()))
    }

    /// Chooses a time inside `window` with the client's generator.
    func chooseRenewalTime(in window: ACMERenewalInfo.Window) -> Date? {
        ACMERenewalPolicy.renewalTime(in: window, using: &random)
    }
}
