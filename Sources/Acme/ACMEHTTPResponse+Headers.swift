import Foundation
import CapnetBase

/// A `Link` header entry (RFC 8288 §3): target URL and relation type.
public struct HTTPLink: Equatable, Sendable {
    public var url: String
    public var relation: String
}

extension ACMEHTTPResponse {
    /// The `Replay-Nonce` value (RFC 8555 §6.5.1), if present and made of
    /// base64url characters only.
    var replayNonce: String? {
        guard let nonce = header("Replay-Nonce"), !nonce.isEmpty,
              nonce.unicodeScalars.allSatisfy(Self.isBase64URLCharacter) else { return nil }
        return nonce
    }

    /// Returns the delay a `Retry-After` header requests (RFC 9110 §10.2.3): either
    /// delta-seconds or an HTTP-date, measured from `now`. Dates in the past
    /// give zero.
    func retryAfter(now: Date) -> Nanoseconds? {
        guard let value = header("Retry-After")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Int64(value), seconds >= 0 {
            return .seconds(min(seconds, Self.maxRetryAfterSeconds))
        }
        guard let date = Self.httpDate(value) else { return nil }
        let seconds = max(0, date.timeIntervalSince(now))
        return Nanoseconds(Int64(min(seconds, Double(Self.maxRetryAfterSeconds)) * 1e9))
    }

    /// Every `Link` entry across all `Link` headers.
    var links: [HTTPLink] {
        headerValues("Link").flatMap(Self.parseLinks)
    }

    /// Caps a Retry-After value so that arithmetic on it cannot overflow:
    /// one year exceeds any wait an ACME server requests.
    static let maxRetryAfterSeconds: Int64 = 365 * 24 * 3600

    private static func isBase64URLCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "-", "_": true
        default: false
        }
    }

    /// Parses the IMF-fixdate form of HTTP-date (RFC 9110 §5.6.7), the only
    /// form senders may generate.
    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.date(from: text)
    }

    /// Parses one `Link` header value: `<url>; rel="x"; a=b, <url2>; rel=y`.
    /// Entries without a `rel` parameter are skipped.
    static func parseLinks(_ value: String) -> [HTTPLink] {
        var links: [HTTPLink] = []
        var rest = Substring(value)
        while let open = rest.firstIndex(of: "<") {
            guard let close = rest[open...].firstIndex(of: ">") else { break }
            let url = String(rest[rest.index(after: open)..<close])
            rest = rest[rest.index(after: close)...]

            // Parameters run to the next comma outside a quoted string.
            var parameters = ""
            var inQuotes = false
            var end = rest.endIndex
            for index in rest.indices {
                let character = rest[index]
                if character == "\"" { inQuotes.toggle() }
                if character == ",", !inQuotes {
                    end = index
                    break
                }
                parameters.append(character)
            }
            rest = end == rest.endIndex ? rest[end...] : rest[rest.index(after: end)...]

            for parameter in parameters.split(separator: ";") {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                guard pair.count == 2,
                      pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "rel" else { continue }
                let relation = pair[1].trimmingCharacters(in: .whitespaces)
                    .trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                // RFC 8288 §3.3: rel may hold several space-separated types.
                for type in relation.split(separator: " ") {
                    links.append(HTTPLink(url: url, relation: String(type)))
                }
            }
        }
        return links
    }
}
