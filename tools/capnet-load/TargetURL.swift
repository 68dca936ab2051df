/// The `https://HOST:PORT/PATH` URL a run sends load to.
struct TargetURL: Equatable, Sendable, CustomStringConvertible {
    static let defaultPort: UInt16 = 443

    /// Host name or IP literal, without the brackets of an IPv6 literal.
    var host: String
    var port: UInt16
    /// Request target of the GET, starting with `/`.
    var path: String
    var hostIsIPLiteral: Bool

    /// Parses an https URL. Only the `https` scheme is accepted, user info and
    /// fragments are rejected, and the path defaults to `/`.
    init(parsing text: String) throws(UsageError) {
        let scheme = "https://"
        guard text.lowercased().hasPrefix(scheme) else {
            throw UsageError("invalid URL '\(text)': it must start with https://, as in https://127.0.0.1:4433/")
        }
        let rest = text.dropFirst(scheme.count)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = String(rest[..<authorityEnd])
        var pathPart = String(rest[authorityEnd...])
        if pathPart.contains("#") {
            throw UsageError("invalid URL '\(text)': a fragment (#...) is not sent to servers, remove it")
        }
        if pathPart.isEmpty { pathPart = "/" }
        if pathPart.hasPrefix("?") { pathPart = "/" + pathPart }
        guard pathPart.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw UsageError("invalid URL '\(text)': the path must be ASCII without spaces (percent-encode other bytes)")
        }
        if authority.contains("@") {
            throw UsageError("invalid URL '\(text)': user names and passwords in URLs are not supported")
        }

        var hostPart: Substring
        var portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw UsageError("invalid URL '\(text)': the IPv6 literal has no closing ']'")
            }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else {
                    throw UsageError("invalid URL '\(text)': expected ':PORT' after the IPv6 literal")
                }
                portPart = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        } else {
            hostPart = Substring(authority)
        }

        guard !hostPart.isEmpty else {
            throw UsageError("invalid URL '\(text)': the host is missing")
        }
        let isIPv6 = authority.hasPrefix("[")
        let hostCharacters = isIPv6 ? "0123456789abcdefABCDEF:." : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"
        guard hostPart.allSatisfy({ hostCharacters.contains($0) }) else {
            throw UsageError("invalid URL '\(text)': invalid character in host '\(hostPart)'")
        }

        var port = Self.defaultPort
        if let portPart {
            guard let value = UInt16(portPart), value > 0, portPart.allSatisfy(\.isASCII) else {
                throw UsageError("invalid URL '\(text)': invalid port '\(portPart)', expected a number from 1 to 65535")
            }
            port = value
        }

        host = String(hostPart)
        self.port = port
        path = pathPart
        hostIsIPLiteral = isIPv6 || hostPart.allSatisfy({ $0.isNumber || $0 == "." })
    }

    /// The value of the HTTP `Host` header (RFC 9110 section 7.2).
    var hostHeader: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return port == Self.defaultPort ? bracketed : "\(bracketed):\(port)"
    }

    var description: String { "https://\(hostHeader)\(path)" }
}

/// A command line that cannot be run, with a message that names the value.
struct UsageError: Error, Equatable, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
