import NetStack

/// An `https` URL split into what a connection needs: the host (for the
/// TLS server name and the Host field), the port, and the request target.
public struct HTTPSRequestTarget: Equatable, Sendable {
    public static let defaultPort: UInt16 = 443

    public var host: String
    public var port: UInt16
    /// The path and query, "/" when the URL has none (RFC 9112 §3.2.1).
    public var pathAndQuery: String

    /// The host as an IPv4 address, when the URL names one.
    public var address: IPv4Address? { IPv4Address(host) }

    /// The Host field value: the port appears only when it is not 443.
    var hostField: String { port == Self.defaultPort ? host : "\(host):\(port)" }

    /// Parses `https://host[:port][/path][?query]`. Anything else (another
    /// scheme, user information, an IPv6 literal, a bad port) is an error
    /// that names the URL.
    public init(url: String) throws(ACMEError) {
        let prefix = "https://"
        guard url.lowercased().hasPrefix(prefix) else {
            throw .invalidConfiguration("URL \(url) is not https://; ACME servers are reached over HTTPS only")
        }
        let rest = url.dropFirst(prefix.count)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if let fragment = target.firstIndex(of: "#") { target = String(target[..<fragment]) }
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }

        guard !authority.contains("@") else {
            throw .invalidConfiguration("URL \(url) carries user information; remove the part before '@'")
        }
        guard !authority.hasPrefix("[") else {
            throw .invalidConfiguration("URL \(url) names an IPv6 address; this stack speaks IPv4 only")
        }
        var host = Substring(authority)
        var port = Self.defaultPort
        if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            let portText = authority[authority.index(after: colon)...]
            guard let parsed = UInt16(portText), parsed != 0 else {
                throw .invalidConfiguration("URL \(url) has port \"\(portText)\"; give a number from 1 to 65535")
            }
            port = parsed
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") })
        else {
            throw .invalidConfiguration("URL \(url) has host \"\(host)\"; give a DNS name or an IPv4 address")
        }
        // A trailing dot (the absolute form of a DNS name) names the same host.
        while host.hasSuffix(".") { host = host.dropLast() }
        self.host = host.lowercased()
        self.port = port
        pathAndQuery = target
    }

    /// The request head and body as sent: origin-form target, Host, a
    /// User-Agent (RFC 8555 §6.1 requires one), and
    /// `Connection: close`, since each exchange uses its own connection.
    func encode(_ request: ACMEHTTPRequest, userAgent: String) -> [UInt8] {
        var head = "\(request.method) \(pathAndQuery) HTTP/1.1\r\n"
        head += "Host: \(hostField)\r\n"
        head += "User-Agent: \(userAgent)\r\n"
        head += "Connection: close\r\n"
        var hasAccept = false
        for field in request.headers where !Self.managedFields.contains(field.name.lowercased()) {
            head += "\(field.name): \(field.value)\r\n"
            if field.name.lowercased() == "accept" { hasAccept = true }
        }
        if !hasAccept { head += "Accept: */*\r\n" }
        if !request.body.isEmpty || request.method == "POST" {
            head += "Content-Length: \(request.body.count)\r\n"
        }
        head += "\r\n"
        return Array(head.utf8) + request.body
    }

    /// Fields the encoder writes itself; a caller's copies are dropped.
    private static let managedFields: Set<String> = ["host", "user-agent", "connection", "content-length",
                                                     "transfer-encoding"]
}
